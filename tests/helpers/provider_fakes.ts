/**
 * Fake upstreams that behave like the real providers: each one rejects what its provider
 * rejects, with that provider's real status and error shape, and streams in that provider's
 * own style. Tests describe what the model says (a `Turn`); each fake says it in its dialect.
 *
 * Shapes are taken from the providers' documentation and from errors quoted in public bug
 * reports (linked per fake). They are a floor, not a full emulation: a request a fake accepts
 * may still fail upstream, but one it rejects certainly would.
 */
import Anthropic from "@anthropic-ai/sdk";
import { startProxy, TEST_CLIENT_KEY, type TestProxy } from "./proxy.ts";
import {
  type FakeUpstream,
  type Recorded,
  type Reply,
  splitText,
  type SseStep,
  startFakeUpstream,
} from "./fake_upstream.ts";

// ---------------------------------------------------------------------------------------------
// What a test scripts: one model turn, in neutral terms, or a raw reply for special cases.

export type Call = {
  name: string;
  /** An object is sent as JSON; a string is sent verbatim (for malformed-argument tests). */
  args: Record<string, unknown> | string;
  /** The id the provider gives it; the fake makes one in its own format when omitted. */
  id?: string;
};

export type Turn = {
  reasoning?: string;
  content?: string;
  calls?: Call[];
  finish?: string;
  /** Token counts to report; null reports none. */
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
};

export type Answer = Turn | Reply;
export type Responder = (req: Recorded, index: number) => Answer;

export type Rejection = { index: number; status: number; body: unknown };

export type ProviderFake = FakeUpstream & {
  /** Requests the fake refused, with what it answered. */
  rejections: Rejection[];
};

// Loosely typed views of what the proxy sends; fields are checked before use.
export type ChatToolCall = {
  id?: unknown;
  type?: unknown;
  function?: { name?: unknown; arguments?: unknown; [k: string]: unknown };
  extra_content?: unknown;
  [k: string]: unknown;
};
export type ChatMessage = {
  role?: unknown;
  content?: unknown;
  tool_calls?: ChatToolCall[];
  tool_call_id?: unknown;
  [k: string]: unknown;
};
export type ChatBody = {
  model?: unknown;
  messages?: ChatMessage[];
  tools?: { type?: unknown; function?: { name?: unknown; parameters?: unknown } }[];
  stream?: unknown;
  stream_options?: unknown;
  [k: string]: unknown;
};

export function bodyOf(req: Recorded): ChatBody {
  const b: unknown = req.body;
  return b !== null && typeof b === "object" && !Array.isArray(b) ? (b as ChatBody) : {};
}

const isReply = (a: Answer): a is Reply =>
  "sse" in a || "json" in a || "text" in a || "reset" in a || "stall" in a;

export const argsText = (c: Call) => (typeof c.args === "string" ? c.args : JSON.stringify(c.args));

export const includeUsage = (b: ChatBody) =>
  typeof b.stream_options === "object" && b.stream_options !== null &&
  (b.stream_options as { include_usage?: unknown }).include_usage === true;

const CREATED = 1_700_000_000;
const DEFAULT_USAGE = { prompt_tokens: 21, completion_tokens: 9 };

export function finishOf(turn: Turn): string {
  return turn.finish ?? (turn.calls?.length ? "tool_calls" : "stop");
}

export function usageOf(turn: Turn) {
  const u = turn.usage === undefined ? DEFAULT_USAGE : turn.usage;
  return u === null ? null : { ...u, total_tokens: u.prompt_tokens + u.completion_tokens };
}

/** Pseudo-random but deterministic ids, so runs are repeatable. */
export function idMaker(alphabet: string, length: number, prefix = "") {
  let n = 0;
  return () => {
    n++;
    let x = n * 2_654_435_761 % 4_294_967_296;
    let out = "";
    for (let i = 0; i < length; i++) {
      out += alphabet[x % alphabet.length];
      x = Math.floor(x / alphabet.length) + (i + 1) * 7919;
    }
    return prefix + out;
  };
}
export const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

// ---------------------------------------------------------------------------------------------
// The shared machinery: validate, then answer (streamed or not) in the provider's style.

export type Dialect = {
  /** An error reply when the provider would refuse the request. */
  validate: (req: Recorded) => Reply | undefined;
  stream: (turn: Turn, req: Recorded) => SseStep[];
  complete: (turn: Turn, req: Recorded) => unknown;
};

export async function startDialect(dialect: Dialect, respond: Responder): Promise<ProviderFake> {
  const rejections: Rejection[] = [];
  const fake = await startFakeUpstream((req, index) => {
    const refusal = dialect.validate(req);
    if (refusal) {
      rejections.push({
        index,
        status: "status" in refusal ? refusal.status ?? 200 : 0,
        body: "json" in refusal ? refusal.json : undefined,
      });
      return refusal;
    }
    const answer = respond(req, index);
    if (isReply(answer)) return answer;
    if (bodyOf(req).stream === true) return { sse: dialect.stream(answer, req) };
    return { json: dialect.complete(answer, req) };
  });
  return Object.assign(fake, { rejections });
}

/** The OpenAI-style chunk envelope most providers copy. */
export function envelope(model: string, id: string, extra: Record<string, unknown> = {}) {
  return (delta: Record<string, unknown> | null, finish: string | null = null, more = {}) => ({
    id,
    object: "chat.completion.chunk",
    created: CREATED,
    model,
    ...extra,
    choices: delta === null ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...more,
  });
}

/** Tool calls as OpenAI streams them: a header chunk per call, then argument pieces. */
export function streamedCalls(
  calls: Call[],
  makeId: () => string,
  piece: (delta: Record<string, unknown>) => SseStep,
): SseStep[] {
  const steps: SseStep[] = [];
  calls.forEach((c, index) => {
    steps.push(piece({
      tool_calls: [{
        index,
        id: c.id ?? makeId(),
        type: "function",
        function: { name: c.name, arguments: "" },
      }],
    }));
    for (const part of splitText(argsText(c), 3)) {
      steps.push(piece({ tool_calls: [{ index, function: { arguments: part } }] }));
    }
  });
  return steps;
}

export function completionBody(
  turn: Turn,
  model: string,
  message: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: CREATED,
    model,
    choices: [{
      index: 0,
      message: { role: "assistant", ...message },
      finish_reason: finishOf(turn),
    }],
    usage: usageOf(turn),
    ...extra,
  };
}

