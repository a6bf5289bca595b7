/**
 * One error type for the whole proxy, and the single table between HTTP status and
 * Anthropic error type. Reference: https://docs.anthropic.com/en/api/errors
 */

export type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "billing_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "timeout_error"
  | "overloaded_error";

/** A failure with everything needed to render it to the client, as JSON or as `event: error`. */
export class ProxyError extends Error {
  constructor(
    readonly status: number,
    readonly type: AnthropicErrorType,
    message: string,
    /** Extra response headers: `retry-after`, `x-should-retry`. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "ProxyError";
  }
}

/** The Anthropic error type for a status we send; the one place that decides it. */
export function errorTypeForStatus(status: number): AnthropicErrorType {
  switch (status) {
    case 400:
    case 422:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    case 504:
      return "timeout_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

/** A duration for messages: `0.25s`, `600s` (configured values may be fractions). */
export function seconds(ms: number): string {
  return `${Math.round(ms) / 1000}s`;
}

export const invalidRequest = (message: string) =>
  new ProxyError(400, "invalid_request_error", message);

export const notFound = (message: string) => new ProxyError(404, "not_found_error", message);

export function errorBody(type: AnthropicErrorType | string, message: string) {
  return { type: "error" as const, error: { type, message } };
}

/** Renders an error as an Anthropic JSON response. */
export function errorResponse(err: ProxyError, extraHeaders: Record<string, string> = {}) {
  return new Response(JSON.stringify(errorBody(err.type, err.message)), {
    status: err.status,
    headers: { "content-type": "application/json", ...err.headers, ...extraHeaders },
  });
}

/**
 * The same error with secrets taken out of its message. Upstreams echo keys in their error
 * bodies, and those messages are passed on to the client.
 */
export function redactError(err: ProxyError, redact: (text: string) => string): ProxyError {
  const message = redact(err.message);
  return message === err.message ? err : new ProxyError(err.status, err.type, message, err.headers);
}

/** Anything thrown that is not a ProxyError is a bug: reported as api_error, never a stack trace. */
export function toProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  return new ProxyError(500, "api_error", "internal proxy error");
}
