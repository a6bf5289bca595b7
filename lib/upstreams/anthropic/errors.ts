/**
 * An Anthropic-speaking upstream's error → the client's error: passed on as it came (status,
 * type, message), with Retry-After kept. https://docs.anthropic.com/en/api/errors
 */
import { type AnthropicErrorType, errorTypeForStatus, ProxyError } from "../../anthropic/errors.ts";
import { notAnApiError, statusMessage } from "../http_error_text.ts";

const KNOWN_TYPES: ReadonlySet<string> = new Set<AnthropicErrorType>([
  "invalid_request_error",
  "authentication_error",
  "billing_error",
  "permission_error",
  "not_found_error",
  "request_too_large",
  "rate_limit_error",
  "api_error",
  "timeout_error",
  "overloaded_error",
]);

function isKnownType(type: unknown): type is AnthropicErrorType {
  return typeof type === "string" && KNOWN_TYPES.has(type);
}

/** `{type: "error", error: {type, message}}`, or what can be read of another shape. */
function detail(body: string): { type: unknown; message: string | undefined } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { type: undefined, message: undefined };
  }
  const error = json !== null && typeof json === "object" && "error" in json
    ? json.error
    : undefined;
  if (error === null || typeof error !== "object") return { type: undefined, message: undefined };
  const message = "message" in error && typeof error.message === "string"
    ? error.message
    : undefined;
  return { type: "type" in error ? error.type : undefined, message };
}

export function anthropicHttpError(status: number, body: string, headers: Headers): ProxyError {
  const d = detail(body);
  const extra: Record<string, string> = {};
  for (const name of ["retry-after", "x-should-retry"]) {
    const value = headers.get(name);
    if (value) extra[name] = value;
  }
  if (status < 400) return notAnApiError(status, headers, "the provider's base_url");
  const message = d.message ?? statusMessage(status, body);
  const type = isKnownType(d.type) ? d.type : errorTypeForStatus(status);
  return new ProxyError(status, type, message, extra);
}

/** An `event: error` inside a stream → the error that ends the client's stream. */
export function anthropicStreamError(data: string): ProxyError {
  const d = detail(data);
  const type = isKnownType(d.type) ? d.type : "api_error";
  const status = type === "overloaded_error" ? 529 : type === "rate_limit_error" ? 429 : 500;
  return new ProxyError(status, type, d.message ?? "upstream error during the stream");
}
