/**
 * Upstreams that speak the Anthropic Messages API themselves (DeepSeek, Kimi, GLM, MiniMax,
 * Ollama, vLLM, LM Studio offer such endpoints) behind the Protocol interface: the client's
 * request is forwarded with the provider's key, model and headers, and the answer comes back
 * unchanged except for the echoed model name. https://docs.anthropic.com/en/api/messages
 */
import { ProxyError } from "../../anthropic/errors.ts";
import type { MessageResponse, ResponseBlock, StopReason, Usage } from "../../anthropic/schema.ts";
import type {
  CountTokensCall,
  Exchange,
  ExchangeInput,
  ListedModel,
  Protocol,
} from "../protocol.ts";
import type { Provider } from "../provider.ts";
import { anthropicHttpError } from "./errors.ts";
import { PassThroughStream } from "./stream.ts";

/** The API version sent when the client sent none. https://docs.anthropic.com/en/api/versioning */
const DEFAULT_VERSION = "2023-06-01";

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value))
    : undefined;
}

/** `https://host/anthropic` and `https://host/anthropic/v1` both mean the API's root. */
function apiUrl(provider: Provider, path: string): string {
  return `${provider.baseUrl.replace(/\/v1$/, "")}/v1/${path}`;
}

function headers(
  provider: Provider,
  apiKey: string | undefined,
  client: Headers | undefined,
): Record<string, string> {
  const out: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "anthropic-version": client?.get("anthropic-version") ?? DEFAULT_VERSION,
  };
  const beta = client?.get("anthropic-beta");
  if (beta) out["anthropic-beta"] = beta;
  if (apiKey) out["x-api-key"] = apiKey;
  for (const k in provider.headers) out[k] = provider.headers[k]!;
  return out;
}

/** The client's body for the upstream: its model, the provider's cap and extra body. */
function forwardBody(input: ExchangeInput, withMaxTokens: boolean): string {
  const body: Record<string, unknown> = {
    ...(record(input.clientBody) ?? input.request),
    ...input.provider.extraBody,
    model: input.model,
  };
  const cap = input.provider.maxTokensLimit;
  if (withMaxTokens && cap !== undefined && typeof body.max_tokens === "number") {
    body.max_tokens = Math.min(body.max_tokens, cap);
  }
  return JSON.stringify(body);
}

function notJson(): ProxyError {
  return new ProxyError(502, "api_error", "upstream answered 200 with a body that is not JSON");
}

function readUsage(value: unknown): Usage {
  const u = record(value) ?? {};
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  const usage: Usage = { input_tokens: n(u.input_tokens), output_tokens: n(u.output_tokens) };
  if (typeof u.cache_read_input_tokens === "number") {
    usage.cache_read_input_tokens = u.cache_read_input_tokens;
  }
  if (typeof u.cache_creation_input_tokens === "number") {
    usage.cache_creation_input_tokens = u.cache_creation_input_tokens;
  }
  return usage;
}

const STOP_REASONS: ReadonlySet<string> = new Set<StopReason>([
  "end_turn",
  "max_tokens",
  "stop_sequence",
  "tool_use",
  "refusal",
  "pause_turn",
]);

function isStopReason(value: unknown): value is StopReason {
  return typeof value === "string" && STOP_REASONS.has(value);
}

/**
 * A whole answer as this proxy's message type, for a client that asked for a stream from an
 * upstream that did not stream: blocks without a stream form here (server tool results) are
 * left out.
 */
function toMessage(json: unknown, clientModel: string, messageId: string): MessageResponse {
  const m = record(json);
  if (!m || !Array.isArray(m.content)) {
    throw new ProxyError(502, "api_error", "upstream answered 200 without a message");
  }
  const content: ResponseBlock[] = [];
  for (const raw of m.content) {
    const b = record(raw);
    if (b?.type === "text" && typeof b.text === "string") {
      content.push({ type: "text", text: b.text });
    } else if (b?.type === "thinking" && typeof b.thinking === "string") {
      const signature = typeof b.signature === "string" ? b.signature : "";
      content.push({ type: "thinking", thinking: b.thinking, signature });
    } else if (b?.type === "tool_use" && typeof b.id === "string" && typeof b.name === "string") {
      content.push({ type: "tool_use", id: b.id, name: b.name, input: record(b.input) ?? {} });
    }
  }
  return {
    id: typeof m.id === "string" ? m.id : messageId,
    type: "message",
    role: "assistant",
    model: clientModel,
    content,
    stop_reason: isStopReason(m.stop_reason) ? m.stop_reason : null,
    stop_sequence: typeof m.stop_sequence === "string" ? m.stop_sequence : null,
    usage: readUsage(m.usage),
  };
}

function exchange(input: ExchangeInput): Exchange {
  const clientModel = input.request.model;
  return {
    url: apiUrl(input.provider, "messages"),
    headers: headers(input.provider, input.apiKey, input.clientHeaders),
    body: forwardBody(input, true),
    dropped: [],
    httpError: anthropicHttpError,
    message: (json) => toMessage(json, clientModel, input.messageId),
    stream: () => new PassThroughStream(clientModel, input.inputTokensEstimate),
    passThrough(text) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw notJson();
      }
      const message = record(json);
      if (!message || message.type !== "message") {
        throw new ProxyError(502, "api_error", "upstream answered 200 without a message");
      }
      return {
        body: JSON.stringify({ ...message, model: clientModel }),
        usage: readUsage(message.usage),
      };
    },
  };
}

function countTokens(input: ExchangeInput): CountTokensCall {
  return {
    url: apiUrl(input.provider, "messages/count_tokens"),
    headers: headers(input.provider, input.apiKey, input.clientHeaders),
    body: forwardBody(input, false),
    httpError: anthropicHttpError,
    read(json) {
      const answer = record(json);
      if (typeof answer?.input_tokens !== "number") {
        throw new ProxyError(502, "api_error", "upstream count_tokens answer has no input_tokens");
      }
      return JSON.stringify(answer);
    },
  };
}

/** `GET /v1/models` in Anthropic's list format. https://docs.anthropic.com/en/api/models-list */
function readModels(json: unknown): ListedModel[] {
  const data = record(json)?.data;
  if (!Array.isArray(data)) return [];
  const out: ListedModel[] = [];
  for (const raw of data) {
    const m = record(raw);
    if (typeof m?.id !== "string") continue;
    const created = typeof m.created_at === "string" ? Date.parse(m.created_at) : NaN;
    out.push({ id: m.id, created: Number.isFinite(created) ? created / 1000 : undefined });
  }
  return out;
}

export const anthropicProtocol: Protocol = {
  api: "anthropic",
  exchange,
  countTokens,
  modelList(provider, apiKey) {
    const h = headers(provider, apiKey, undefined);
    delete h["content-type"];
    return { url: apiUrl(provider, "models"), headers: h, read: readModels };
  },
};
