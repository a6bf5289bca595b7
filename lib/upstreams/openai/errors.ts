/**
 * Upstream failures → ProxyError, keeping their meaning and the upstream's own message.
 * Statuses follow https://docs.anthropic.com/en/api/errors; Claude Code retries 408/409/429/5xx
 * unless `x-should-retry: false`, which is sent where no retry can help.
 */
import { errorTypeForStatus, ProxyError } from "../../anthropic/errors.ts";
import { z } from "zod";
import { notAnApiError, statusMessage } from "../http_error_text.ts";
import type { ProviderSettingNames } from "../provider.ts";

/** The error object providers send, in a body or inside a 200 stream. */
const UpstreamError = z.looseObject({
  error: z.union([
    z.looseObject({
      message: z.string().nullish(),
      type: z.string().nullish(),
      code: z.union([z.string(), z.number()]).nullish(),
      metadata: z.unknown().optional(),
    }),
    z.string(),
  ]),
});

const NO_RETRY = { "x-should-retry": "false" } as const;

/** An account out of credit, whatever the status it comes with: no retry can help. */
const NO_CREDIT = /insufficient_quota|insufficient (?:credits|balance)/i;

type Detail = {
  message: string | undefined;
  code: string | undefined;
  type: string | undefined;
  /** The error object itself, for provider-specific fields (llama.cpp's `n_ctx`). */
  fields: Record<string, unknown>;
};

function detailOf(json: unknown): Detail {
  // Gemini's OpenAI-compatible endpoint wraps its error in an array: [{"error": {...}}].
  if (Array.isArray(json) && json.length > 0) json = json[0];
  const parsed = UpstreamError.safeParse(json);
  if (!parsed.success) {
    // Some servers (vLLM, LiteLLM) answer {"detail": "..."} or {"message": "..."}.
    if (json && typeof json === "object") {
      const o = json as Record<string, unknown>;
      const m = typeof o.detail === "string"
        ? o.detail
        : typeof o.message === "string"
        ? o.message
        : undefined;
      return { message: m, code: undefined, type: undefined, fields: o };
    }
    return { message: undefined, code: undefined, type: undefined, fields: {} };
  }
  const e = parsed.data.error;
  if (typeof e === "string") return { message: e, code: undefined, type: undefined, fields: {} };
  return {
    message: e.message ?? undefined,
    code: e.code === undefined || e.code === null ? undefined : String(e.code),
    type: e.type ?? undefined,
    fields: e,
  };
}

/** Context-window overflows in the wordings of OpenAI, vLLM, llama.cpp, Gemini, Mistral, xAI … */
const OVERFLOW =
  /context_length_exceeded|maximum context length|context length|context window|context size|exceed_context_size|prompt is too long|too many tokens|input is too long|input token count|exceeds? the (?:maximum|max)|reduce the length|tokens? limit|string_above_max_length|maximum model length|maximum prompt length/i;

const N = String.raw`(\d[\d,]*)`;

/** How many tokens the request had, in each provider's wording (first match wins). */
const USED_WORDINGS = [
  new RegExp(String.raw`resulted in ${N} tokens`, "i"), // OpenAI, Azure
  new RegExp(String.raw`requested (?:about )?${N} tokens`, "i"), // vLLM (older), DeepSeek, OpenRouter
  new RegExp(String.raw`(?:request|prompt|input) (?:has|contains) ${N} (?:input )?tokens`, "i"), // vLLM, Mistral
  new RegExp(String.raw`input token count (?:\(|of |is )?${N}`, "i"), // Gemini
  new RegExp(String.raw`prompt is too long: ${N} tokens`, "i"), // Anthropic's own form, passed along
  new RegExp(String.raw`keep the first ${N} tokens`, "i"), // LM Studio
  new RegExp(String.raw`decoder prompt \(length ${N}\)`, "i"), // vLLM engine
  new RegExp(String.raw`prompt length of ${N}`, "i"), // vLLM V1 engine
  new RegExp(String.raw`request contains ${N} tokens`, "i"), // xAI
];