export function wholeCalls(calls: Call[] | undefined, makeId: () => string) {
  return calls?.length
    ? calls.map((c) => ({
      id: c.id ?? makeId(),
      type: "function",
      function: { name: c.name, arguments: argsText(c) },
    }))
    : undefined;
}

// ---------------------------------------------------------------------------------------------
// Rules several providers share.

/**
 * Every assistant tool call needs a tool message answering it before the conversation goes on,
 * and every tool message must answer a call. Returns the OpenAI wording of the first breach.
 */
export function toolPairingProblem(messages: ChatMessage[]): string | undefined {
  let pending: string[] = [];
  let open: string[] = [];
  for (const m of messages) {
    if (m.role === "tool") {
      const id = String(m.tool_call_id);
      if (!open.includes(id)) {
        return "Invalid parameter: messages with role 'tool' must be a response to a preceeding " +
          "message with 'tool_calls'.";
      }
      pending = pending.filter((p) => p !== id);
      continue;
    }
    if (pending.length > 0) {
      return "An assistant message with 'tool_calls' must be followed by tool messages responding " +
        `to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${
          pending.join(", ")
        }`;
    }
    open = [];
    if (m.role === "assistant" && m.tool_calls?.length) {
      pending = m.tool_calls.map((c) => String(c.id));
      open = [...pending];
    }
  }
  return undefined;
}

export function bearer(req: Recorded, key: string): boolean {
  return req.headers["authorization"] === `Bearer ${key}`;
}

// ---------------------------------------------------------------------------------------------
// OpenAI — https://platform.openai.com/docs/api-reference/chat/create
// Errors: {"error": {"message", "type", "param", "code"}}; reasoning models reject max_tokens,
// stop and non-default sampling ("Unsupported parameter: 'max_tokens' is not supported with this
// model. Use 'max_completion_tokens' instead."), and other models reject reasoning_effort.

export function openaiError(
  status: number,
  message: string,
  param: string | null,
  code: string | null,
) {
  return { status, json: { error: { message, type: "invalid_request_error", param, code } } };
}

const OPENAI_PARAMS = new Set([
  "model",
  "messages",
  "audio",
  "frequency_penalty",
  "function_call",
  "functions",
  "logit_bias",
  "logprobs",
  "max_completion_tokens",
  "max_tokens",
  "metadata",
  "modalities",
  "n",
  "parallel_tool_calls",
  "prediction",
  "presence_penalty",
  "prompt_cache_key",
  "reasoning_effort",
  "response_format",
  "safety_identifier",
  "seed",
  "service_tier",
  "stop",
  "store",
  "stream",
  "stream_options",
  "temperature",
  "tool_choice",
  "tools",
  "top_logprobs",
  "top_p",
  "user",
  "verbosity",
  "web_search_options",
]);

const OPENAI_MESSAGE_FIELDS: Record<string, Set<string>> = {
  system: new Set(["role", "content", "name"]),
  developer: new Set(["role", "content", "name"]),
  user: new Set(["role", "content", "name"]),
  assistant: new Set([
    "role",
    "content",
    "name",
    "tool_calls",
    "refusal",
    "audio",
    "function_call",
  ]),
  tool: new Set(["role", "content", "tool_call_id"]),
};
const OPENAI_TOOL_CALL_FIELDS = new Set(["id", "type", "function"]);

/** What the fake knows of an OpenAI model, from OpenAI's model pages. */
export function openaiModelRules(model: string) {
  // A fine-tune follows the rules of its base model.
  const m = model.toLowerCase().replace(/^ft:/, "");
  const reasoning = /^(o\d|gpt-5)/.test(m) && !/^gpt-5(\.\d+)?-chat/.test(m);
  return {
    reasoning,
    // o1, o3 and o4-mini refuse parallel_tool_calls outright, even false (reported against the
    // API in langchain#29416, fast-agent#279, llama_index#20865); gpt-5 takes it.
    parallelToolCalls: !/^o\d/.test(m),
    // gpt-5.1 and later default to effort "none", and then take sampling parameters again.
    effortNone: /^gpt-5\.[1-9]/.test(m),
    efforts: /^gpt-5\.[1-9]/.test(m)
      ? ["none", "low", "medium", "high", "xhigh"]
      : /^gpt-5/.test(m)
      ? ["minimal", "low", "medium", "high"]
      : ["low", "medium", "high"],
  };
}

/** The OpenAI request rules; Azure applies the same to the model behind a deployment. */
function openaiRequestProblem(body: ChatBody, model: string): Reply | undefined {
  for (const key of Object.keys(body)) {
    if (!OPENAI_PARAMS.has(key)) {
      return openaiError(400, `Unrecognized request argument supplied: ${key}`, null, null);
    }
  }
  const rules = openaiModelRules(model);
  if (body.parallel_tool_calls !== undefined && !rules.parallelToolCalls) {
    return openaiError(
      400,
      "Unsupported parameter: 'parallel_tool_calls' is not supported with this model.",
      "parallel_tool_calls",
      "unsupported_parameter",
    );
  }
  if (rules.reasoning) {
    if (body.max_tokens !== undefined) {
      return openaiError(
        400,
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        "max_tokens",
        "unsupported_parameter",
      );
    }
    if (body.stop !== undefined) {
      return openaiError(
        400,
        "Unsupported parameter: 'stop' is not supported with this model.",
        "stop",
        "unsupported_parameter",
      );
    }
    const effort = body.reasoning_effort ?? (rules.effortNone ? "none" : "medium");
    for (const key of ["temperature", "top_p"]) {
      const value = body[key];
      if (value === undefined || value === 1) continue;
      if (rules.effortNone && effort === "none") continue;
      return openaiError(
        400,
        `Unsupported value: '${key}' does not support ${value} with this model. Only the default (1) value is supported.`,
        key,
        "unsupported_value",
      );
    }
    if (
      body.reasoning_effort !== undefined && !rules.efforts.includes(String(body.reasoning_effort))
    ) {
      return openaiError(
        400,
        `Invalid value: '${body.reasoning_effort}'. Supported values are: ${
          rules.efforts.map((e) => `'${e}'`).join(", ")
        }.`,
        "reasoning_effort",
        "invalid_value",
      );
    }
  } else if (body.reasoning_effort !== undefined) {
    return openaiError(
      400,
      "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
      "reasoning_effort",
      "unsupported_parameter",
    );
  }
  if (body.stream_options !== undefined && body.stream !== true) {
    return openaiError(
      400,
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      "stream_options",
      null,
    );
  }
  if (Array.isArray(body.stop) && body.stop.length > 4) {
    return openaiError(400, "'stop' must have at most 4 items.", "stop", "array_above_max_length");
  }
  const messages = body.messages ?? [];
  for (const [i, m] of messages.entries()) {
    const allowed = OPENAI_MESSAGE_FIELDS[String(m.role)];
    if (!allowed) {
      return openaiError(
        400,
        `Invalid value: '${String(m.role)}'.`,
        `messages[${i}].role`,
        "invalid_value",
      );
    }
    for (const key of Object.keys(m)) {
      if (!allowed.has(key)) {
        return openaiError(
          400,
          `Additional properties are not allowed ('${key}' was unexpected) - 'messages.${i}'`,
          null,
          null,
        );
      }
    }
    for (const [j, call] of (m.tool_calls ?? []).entries()) {
      for (const key of Object.keys(call)) {
        if (!OPENAI_TOOL_CALL_FIELDS.has(key)) {
          return openaiError(
            400,
            `Additional properties are not allowed ('${key}' was unexpected) - 'messages.${i}.tool_calls.${j}'`,
            null,
            null,
          );
        }
      }
    }
  }
  const pairing = toolPairingProblem(messages);
  if (pairing) return openaiError(400, pairing, "messages", null);
  return undefined;
}

