/**
 * Fakes of the hosted open-model providers and local servers, each refusing what its
 * documentation says it refuses, with its own error shape, and streaming its own way (where the
 * reasoning goes, whether tool arguments arrive in pieces). Built on provider_fakes.ts.
 *
 * Sources, per fake: Moonshot https://platform.moonshot.ai/docs/api/chat and
 * …/guide/use-kimi-k2-thinking-model; Z.AI https://docs.z.ai/api-reference/llm/chat-completion;
 * DashScope https://help.aliyun.com/en/model-studio/deep-thinking; Groq
 * https://console.groq.com/docs/openai; Cerebras https://inference-docs.cerebras.ai/resources/openai;
 * MiniMax https://platform.minimax.io/docs/api-reference/text-openai-api (2013 errors as quoted
 * in MiniMax-AI/MiniMax-M2#51 and #76); xAI https://docs.x.ai/docs/guides/reasoning.
 */
import type { Recorded, Reply, SseStep } from "./fake_upstream.ts";
import { splitText } from "./fake_upstream.ts";
import {
  ALNUM,
  argsText,
  bearer,
  bodyOf,
  type ChatBody,
  completionBody,
  envelope,
  finishOf,
  idMaker,
  includeUsage,
  type ProviderFake,
  type Responder,
  startDialect,
  streamedCalls,
  type Turn,
  usageOf,
  wholeCalls,
} from "./provider_fakes.ts";

type Problem = { status?: number; message: string; param?: string };

type Rules = {
  key: string;
  path: string;
  error: (p: Problem) => Reply;
  problem: (body: ChatBody) => Problem | undefined;
  /** Where reasoning goes: a field of its own, or `<think>` tags inside the content (MiniMax M2). */
  reasoning: "reasoning_content" | "reasoning" | "think_tags";
  /** Tool calls arrive whole in one chunk (GLM without tool_stream). */
  wholeCallsWhen?: (body: ChatBody) => boolean;
  /** Usage rides on the last chunk whether asked for or not. */
  usageAlways?: boolean;
};

function startRulesFake(rules: Rules, respond: Responder): Promise<ProviderFake> {
  const ids = idMaker(ALNUM, 24, "call_");
  const contentOf = (turn: Turn) =>
    rules.reasoning === "think_tags" && turn.reasoning
      ? `<think>\n${turn.reasoning}\n</think>\n\n${turn.content ?? ""}`
      : turn.content;
  return startDialect({
    validate(req: Recorded) {
      if (!bearer(req, rules.key)) return rules.error({ status: 401, message: "invalid api key" });
      if (req.path !== rules.path) {
        return rules.error({ status: 404, message: `no route ${req.path}` });
      }
      const p = rules.problem(bodyOf(req));
      return p ? rules.error(p) : undefined;
    },
    stream(turn, req) {
      const body = bodyOf(req);
      const env = envelope(String(body.model), "chatcmpl-open");
      const steps: SseStep[] = [env({ role: "assistant", content: "" })];
      if (turn.reasoning && rules.reasoning !== "think_tags") {
        for (const part of splitText(turn.reasoning, 3)) {
          steps.push(env({ [rules.reasoning]: part }));
        }
      }
      const content = contentOf(turn);
      if (content) { for (const part of splitText(content, 3)) steps.push(env({ content: part })); }
      const calls = turn.calls ?? [];
      if (calls.length && rules.wholeCallsWhen?.(body)) {
        steps.push(env({
          tool_calls: calls.map((c, index) => ({
            index,
            id: c.id ?? ids(),
            type: "function",
            function: { name: c.name, arguments: argsText(c) },
          })),
        }));
      } else steps.push(...streamedCalls(calls, ids, (d) => env(d)));
      const u = usageOf(turn);
      const usage = u && (rules.usageAlways || includeUsage(body)) ? { usage: u } : {};
      steps.push(env({}, finishOf(turn), usage));
      return steps;
    },
    complete: (turn, req) =>
      completionBody(turn, String(bodyOf(req).model), {
        content: contentOf(turn) ?? null,
        ...(turn.reasoning && rules.reasoning !== "think_tags"
          ? { [rules.reasoning]: turn.reasoning }
          : {}),
        ...(turn.calls?.length ? { tool_calls: wholeCalls(turn.calls, ids) } : {}),
      }),
  }, respond);
}

const openaiShaped = (type = "invalid_request_error") => (p: Problem): Reply => ({
  status: p.status ?? 400,
  json: { error: { message: p.message, type, param: p.param ?? null, code: null } },
});