/** The model's limit, in each provider's wording (first match wins). */
const MAX_WORDINGS = [
  new RegExp(String.raw`maximum context length is ${N}`, "i"), // OpenAI, vLLM, DeepSeek, OpenRouter
  new RegExp(String.raw`${N} maximum context length`, "i"), // Mistral
  new RegExp(String.raw`maximum number of tokens allowed (?:\(|is |of )?${N}`, "i"), // Gemini
  new RegExp(String.raw`tokens > ${N} maximum`, "i"), // Anthropic's own form
  new RegExp(String.raw`context length of (?:only )?${N}`, "i"), // LM Studio
  new RegExp(String.raw`maximum model length of ${N}`, "i"), // vLLM engine
  new RegExp(String.raw`maximum prompt length is ${N}`, "i"), // xAI
];

const toNumber = (text: string) => Number(text.replaceAll(",", ""));

function firstNumber(text: string, wordings: RegExp[]): number | undefined {
  for (const re of wordings) {
    const m = text.match(re);
    if (m) return toNumber(m[1]!);
  }
  return undefined;
}

const positive = (v: unknown) => (typeof v === "number" && v > 0 ? v : undefined);

/**
 * Claude Code compacts the conversation when it sees exactly this form:
 * `prompt is too long: N tokens > M maximum`. The numbers are the upstream's where it gives
 * them (llama.cpp in `n_prompt_tokens` / `n_ctx` fields), else our estimate and model table.
 */
function overflowMessage(
  upstream: string,
  fields: Record<string, unknown>,
  estimate: number,
  contextWindow: number | undefined,
) {
  let used = positive(fields.n_prompt_tokens) ?? firstNumber(upstream, USED_WORDINGS);
  let max = positive(fields.n_ctx) ?? firstNumber(upstream, MAX_WORDINGS);
  if (used === undefined || max === undefined) {
    // A wording not listed above: the largest other token count is the best guess.
    const numbers = [...upstream.matchAll(/(\d[\d,]*)\s*(?:input\s+)?tokens?/gi)]
      .map((m) => toNumber(m[1]!))
      .filter((n) => n > 0);
    const maxMatch = upstream.match(/(?:maximum context length|limit|maximum)\D{0,20}?(\d[\d,]*)/i);
    max ??= maxMatch ? toNumber(maxMatch[1]!) : contextWindow;
    const others = numbers.filter((n) => n !== max);
    used ??= others.length > 0 ? Math.max(...others) : estimate;
  }
  if (max === undefined || !(max > 0)) max = Math.max(1, used - 1);
  if (used <= max) used = max + 1;
  return `prompt is too long: ${used} tokens > ${max} maximum (upstream: ${upstream})`;
}

export type ErrorContext = {
  estimatedInputTokens: number;
  contextWindow: number | undefined;
  /** Where the provider's key and base URL are set, for the hints of a 401 and a 404. */
  settings?: ProviderSettingNames;
};

/** The variables of the provider made from the environment. */
const ENV_SETTINGS: ProviderSettingNames = { apiKey: "OPENAI_API_KEY", baseUrl: "OPENAI_BASE_URL" };

function retryAfterHeaders(headers: Headers): Record<string, string> {
  const ms = Number(headers.get("retry-after-ms"));
  if (Number.isFinite(ms) && ms > 0) return { "retry-after": String(Math.ceil(ms / 1000)) };
  const ra = headers.get("retry-after");
  return ra ? { "retry-after": ra } : {};
}