function openaiStream(
  turn: Turn,
  body: ChatBody,
  model: string,
  extra: Record<string, unknown> = {},
) {
  const ids = idMaker(ALNUM, 24, "call_");
  const usage = includeUsage(body);
  const env = envelope(model, "chatcmpl-fake", {
    system_fingerprint: "fp_fake",
    ...extra,
    ...(usage ? { usage: null } : {}),
  });
  const steps: SseStep[] = [env({ role: "assistant", content: "", refusal: null })];
  if (turn.content) {
    for (const part of splitText(turn.content, 3)) steps.push(env({ content: part }));
  }
  steps.push(...streamedCalls(turn.calls ?? [], ids, (d) => env(d)));
  steps.push(env({}, finishOf(turn)));
  const u = usageOf(turn);
  if (usage && u) steps.push(env(null, null, { usage: u }));
  return steps;
}

export type OpenAIFakeOptions = { key: string };

export function startOpenAIFake(
  opts: OpenAIFakeOptions,
  respond: Responder,
): Promise<ProviderFake> {
  const ids = idMaker(ALNUM, 24, "call_");
  return startDialect({
    validate(req) {
      if (!bearer(req, opts.key)) {
        return {
          status: 401,
          json: {
            error: {
              message:
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
              type: "invalid_request_error",
              param: null,
              code: "invalid_api_key",
            },
          },
        };
      }
      if (req.path !== "/v1/chat/completions") {
        return openaiError(404, `Invalid URL (POST ${req.path})`, null, null);
      }
      const body = bodyOf(req);
      return openaiRequestProblem(body, String(body.model));
    },
    stream: (turn, req) => openaiStream(turn, bodyOf(req), String(bodyOf(req).model)),
    complete: (turn, req) =>
      completionBody(turn, String(bodyOf(req).model), {
        content: turn.content ?? null,
        refusal: null,
        ...(turn.calls?.length ? { tool_calls: wholeCalls(turn.calls, ids) } : {}),
      }),
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// Azure OpenAI — https://learn.microsoft.com/azure/ai-foundry/openai/reference
// `api-key` header; deployment URLs need `api-version`, the `/openai/v1` API takes none (a dated
// one is answered 404 like a wrong path). Errors: {"error": {"code", "message"}}. Streams open
// with a chunk without choices that carries the prompt's content-filter results.

export type AzureFakeOptions = {
  key: string;
  /** Deployment name → the model behind it. */
  deployments: Record<string, string>;
};

const AZURE_FILTER = {
  hate: { filtered: false, severity: "safe" },
  self_harm: { filtered: false, severity: "safe" },
  sexual: { filtered: false, severity: "safe" },
  violence: { filtered: false, severity: "safe" },
};

export function startAzureFake(opts: AzureFakeOptions, respond: Responder): Promise<ProviderFake> {
  const ids = idMaker(ALNUM, 24, "call_");
  const modelOf = (req: Recorded): string | undefined => {
    const url = new URL(req.path, "http://fake");
    const m = url.pathname.match(/^\/openai\/deployments\/([^/]+)\/chat\/completions$/);
    const deployment = m ? decodeURIComponent(m[1]!) : String(bodyOf(req).model);
    return opts.deployments[deployment];
  };
  return startDialect({
    validate(req) {
      const notFound = {
        status: 404,
        json: { error: { code: "404", message: "Resource not found" } },
      };
      const url = new URL(req.path, "http://fake");
      const version = url.searchParams.get("api-version");
      const v1 = url.pathname === "/openai/v1/chat/completions";
      const deploymentPath = /^\/openai\/deployments\/[^/]+\/chat\/completions$/.test(url.pathname);
      if (!v1 && !deploymentPath) return notFound;
      if (deploymentPath && !version) return notFound;
      if (v1 && version !== null && /^\d{4}-\d{2}-\d{2}/.test(version)) return notFound;
      if (req.headers["api-key"] !== opts.key) {
        return {
          status: 401,
          json: {
            error: {
              code: "401",
              message: "Access denied due to invalid subscription key or wrong API endpoint. " +
                "Make sure to provide a valid key for an active subscription and use a correct " +
                "regional API endpoint for your resource.",
            },
          },
        };
      }
      const model = modelOf(req);
      if (!model) {
        return {
          status: 404,
          json: {
            error: {
              code: "DeploymentNotFound",
              message: "The API deployment for this resource does not exist. If you created the " +
                "deployment within the last 5 minutes, please wait a moment and try again.",
            },
          },
        };
      }
      return openaiRequestProblem(bodyOf(req), model);
    },
    stream(turn, req) {
      const model = modelOf(req) ?? "";
      const steps: SseStep[] = [{
        choices: [],
        created: 0,
        id: "",
        model: "",
        object: "",
        prompt_filter_results: [{ prompt_index: 0, content_filter_results: AZURE_FILTER }],
      }];
      return [...steps, ...openaiStream(turn, bodyOf(req), model)];
    },
    complete: (turn, req) =>
      completionBody(turn, modelOf(req) ?? "", {
        content: turn.content ?? null,
        ...(turn.calls?.length ? { tool_calls: wholeCalls(turn.calls, ids) } : {}),
      }, { prompt_filter_results: [{ prompt_index: 0, content_filter_results: AZURE_FILTER }] }),
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// OpenRouter — https://openrouter.ai/docs/api-reference/overview
// Streams start with `: OPENROUTER PROCESSING` comments; reasoning comes as `reasoning` text plus
// `reasoning_details` pieces (the last one signed, for Anthropic models); errors after the 200
// arrive as a chunk with `error` and finish_reason "error". 402 when credits run short.

export type OpenRouterFakeOptions = {
  key: string;
  /** Credits, in tokens: a request whose max_tokens exceeds them is answered 402. */
  credits?: number;
  /** Encrypted reasoning (OpenAI, Gemini models) instead of signed reasoning text. */
  encryptedReasoning?: boolean;
  /**
   * OpenAI models: a reasoning summary streamed a few words per chunk, then the encrypted
   * reasoning (recorded from openai/gpt-5 through OpenRouter, as in charmbracelet/fantasy's
   * providertests/testdata/TestOpenRouterThinking/gpt-5).
   */
  summaryReasoning?: boolean;
};

/** The reasoning_details a summarised turn holds, non-streamed (or merged from a stream). */
export function openrouterSummaryDetails(turn: Turn): Record<string, unknown>[] {
  return [
    {
      type: "reasoning.summary",
      summary: turn.reasoning ?? "",
      format: "openai-responses-v1",
      index: 0,
    },
    {
      type: "reasoning.encrypted",
      data: `gAAAA${(turn.reasoning ?? "").length}`,
      id: "rs_fake",
      format: "openai-responses-v1",
      index: 0,
    },
  ];
}

/** The reasoning_details a streamed turn sends, merged as OpenRouter's own SDK merges them. */
export function openrouterDetails(turn: Turn, encrypted = false): Record<string, unknown>[] {
  if (encrypted) {
    return [{
      type: "reasoning.encrypted",
      data: `enc:${turn.reasoning ?? ""}`,
      format: "google-gemini-v1",
      index: 0,
    }];
  }
  return [{
    type: "reasoning.text",
    text: turn.reasoning ?? "",
    signature: `sig:${(turn.reasoning ?? "").length}`,
    format: "anthropic-claude-v1",
    index: 0,
  }];
}

export function startOpenRouterFake(
  opts: OpenRouterFakeOptions,
  respond: Responder,
): Promise<ProviderFake> {
  const ids = idMaker(ALNUM, 24, "toolu_vrtx_");
  const orError = (status: number, message: string, metadata?: unknown) => ({
    status,
    json: {
      error: { message, code: status, ...(metadata ? { metadata } : {}) },
      user_id: "user_fake",
    },
  });
  return startDialect({
    validate(req) {
      if (!bearer(req, opts.key)) return orError(401, "No cookie auth credentials found");
      const body = bodyOf(req);
      const reasoning = body.reasoning as { effort?: unknown; max_tokens?: unknown } | undefined;
      if (reasoning && reasoning.effort !== undefined && reasoning.max_tokens !== undefined) {
        return orError(
          400,
          'Only one of "reasoning.effort" and "reasoning.max_tokens" can be specified',
        );
      }
      const maxTokens = Number(body.max_tokens ?? 0);
      if (opts.credits !== undefined && maxTokens > opts.credits) {
        return orError(
          402,
          `This request requires more credits, or fewer max_tokens. You requested up to ${maxTokens} ` +
            `tokens, but can only afford ${opts.credits}. To increase, visit https://openrouter.ai/settings/credits and upgrade to a paid account`,
        );
      }
      // Anthropic models with thinking on need every tool-calling turn to start with its signed
      // thinking block; OpenRouter rebuilds it from reasoning_details and passes the error on.
      const model = String(body.model);
      if (model.startsWith("anthropic/") && reasoning) {
        for (const [i, m] of (body.messages ?? []).entries()) {
          if (m.role !== "assistant" || !m.tool_calls?.length) continue;
          const details = Array.isArray(m.reasoning_details) ? m.reasoning_details : [];
          const signed = details.some((d) =>
            d && typeof d === "object" && (d as { type?: unknown }).type === "reasoning.text" &&
            typeof (d as { signature?: unknown }).signature === "string"
          );
          if (!signed) {
            return orError(400, "Provider returned error", {
              raw: JSON.stringify({
                type: "error",
                error: {
                  type: "invalid_request_error",
                  message:
                    `messages.${i}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`tool_use\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks).`,
                },
              }),
              provider_name: "Anthropic",
            });
          }
        }
      }
      const pairing = toolPairingProblem(body.messages ?? []);
      if (pairing) return orError(400, pairing);
      return undefined;
    },
    stream(turn, req) {
      const model = String(bodyOf(req).model);
      const env = envelope(model, "gen-fake-1", { provider: "Anthropic" });
      const steps: SseStep[] = [{ raw: ": OPENROUTER PROCESSING\n\n" }, {
        raw: ": OPENROUTER PROCESSING\n\n",
      }];
      if (turn.reasoning && opts.summaryReasoning) {
        const [summary, encrypted] = openrouterSummaryDetails(turn);
        for (const text of splitText(turn.reasoning, 4)) {
          steps.push(env({
            role: "assistant",
            content: "",
            reasoning: text,
            reasoning_details: [{ ...summary, summary: text }],
          }));
        }
        steps.push(
          env({ role: "assistant", content: "", reasoning: null, reasoning_details: [encrypted] }),
        );
      } else if (turn.reasoning) {
        if (opts.encryptedReasoning) {
          steps.push(
            env({
              role: "assistant",
              content: "",
              reasoning_details: openrouterDetails(turn, true),
            }),
          );
        } else {
          const parts = splitText(turn.reasoning, 3);
          parts.forEach((text, i) => {
            const last = i === parts.length - 1;
            steps.push(env({
              role: "assistant",
              content: "",
              reasoning: text,
              reasoning_details: [{
                type: "reasoning.text",
                text,
                ...(last ? { signature: `sig:${turn.reasoning!.length}` } : { signature: null }),
                format: "anthropic-claude-v1",
                index: 0,
              }],
            }));
          });
        }
      }
      if (turn.content) {
        for (const part of splitText(turn.content, 3)) {
          steps.push(env({ role: "assistant", content: part }));
        }
      }
      steps.push(
        ...streamedCalls(
          turn.calls ?? [],
          ids,
          (d) => env({ role: "assistant", content: null, ...d }),
        ),
      );
      steps.push(
        env({ role: "assistant", content: "" }, finishOf(turn), {
          native_finish_reason: finishOf(turn),
        }),
      );
      const u = usageOf(turn);
      if (u) {
        steps.push(
          env({ role: "assistant", content: "" }, null, { usage: { ...u, cost: 0.0001 } }),
        );
      }
      return steps;
    },
    complete(turn, req) {
      const details = !turn.reasoning
        ? undefined
        : opts.summaryReasoning
        ? openrouterSummaryDetails(turn)
        : openrouterDetails(turn, opts.encryptedReasoning);
      return completionBody(turn, String(bodyOf(req).model), {
        content: turn.content ?? "",
        refusal: null,
        reasoning: opts.encryptedReasoning ? null : turn.reasoning ?? null,
        ...(details ? { reasoning_details: details } : {}),
        ...(turn.calls?.length ? { tool_calls: wholeCalls(turn.calls, ids) } : {}),
      }, { provider: "Anthropic" });
    },
  }, respond);
}

/** The chunk OpenRouter sends when the provider fails after the stream has started. */
export function openrouterMidStreamError(message: string, code: string | number = "server_error") {
  return {
    id: "gen-fake-1",
    object: "chat.completion.chunk",
    created: CREATED,
    model: "anthropic/claude-sonnet-4.5",
    provider: "Anthropic",
    error: { code, message },
    choices: [{
      index: 0,
      delta: { content: "" },
      finish_reason: "error",
      native_finish_reason: "error",
    }],
  };
}

// ---------------------------------------------------------------------------------------------
// Ollama — https://github.com/ollama/ollama/blob/main/docs/openai.md
// No key needed (any is accepted). Tool calls arrive whole, all in one chunk, and every one of
// them with `index: 0` (https://github.com/ollama/ollama/issues/15457, seen on 0.20.x); thinking
// models stream `reasoning`; usage only with stream_options.include_usage. Unknown models: 404.

export type OllamaFakeOptions = {
  models: string[];
  /**
   * Models without the thinking capability: a reasoning control for them is a 400
   * `"llama3.1:8b" does not support thinking` (reported in Gitlawb/openclaude#1371).
   */
  noThinking?: string[];
  /** Some Ollama-compatible servers send `arguments` as an object instead of a JSON string. */
  argsAsObject?: boolean;
};

export function startOllamaFake(
  opts: OllamaFakeOptions,
  respond: Responder,
): Promise<ProviderFake> {
  const ids = idMaker("abcdefghijklmnopqrstuvwxyz0123456789", 8, "call_");
  const args = (
    c: Call,
  ) => (opts.argsAsObject && typeof c.args !== "string" ? c.args : argsText(c));
  return startDialect({
    validate(req) {
      if (req.path !== "/v1/chat/completions") return { status: 404, text: "404 page not found" };
      const model = String(bodyOf(req).model);
      if (!opts.models.includes(model)) {
        return {
          status: 404,
          json: {
            error: {
              message: `model "${model}" not found, try pulling it first`,
              type: "api_error",
              param: null,
              code: null,
            },
          },
        };
      }
      const body = bodyOf(req);
      if (
        opts.noThinking?.includes(model) &&
        (body.reasoning_effort !== undefined || body.reasoning !== undefined)
      ) {
        return {
          status: 400,
          json: {
            error: {
              message: `"${model}" does not support thinking`,
              type: "invalid_request_error",
              param: null,
              code: null,
            },
          },
        };
      }
      return undefined;
    },
    stream(turn, req) {
      const body = bodyOf(req);
      const env = envelope(String(body.model), "chatcmpl-428", { system_fingerprint: "fp_ollama" });
      const steps: SseStep[] = [];
      if (turn.reasoning) {
        for (const part of splitText(turn.reasoning, 3)) {
          steps.push(env({ role: "assistant", content: "", reasoning: part }));
        }
      }
      if (turn.content) {
        for (const part of splitText(turn.content, 3)) {
          steps.push(env({ role: "assistant", content: part }));
        }
      }
      if (turn.calls?.length) {
        steps.push(env({
          role: "assistant",
          content: "",
          tool_calls: turn.calls.map((c) => ({
            id: c.id ?? ids(),
            index: 0,
            type: "function",
            function: { name: c.name, arguments: args(c) },
          })),
        }));
      }
      steps.push(env({ role: "assistant", content: "" }, finishOf(turn)));
      const u = usageOf(turn);
      if (includeUsage(body) && u) steps.push(env(null, null, { usage: u }));
      return steps;
    },
    complete: (turn, req) =>
      completionBody(turn, String(bodyOf(req).model), {
        content: turn.content ?? "",
        ...(turn.reasoning ? { reasoning: turn.reasoning } : {}),
        ...(turn.calls?.length
          ? {
            tool_calls: turn.calls.map((c) => ({
              id: c.id ?? ids(),
              type: "function",
              function: { name: c.name, arguments: args(c) },
            })),
          }
          : {}),
      }, { system_fingerprint: "fp_ollama" }),
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// DeepSeek — https://api-docs.deepseek.com/guides/thinking_mode
// Thinking mode (deepseek-reasoner, `thinking: {type: "enabled"}`, V4 by default) streams
// `reasoning_content`. "Between two user messages, if the model performed a tool call, the
// intermediate assistant's reasoning_content must participate in the context concatenation and
// must be passed back to the API in all subsequent user interaction turns": every assistant
// message of such a span, the final answer after the tool results included, must carry it;
// "Missing `reasoning_content` field in the assistant message at message index N" (400)
// otherwise. Usage rides on the last chunk.

export type DeepSeekFakeOptions = { key: string };

const DEEPSEEK_MAX_TOKENS: [RegExp, number][] = [
  [/^deepseek-chat/, 8_192],
  [/^deepseek-reasoner/, 65_536],
  [/^deepseek-(flash|pro|v4)/, 393_216],
];

export function deepseekThinking(body: ChatBody): boolean {
  const model = String(body.model);
  const type = (body.thinking as { type?: unknown } | undefined)?.type;
  if (type === "disabled") return false;
  if (type === "enabled") return true;
  return /^deepseek-reasoner|^deepseek-(flash|pro|v4)/.test(model);
}

export function startDeepSeekFake(
  opts: DeepSeekFakeOptions,
  respond: Responder,
): Promise<ProviderFake> {
  const ids = idMaker("abcdefghijklmnopqrstuvwxyz0123456789", 20, "call_00_");
  const dsError = (message: string, status = 400) => ({
    status,
    json: {
      error: { message, type: "invalid_request_error", param: null, code: "invalid_request_error" },
    },
  });
  return startDialect({
    validate(req) {
      if (!bearer(req, opts.key)) {
        return {
          status: 401,
          json: {
            error: {
              message: "Authentication Fails, Your api key: ****-key is invalid",
              type: "authentication_error",
              param: null,
              code: "invalid_request_error",
            },
          },
        };
      }
      const body = bodyOf(req);
      const model = String(body.model);
      const limit = DEEPSEEK_MAX_TOKENS.find(([re]) => re.test(model))?.[1];
      if (limit === undefined) return dsError("Model Not Exist");
      const maxTokens = body.max_tokens;
      if (
        maxTokens !== undefined &&
        (typeof maxTokens !== "number" || maxTokens < 1 || maxTokens > limit)
      ) {
        return dsError(`Invalid max_tokens value, the valid range of max_tokens is [1, ${limit}]`);
      }
      const thinking = body.thinking as { type?: unknown } | undefined;
      if (thinking !== undefined && thinking.type !== "enabled" && thinking.type !== "disabled") {
        return dsError("thinking.type must be one of: enabled, disabled", 422);
      }
      const effort = body.reasoning_effort;
      if (
        effort !== undefined &&
        !["minimal", "low", "medium", "high", "xhigh", "max"].includes(String(effort))
      ) {
        return dsError(`Invalid reasoning_effort value: ${String(effort)}`);
      }
      const format = (body.response_format as { type?: unknown } | undefined)?.type;
      if (format !== undefined && format !== "text" && format !== "json_object") {
        return dsError("This response_format type is unavailable now");
      }
      if (deepseekThinking(body)) {
        // Thinking mode takes only "auto" and "none" (a 400 seen from the real API).
        const choice = body.tool_choice;
        if (choice !== undefined && choice !== "auto" && choice !== "none") {
          return dsError("Thinking mode does not support this tool_choice");
        }
        const messages = body.messages ?? [];
        // Each span runs from one user message to the next.
        const spanHasCalls = messages.map((_, i) => {
          let start = i;
          while (start > 0 && messages[start]!.role !== "user") start--;
          let end = i + 1;
          while (end < messages.length && messages[end]!.role !== "user") end++;
          return messages.slice(start, end).some((m) =>
            m.role === "assistant" && m.tool_calls?.length
          );
        });
        for (const [i, m] of messages.entries()) {
          if (
            m.role === "assistant" && spanHasCalls[i] && typeof m.reasoning_content !== "string"
          ) {
            return dsError(
              `Missing \`reasoning_content\` field in the assistant message at message index ${i}. ` +
                "For more information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls",
            );
          }
        }
      }
      const pairing = toolPairingProblem(body.messages ?? []);
      if (pairing) return dsError(pairing);
      return undefined;
    },
    stream(turn, req) {
      const body = bodyOf(req);
      const env = envelope(String(body.model), "9b6b1c4e-fake", {
        system_fingerprint: "fp_fake_prod0820",
      });
      const steps: SseStep[] = [env({ role: "assistant", content: null, reasoning_content: "" })];
      if (turn.reasoning) {
        for (const part of splitText(turn.reasoning, 3)) {
          steps.push(env({ content: null, reasoning_content: part }));
        }
      }
      steps.push({ raw: ": keep-alive\n\n" });
      if (turn.content) {
        for (const part of splitText(turn.content, 3)) {
          steps.push(env({ content: part, reasoning_content: null }));
        }
      }
      steps.push(...streamedCalls(turn.calls ?? [], ids, (d) => env({ content: null, ...d })));
      const u = usageOf(turn);
      steps.push(env({ content: "", reasoning_content: null }, finishOf(turn), {
        ...(includeUsage(body) && u
          ? {
            usage: {
              ...u,
              prompt_cache_hit_tokens: 0,
              prompt_cache_miss_tokens: u.prompt_tokens,
              completion_tokens_details: {
                reasoning_tokens: Math.ceil((turn.reasoning ?? "").length / 4),
              },
            },
          }
          : {}),
      }));
      return steps;
    },
    complete: (turn, req) =>
      completionBody(turn, String(bodyOf(req).model), {
        content: turn.content ?? "",
        ...(turn.reasoning ? { reasoning_content: turn.reasoning } : {}),
        ...(turn.calls?.length ? { tool_calls: wholeCalls(turn.calls, ids) } : {}),
      }),
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// Gemini (OpenAI compatibility) — https://ai.google.dev/gemini-api/docs/openai
// Errors come wrapped in a list: [{"error": {"code", "message", "status"}}]. Tool parameters
// must stay inside the OpenAPI subset (https://ai.google.dev/api/caching#Schema): anything else
// is "Invalid JSON payload received. Unknown name …". Gemini 3 signs its function calls
// (`extra_content.google.thought_signature`) and wants the signature back: "Function call is
// missing a thought_signature in functionCall parts" otherwise. Tool calls arrive whole, without
// `index` (and here without id); finish_reason is "stop" even after tool calls.

export type GeminiFakeOptions = {
  key: string;
  /** Sign function calls (Gemini 3 does). */
  thoughtSignatures?: boolean;
};

const GEMINI_SCHEMA_KEYS = new Set([
  "type",
  "format",
  "title",
  "description",
  "nullable",
  "enum",
  "maxItems",
  "minItems",
  "properties",
  "required",
  "minProperties",
  "maxProperties",
  "minLength",
  "maxLength",
  "pattern",
  "example",
  "anyOf",
  "propertyOrdering",
  "items",
  "minimum",
  "maximum",
]);
const GEMINI_STRING_FORMATS = new Set(["enum", "date-time"]);

/** Every complaint Gemini would make about one tool's parameters schema. */
export function geminiSchemaProblems(schema: unknown, at: string): string[] {
  const problems: string[] = [];
  const walk = (s: unknown, path: string) => {
    if (Array.isArray(s)) {
      s.forEach((x, i) => walk(x, `${path}[${i}]`));
      return;
    }
    if (s === null || typeof s !== "object") return;
    const o = s as Record<string, unknown>;
    for (const [key, value] of Object.entries(o)) {
      if (!GEMINI_SCHEMA_KEYS.has(key)) {
        problems.push(
          `Invalid JSON payload received. Unknown name "${key}" at '${path}': Cannot find field.`,
        );
        continue;
      }
      if (key === "type" && Array.isArray(value)) {
        problems.push(
          `Invalid JSON payload received. Unknown name "type" at '${path}': Proto field is not repeating, cannot start list.`,
        );
      }
      if (key === "format" && o.type === "string" && !GEMINI_STRING_FORMATS.has(String(value))) {
        problems.push(
          `* ${path}.format: only 'enum' and 'date-time' are supported for STRING type`,
        );
      }
      if (key === "enum" && Array.isArray(value) && value.some((v) => typeof v !== "string")) {
        problems.push(`* ${path}.enum: only allowed for STRING type`);
      }
      if (key === "properties" && value && typeof value === "object") {
        Object.entries(value).forEach(([name, sub]) =>
          walk(sub, `${path}.properties[${name}].value`)
        );
      } else if (key === "items" || key === "anyOf") {
        walk(value, `${path}.${key === "anyOf" ? "any_of" : key}`);
      }
    }
    if (Array.isArray(o.required)) {
      const props = o.properties && typeof o.properties === "object" ? o.properties : {};
      for (const name of o.required) {
        if (!(String(name) in props)) {
          problems.push(`* ${path}.required: property "${String(name)}" is not defined`);
        }
      }
    }
  };
  walk(schema, at);
  return problems;
}

export function geminiError(status: number, message: string, statusName = "INVALID_ARGUMENT") {
  return { status, json: [{ error: { code: status, message, status: statusName } }] };
}

/** Key for a function call: Gemini matches signatures to the call they were issued with. */
const callKey = (name: unknown, args: unknown) => {
  let canonical = String(args);
  try {
    canonical = JSON.stringify(JSON.parse(String(args)));
  } catch {
    // compared as sent
  }
  return `${String(name)}\u0000${canonical}`;
};

export async function startGeminiFake(
  opts: GeminiFakeOptions,
  respond: Responder,
): Promise<
  ProviderFake & {
    signatures: Map<string, string>;
  }
> {
  const signatures = new Map<string, string>();
  let issued = 0;
  const sign = (calls: Call[]) =>
    calls.map((c, i) => {
      // Only the first call of a step carries the signature, as Gemini documents.
      if (!opts.thoughtSignatures || i > 0) return undefined;
      const sig = `CiQB${(++issued).toString(36).padStart(6, "0")}thought`;
      signatures.set(callKey(c.name, argsText(c)), sig);
      return { google: { thought_signature: sig } };
    });
  const dialect: Dialect = {
    validate(req) {
      if (req.path !== "/v1beta/openai/chat/completions") {
        return { status: 404, text: "<html>Error 404 (Not Found)</html>" };
      }
      if (!bearer(req, opts.key)) {
        return geminiError(400, "API key not valid. Please pass a valid API key.");
      }
      const body = bodyOf(req);
      const problems: string[] = [];
      (body.tools ?? []).forEach((t, i) => {
        problems.push(
          ...geminiSchemaProblems(
            t.function?.parameters,
            `tools[0].function_declarations[${i}].parameters`,
          ),
        );
      });
      if (problems.length > 0) return geminiError(400, problems.join("\n"));
      for (const [i, m] of (body.messages ?? []).entries()) {
        for (const call of m.tool_calls ?? []) {
          const expected = signatures.get(callKey(call.function?.name, call.function?.arguments));
          if (expected === undefined) continue;
          const got =
            (call.extra_content as { google?: { thought_signature?: unknown } } | undefined)
              ?.google?.thought_signature;
          if (got !== expected) {
            return geminiError(
              400,
              "Function call is missing a thought_signature in functionCall parts. This is required " +
                "for tools to work correctly, and missing thought_signature may lead to degraded model " +
                `performance. Additional data, function call \`default_api:${
                  String(call.function?.name)
                }\` , ` +
                `position ${
                  i + 1
                }. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
            );
          }
        }
      }
      const pairing = toolPairingProblem(body.messages ?? []);
      if (pairing) return geminiError(400, pairing);
      return undefined;
    },
    stream(turn, req) {
      const body = bodyOf(req);
      const model = String(body.model);
      const piece = (delta: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
        choices: [{ delta: { role: "assistant", ...delta }, index: 0, ...more }],
        created: CREATED,
        id: "fake-gemini-response",
        model,
        object: "chat.completion.chunk",
      });
      const steps: SseStep[] = [];
      const parts = turn.content ? splitText(turn.content, 3) : [];
      parts.forEach((p) => steps.push(piece({ content: p })));
      if (turn.calls?.length) {
        const extras = sign(turn.calls);
        steps.push(piece({
          tool_calls: turn.calls.map((c, i) => ({
            ...(extras[i] ? { extra_content: extras[i] } : {}),
            function: { arguments: argsText(c), name: c.name },
            // The compatibility layer sends an empty id; the client has to make its own.
            id: c.id ?? "",
            type: "function",
          })),
        }));
      }
      const u = usageOf(turn);
      const finish = turn.finish ?? "stop";
      steps.push({
        ...piece({ content: "" }, { finish_reason: finish }),
        ...(u ? { usage: u } : {}),
      });
      return steps;
    },
    complete(turn, req) {
      const extras = turn.calls ? sign(turn.calls) : [];
      return completionBody({ ...turn, finish: turn.finish ?? "stop" }, String(bodyOf(req).model), {
        content: turn.content ?? null,
        ...(turn.calls?.length
          ? {
            tool_calls: turn.calls.map((c, i) => ({
              ...(extras[i] ? { extra_content: extras[i] } : {}),
              function: { arguments: argsText(c), name: c.name },
              id: c.id ?? "",
              type: "function",
            })),
          }
          : {}),
      });
    },
  };
  const fake = await startDialect(dialect, respond);
  return Object.assign(fake, { signatures });
}

// ---------------------------------------------------------------------------------------------
// Mistral — https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post
// Pydantic validation with extra fields forbidden: 422 {"object": "error", "message": {"detail":
// [{"type": "extra_forbidden", "loc": ["body", …], "msg": "Extra inputs are not permitted"}]}, …}
// for any field it does not know, at the top level and inside messages. Tool call ids must be 9
// alphanumerics: 400 "Tool call id was call_abc but must be a-z, A-Z, 0-9, with a length of 9."
// Tool calls stream whole in one chunk; usage rides on the last chunk.

export type MistralFakeOptions = { key: string };

const MISTRAL_PARAMS = new Set([
  "model",
  "messages",
  // Number of completions; in Mistral's OpenAPI spec, though the proxy never sends it.
  "n",
  "temperature",
  "top_p",
  "max_tokens",
  "stream",
  "stop",
  "random_seed",
  "response_format",
  "tools",
  "tool_choice",
  "presence_penalty",
  "frequency_penalty",
  "parallel_tool_calls",
  "prediction",
  "prompt_mode",
  "safe_prompt",
]);
const MISTRAL_MESSAGE_FIELDS: Record<string, Set<string>> = {
  system: new Set(["role", "content"]),
  user: new Set(["role", "content"]),
  assistant: new Set(["role", "content", "tool_calls", "prefix"]),
  tool: new Set(["role", "content", "tool_call_id", "name"]),
};
const MISTRAL_TOOL_CALL_FIELDS = new Set(["id", "type", "function", "index"]);
const MISTRAL_ID = /^[a-zA-Z0-9]{9}$/;

export function startMistralFake(
  opts: MistralFakeOptions,
  respond: Responder,
): Promise<ProviderFake> {
  const ids = idMaker(ALNUM, 9);
  const unprocessable = (detail: unknown[]) => ({
    status: 422,
    json: {
      object: "error",
      message: { detail },
      type: "invalid_request_error",
      param: null,
      code: null,
    },
  });
  const badRequest = (message: string) => ({
    status: 400,
    json: { object: "error", message, type: "invalid_request_error", param: null, code: null },
  });
  const extra = (loc: (string | number)[], input: unknown) => ({
    type: "extra_forbidden",
    loc: ["body", ...loc],
    msg: "Extra inputs are not permitted",
    input,
  });
  return startDialect({
    validate(req) {
      if (!bearer(req, opts.key)) {
        return { status: 401, json: { message: "Unauthorized", request_id: "fake" } };
      }
      const body = bodyOf(req);
      const detail: unknown[] = [];
      for (const [key, value] of Object.entries(body)) {
        if (!MISTRAL_PARAMS.has(key)) detail.push(extra([key], value));
      }
      for (const [i, m] of (body.messages ?? []).entries()) {
        const role = String(m.role);
        const allowed = MISTRAL_MESSAGE_FIELDS[role];
        if (!allowed) {
          detail.push({
            type: "union_tag_invalid",
            loc: ["body", "messages", i],
            msg: `Input tag '${role}' found using 'role' does not match any of the expected tags`,
            input: m,
          });
          continue;
        }
        for (const [key, value] of Object.entries(m)) {
          if (!allowed.has(key)) detail.push(extra(["messages", i, role, key], value));
        }
        for (const [j, call] of (m.tool_calls ?? []).entries()) {
          for (const [key, value] of Object.entries(call)) {
            if (!MISTRAL_TOOL_CALL_FIELDS.has(key)) {
              detail.push(extra(["messages", i, role, "tool_calls", j, key], value));
            }
          }
        }
      }
      if (detail.length > 0) return unprocessable(detail);
      const messages = body.messages ?? [];
      for (const m of messages) {
        const callIds = m.role === "tool"
          ? [m.tool_call_id]
          : (m.tool_calls ?? []).map((c) => c.id);
        for (const id of callIds) {
          if (typeof id !== "string" || !MISTRAL_ID.test(id)) {
            return badRequest(
              `Tool call id was ${String(id)} but must be a-z, A-Z, 0-9, with a length of 9.`,
            );
          }
        }
      }
      if (toolPairingProblem(messages)) {
        return badRequest("Not the same number of function calls and responses");
      }
      return undefined;
    },
    stream(turn, req) {
      const body = bodyOf(req);
      const env = envelope(String(body.model), "cmpl-fake-mistral");
      const steps: SseStep[] = [env({ role: "assistant", content: "" })];
      // Magistral streams its reasoning as thinking chunks inside `content`, then text chunks.
      const magistral = String(body.model).startsWith("magistral");
      if (turn.reasoning && magistral) {
        for (const part of splitText(turn.reasoning, 3)) {
          steps.push(
            env({ content: [{ type: "thinking", thinking: [{ type: "text", text: part }] }] }),
          );
        }
      }
      if (turn.content) {
        for (const part of splitText(turn.content, 3)) {
          steps.push(env({ content: magistral ? [{ type: "text", text: part }] : part }));
        }
      }
      if (turn.calls?.length) {
        steps.push(env({
          tool_calls: turn.calls.map((c, index) => ({
            id: c.id ?? ids(),
            function: { name: c.name, arguments: argsText(c) },
            index,
          })),
        }));
      }
      const u = usageOf(turn);
      steps.push(env({ content: "" }, finishOf(turn), u ? { usage: u } : {}));
      return steps;
    },
    complete: (turn, req) =>
      completionBody(turn, String(bodyOf(req).model), {
        content: String(bodyOf(req).model).startsWith("magistral")
          ? [
            ...(turn.reasoning
              ? [{ type: "thinking", thinking: [{ type: "text", text: turn.reasoning }] }]
              : []),
            { type: "text", text: turn.content ?? "" },
          ]
          : turn.content ?? "",
        tool_calls: turn.calls?.length
          ? turn.calls.map((c, index) => ({
            id: c.id ?? ids(),
            type: "function",
            function: { name: c.name, arguments: argsText(c) },
            index,
          }))
          : null,
        prefix: false,
      }),
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// Plumbing for the provider tests: a proxy in front of a fake, and the official SDK on it.

export type Connected = {
  proxy: TestProxy;
  client: Anthropic;
  close: () => Promise<void>;
};

/** Starts the proxy on `fake` with `env` (the upstream key defaults to TEST_UPSTREAM_KEY). */
export function connect(env: Record<string, string>): Connected {
  const proxy = startProxy(env);
  const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
  return { proxy, client, close: () => proxy.close() };
}

// deno-lint-ignore no-explicit-any
export type Event = any;

/** One streamed request through the SDK: every event it parsed and its finalMessage(). */
export async function sdkStream(
  client: Anthropic,
  params: Record<string, unknown>,
): Promise<{ events: Event[]; final: Anthropic.Message }> {
  const stream = client.messages.stream({
    model: "claude-sonnet-4-6",
    max_tokens: 1024,
    messages: [{ role: "user", content: "Hello" }],
    ...params,
  } as Anthropic.MessageStreamParams);
  const events: Event[] = [];
  stream.on("streamEvent", (e: Event) => events.push(structuredClone(e)));
  const final = await stream.finalMessage();
  return { events, final };
}

/** A non-streamed request through the SDK. */
export function sdkCreate(
  client: Anthropic,
  params: Record<string, unknown>,
): Promise<Anthropic.Message> {
  return client.messages.create({
    model: "claude-sonnet-4-6",
    max_tokens: 1024,
    messages: [{ role: "user", content: "Hello" }],
    ...params,
  } as Anthropic.MessageCreateParamsNonStreaming);
}

/** POSTs a chat completion straight to a fake, to show what it refuses. */
export async function postToFake(
  url: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, json };
}