const present = (body: ChatBody, keys: readonly string[]) =>
  keys.find((k) => body[k] !== undefined);

// ---------------------------------------------------------------------------------------------
// Moonshot (Kimi): at most 128 tools; thinking models (kimi-k2-thinking, kimi-k2.5 unless
// `thinking: {type: "disabled"}`) need each earlier assistant tool-call message's
// `reasoning_content`; `thinking` is only {type: enabled|disabled}.

export const KIMI_MAX_TOOLS = 128;

export function startMoonshotFake(opts: { key: string }, respond: Responder) {
  return startRulesFake({
    key: opts.key,
    path: "/v1/chat/completions",
    error: openaiShaped(),
    reasoning: "reasoning_content",
    usageAlways: true,
    problem(body) {
      if ((body.tools?.length ?? 0) > KIMI_MAX_TOOLS) {
        return { message: `too many tools: at most ${KIMI_MAX_TOOLS} are supported` };
      }
      const thinking = body.thinking as { type?: unknown } | undefined;
      if (thinking !== undefined && thinking.type !== "enabled" && thinking.type !== "disabled") {
        return { message: "invalid thinking type", param: "thinking" };
      }
      const model = String(body.model);
      const thinks = /^kimi-k2-thinking/.test(model) ||
        (/^kimi-k2\.[5-9]/.test(model) && thinking?.type !== "disabled");
      if (!thinks) return undefined;
      for (const [i, m] of (body.messages ?? []).entries()) {
        if (
          m.role === "assistant" && m.tool_calls?.length && typeof m.reasoning_content !== "string"
        ) {
          return {
            message: "thinking is enabled but reasoning_content is missing in assistant tool " +
              `call message at index ${i}`,
          };
        }
      }
      return undefined;
    },
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// Z.AI (GLM): errors {"error": {"code", "message"}}; tool_choice only "auto"; tool arguments
// arrive whole unless `tool_stream: true`; usage always on the last chunk.

export function startZaiFake(opts: { key: string }, respond: Responder) {
  return startRulesFake({
    key: opts.key,
    path: "/api/paas/v4/chat/completions",
    error: (p) => ({
      status: p.status ?? 400,
      json: { error: { code: "1214", message: p.message } },
    }),
    reasoning: "reasoning_content",
    usageAlways: true,
    wholeCallsWhen: (body) => body.tool_stream !== true,
    problem(body) {
      if (body.tool_choice !== undefined && body.tool_choice !== "auto") {
        return { message: "tool_choice 目前仅支持 auto" };
      }
      const thinking = body.thinking as { type?: unknown } | undefined;
      if (thinking !== undefined && thinking.type !== "enabled" && thinking.type !== "disabled") {
        return { message: "thinking.type 参数非法" };
      }
      return undefined;
    },
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// DashScope (Qwen): open Qwen3 models think by default and refuse a non-streamed call unless
// enable_thinking is false; thinking_budget needs enable_thinking.

export function startDashScopeFake(opts: { key: string }, respond: Responder) {
  return startRulesFake({
    key: opts.key,
    path: "/compatible-mode/v1/chat/completions",
    error: (p) => ({
      status: p.status ?? 400,
      json: {
        error: {
          code: "invalid_parameter_error",
          param: null,
          message: p.message,
          type: "invalid_request_error",
        },
      },
    }),
    reasoning: "reasoning_content",
    problem(body) {
      const openQwen3 = /^qwen3-\d/.test(String(body.model));
      if (openQwen3 && body.stream !== true && body.enable_thinking !== false) {
        return {
          message: "parameter.enable_thinking must be set to false for non-streaming calls",
        };
      }
      if (body.thinking_budget !== undefined && body.enable_thinking !== true) {
        return { message: "thinking_budget is only valid when enable_thinking is true" };
      }
      return undefined;
    },
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// Groq: logprobs, logit_bias, top_logprobs, messages[].name and n ≠ 1 are a 400; Qwen3 takes
// reasoning_effort none|default, gpt-oss low|medium|high (https://console.groq.com/docs/reasoning);
// reasoning (parsed format) arrives as `reasoning`.

export function startGroqFake(opts: { key: string }, respond: Responder) {
  return startRulesFake({
    key: opts.key,
    path: "/openai/v1/chat/completions",
    error: openaiShaped(),
    reasoning: "reasoning",
    problem(body) {
      const field = present(body, ["logprobs", "logit_bias", "top_logprobs"]);
      if (field) {
        return { message: `'${field}' : property '${field}' is unsupported`, param: field };
      }
      if (body.n !== undefined && body.n !== 1) {
        return { message: "'n' : number must be at most 1" };
      }
      const effort = body.reasoning_effort;
      if (effort !== undefined) {
        const allowed = /qwen3/i.test(String(body.model))
          ? ["none", "default"]
          : ["low", "medium", "high"];
        if (!allowed.includes(String(effort))) {
          return {
            message: `'reasoning_effort' : value must be one of ${allowed.join(", ")}`,
            param: "reasoning_effort",
          };
        }
      }
      if ((body.messages ?? []).some((m) => m.name !== undefined)) {
        return { message: "'messages.name' : property 'name' is unsupported" };
      }
      return undefined;
    },
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// Cerebras: frequency_penalty, logit_bias, presence_penalty, parallel_tool_calls and
// service_tier are a 400, its error object at the top level.

export const CEREBRAS_REFUSED = [
  "frequency_penalty",
  "logit_bias",
  "presence_penalty",
  "parallel_tool_calls",
  "service_tier",
] as const;

export function startCerebrasFake(opts: { key: string }, respond: Responder) {
  return startRulesFake({
    key: opts.key,
    path: "/v1/chat/completions",
    error: (p) => ({
      status: p.status ?? 400,
      json: {
        message: p.message,
        type: "invalid_request_error",
        param: p.param ?? "",
        code: "wrong_api_format",
      },
    }),
    reasoning: "reasoning",
    usageAlways: true,
    problem(body) {
      const field = present(body, CEREBRAS_REFUSED);
      return field ? { message: `Unsupported parameter: ${field}`, param: field } : undefined;
    },
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// MiniMax: temperature in (0, 1]; one system message only ("invalid chat setting"); M2 writes
// its thinking in <think> tags inside the content.

export function startMiniMaxFake(opts: { key: string }, respond: Responder) {
  return startRulesFake({
    key: opts.key,
    path: "/v1/chat/completions",
    error: (p) => ({
      status: p.status ?? 400,
      json: {
        type: "error",
        error: { type: "bad_request_error", message: `${p.message} (2013)`, http_code: "400" },
        request_id: "0660b098aa1e9dd5a6773a48c479fc89",
      },
    }),
    reasoning: "think_tags",
    usageAlways: true,
    problem(body) {
      const t = body.temperature;
      if (typeof t === "number" && (t <= 0 || t > 1)) {
        return { message: "invalid params, temperature must be in (0, 1]" };
      }
      if ((body.messages ?? []).filter((m) => m.role === "system").length > 1) {
        return { message: "invalid params, invalid chat setting" };
      }
      return undefined;
    },
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// xAI: reasoning_effort only for grok-3-mini (low|high) and grok-4.3+; other models refuse it.

export function startXaiFake(opts: { key: string }, respond: Responder) {
  return startRulesFake({
    key: opts.key,
    path: "/v1/chat/completions",
    error: (p) => ({
      status: p.status ?? 400,
      json: { code: "Client specified an invalid argument", error: p.message },
    }),
    reasoning: "reasoning_content",
    problem(body) {
      const model = String(body.model);
      const effort = body.reasoning_effort;
      if (effort === undefined) return undefined;
      if (/^grok-3-mini/.test(model)) {
        return effort === "low" || effort === "high"
          ? undefined
          : { message: `Invalid reasoning effort: ${effort}. Expected one of: low, high` };
      }
      if (/^grok-4\.[3-9]/.test(model)) return undefined;
      return { message: `Model ${model} does not support parameter reasoningEffort.` };
    },
  }, respond);
}

// ---------------------------------------------------------------------------------------------
// vLLM and llama.cpp's llama-server: `chat_template_kwargs` reaches the chat template (Qwen3's
// `enable_thinking`); reasoning comes back as `reasoning_content`.

export function startLocalServerFake(opts: { key: string }, respond: Responder) {
  return startRulesFake({
    key: opts.key,
    path: "/v1/chat/completions",
    error: openaiShaped("BadRequestError"),
    reasoning: "reasoning_content",
    problem(body) {
      const kwargs = body.chat_template_kwargs;
      if (kwargs !== undefined && (kwargs === null || typeof kwargs !== "object")) {
        return { message: "chat_template_kwargs must be an object", param: "chat_template_kwargs" };
      }
      return undefined;
    },
  }, respond);
}
