/**
 * The request log: one line per request at info level, whatever the route or outcome, with what
 * someone running the proxy next to Claude Code looks for — which upstream model a Claude name
 * reached, streamed or not, tokens, time to the upstream's first byte and the total time.
 */
import type { Logger } from "./log.ts";
import type { RequestEvents, RequestRecord } from "./request_events.ts";

/** What a route learns about its request as it goes; what stays unknown is left out. */
export type RequestSummary = {
  /** `client model -> upstream model`, once the body has been read. */
  model?: string;
  /** The model name the client asked for. */
  requestedModel?: string;
  stream?: boolean;
  inputTokens?: number;
  outputTokens?: number;
  /** Input tokens the upstream read from its prompt cache (not in inputTokens). */
  cachedTokens?: number;
  /** Milliseconds from the request's arrival to the upstream's response headers. */
  ttfbMs?: number;
  /** What chose the chain and the chain: `models.opus: main/gpt-5 → spare/openai/gpt-5`. */
  route?: string;
  /** `provider/model` that answered (or failed last), with a routing configuration. */
  target?: string;
  /** Each chain entry that failed or was skipped first: `main/gpt-5: 429 rate_limit_error`. */
  attempts?: string[];
  /** Milliseconds from the request's arrival to the first content sent to the client (streams). */
  ttftMs?: number;
  /** A request went out to an upstream (whatever came of it): its failure is an upstream one. */
  upstreamCalled?: boolean;
  /** The route writes the line itself, later: a stream is logged when it ends. */
  deferred?: boolean;
  /** The line was written: a stream that ended before its Response was handed back is not open. */
  logged?: boolean;
};

export type RequestInfo = {
  requestId: string;
  method: string;
  path: string;
  /** `Date.now()` when the request arrived. */
  started: number;
  summary: RequestSummary;
  /** Where finished requests are published (metrics, history, the dashboard); none when off. */
  events?: RequestEvents;
};

export function logRequest(
  log: Logger,
  req: RequestInfo,
  status: number,
  extra: Record<string, unknown> = {},
): void {
  const s = req.summary;
  s.logged = true;
  const totalMs = Date.now() - req.started;
  // The line's fields are built only when the line is written (LOG_LEVEL=warn and above: never).
  if (log.enabled("info")) writeLine(log, req, status, totalMs, extra);
  if (req.events) {
    const error = typeof extra.error === "string"
      ? { type: extra.error, message: typeof extra.message === "string" ? extra.message : "" }
      : undefined;
    req.events.finished(toRecord(req, status, totalMs, error));
  }
}

function writeLine(
  log: Logger,
  req: RequestInfo,
  status: number,
  totalMs: number,
  extra: Record<string, unknown>,
): void {
  const s = req.summary;
  log.info("request", {
    request_id: req.requestId,
    method: req.method,
    path: req.path,
    model: s.model,
    route: s.route,
    upstream: s.target,
    ...(s.attempts && s.attempts.length > 0 ? { attempts: s.attempts.join("; ") } : {}),
    stream: s.stream,
    status,
    input_tokens: s.inputTokens,
    output_tokens: s.outputTokens,
    cached_tokens: s.cachedTokens,
    ttfb_ms: s.ttfbMs,
    ttft_ms: s.ttftMs,
    total_ms: totalMs,
    ...extra,
  });
}

function toRecord(
  req: RequestInfo,
  status: number,
  durationMs: number,
  error: RequestRecord["error"],
): RequestRecord {
  const s = req.summary;
  return {
    id: req.requestId,
    time: req.started,
    method: req.method,
    path: req.path,
    status,
    requestedModel: s.requestedModel,
    target: s.target,
    attempts: s.attempts,
    stream: s.stream,
    inputTokens: s.inputTokens,
    outputTokens: s.outputTokens,
    cachedTokens: s.cachedTokens,
    ttfbMs: s.ttfbMs,
    ttftMs: s.ttftMs,
    durationMs,
    error,
    upstreamCalled: s.upstreamCalled,
  };
}
