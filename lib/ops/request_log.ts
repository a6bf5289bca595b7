/**
 * The request log: one line per request at info level, whatever the route or outcome, with what
 * someone running the proxy next to Claude Code looks for — which upstream model a Claude name
 * reached, streamed or not, tokens, time to the upstream's first byte and the total time.
 */
import type { Logger } from "./log.ts";

/** What a route learns about its request as it goes; what stays unknown is left out. */
export type RequestSummary = {
  /** `client model -> upstream model`, once the body has been read. */
  model?: string;
  stream?: boolean;
  inputTokens?: number;
  outputTokens?: number;
  /** Milliseconds from the request's arrival to the upstream's response headers. */
  ttfbMs?: number;
  /** What chose the chain and the chain: `models.opus: main/gpt-5 → spare/openai/gpt-5`. */
  route?: string;
  /** `provider/model` that answered (or failed last), with a routing configuration. */
  target?: string;
  /** Each chain entry that failed or was skipped first: `main/gpt-5: 429 rate_limit_error`. */
  attempts?: string[];
  /** The route writes the line itself, later: a stream is logged when it ends. */
  deferred?: boolean;
};

export type RequestInfo = {
  requestId: string;
  method: string;
  path: string;
  /** `Date.now()` when the request arrived. */
  started: number;
  summary: RequestSummary;
};

export function logRequest(
  log: Logger,
  req: RequestInfo,
  status: number,
  extra: Record<string, unknown> = {},
): void {
  const s = req.summary;
  log.info("request", {
    request_id: req.requestId,
    method: req.method,
    path: req.path,
    model: s.model,
    route: s.route,
    upstream: s.target,
    ...(s.attempts ? { attempts: s.attempts.join("; ") } : {}),
    stream: s.stream,
    status,
    input_tokens: s.inputTokens,
    output_tokens: s.outputTokens,
    ttfb_ms: s.ttfbMs,
    total_ms: Date.now() - req.started,
    ...extra,
  });
}