/** An upstream HTTP error response → the error the client gets. */
export function upstreamHttpError(
  status: number,
  body: string,
  headers: Headers,
  ctx: ErrorContext,
): ProxyError {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const settings = ctx.settings ?? ENV_SETTINGS;
  if (status < 400) return notAnApiError(status, headers, settings.baseUrl);
  const d = detailOf(json);
  const message = d.message ?? statusMessage(status, body);
  const marker = `${d.code ?? ""} ${d.type ?? ""} ${message}`;

  if (status === 402 || NO_CREDIT.test(marker)) {
    return new ProxyError(402, "billing_error", message, NO_RETRY);
  }
  if ((status === 400 || status === 413 || status === 422) && OVERFLOW.test(marker)) {
    return new ProxyError(
      400,
      "invalid_request_error",
      overflowMessage(message, d.fields, ctx.estimatedInputTokens, ctx.contextWindow),
    );
  }
  switch (status) {
    case 401:
      return new ProxyError(
        401,
        "authentication_error",
        `upstream rejected the API key (check ${settings.apiKey}): ${message}`,
        NO_RETRY,
      );
    case 403:
      return new ProxyError(403, "permission_error", message, NO_RETRY);
    case 404:
      return new ProxyError(
        404,
        "not_found_error",
        `${message} (upstream 404: check ${settings.baseUrl} and the model name)`,
      );
    case 408:
      return new ProxyError(504, "timeout_error", message, retryAfterHeaders(headers));
    case 429:
      return new ProxyError(429, "rate_limit_error", message, retryAfterHeaders(headers));
    case 503:
    case 529:
      return new ProxyError(529, "overloaded_error", message, retryAfterHeaders(headers));
  }
  if (status >= 500) {
    return new ProxyError(status, errorTypeForStatus(status), message, retryAfterHeaders(headers));
  }
  if (status === 413) return new ProxyError(413, "request_too_large", message);
  return new ProxyError(400, "invalid_request_error", message);
}

/**
 * A 200 answer whose whole body is an error object (OpenRouter and other gateways). Read as in a
 * stream, except that nothing has reached the client yet: a rate limit can still be answered as
 * the 429 it is, which the SDKs wait out, where a stream can only end with overloaded_error.
 */
export function upstreamErrorInBody(json: unknown, ctx?: ErrorContext): ProxyError | undefined {
  const err = upstreamErrorInStream(json, undefined, "in a 200 answer", ctx);
  if (err?.type !== "overloaded_error") return err;
  const d = detailOf(json);
  if (Number(d.code) === 429 || RATE_LIMITED.test(`${d.code ?? ""} ${d.type ?? ""}`)) {
    return new ProxyError(429, "rate_limit_error", err.message);
  }
  return err;
}

const RATE_LIMITED = /rate.?limit|too.?many.?requests/i;

/**
 * OpenRouter and others report failures inside a 200 stream as `{"error": {...}}`.
 * Returns the error to end the client's stream with, or undefined for an ordinary chunk.
 */
export function upstreamErrorInStream(
  json: unknown,
  event: string | undefined,
  where = "during the stream",
  ctx?: ErrorContext,
): ProxyError | undefined {
  const hasError = json !== null && typeof json === "object" && "error" in json &&
    (json as { error: unknown }).error != null;
  if (!hasError && event !== "error") return undefined;
  const d = detailOf(json);
  const message = `upstream error ${where}: ${d.message ?? "unknown error"}`;
  const code = Number(d.code);
  const marker = `${d.code ?? ""} ${d.type ?? ""} ${d.message ?? ""}`;
  if (OVERFLOW.test(marker)) {
    // The same form as for an HTTP error: Claude Code compacts on it wherever it arrives.
    return new ProxyError(
      400,
      "invalid_request_error",
      overflowMessage(
        d.message ?? "unknown error",
        d.fields,
        ctx?.estimatedInputTokens ?? 0,
        ctx?.contextWindow,
      ),
    );
  }
  if (code === 400 || code === 422 || /invalid_request/.test(marker)) {
    return new ProxyError(400, "invalid_request_error", message);
  }
  if (code === 402 || NO_CREDIT.test(marker)) {
    return new ProxyError(402, "billing_error", message, NO_RETRY);
  }
  if (code === 401 || code === 403) {
    return new ProxyError(code, errorTypeForStatus(code), message);
  }
  // Rate limits, provider outages, unknown causes: a retry may help, and Claude Code retries
  // overloaded_error and then falls back to a non-streaming request.
  return new ProxyError(529, "overloaded_error", message);
}
