import type { UpstreamResponse } from "./transport.ts";

/**
 * Whether an upstream answered with server-sent events. Media types are case-insensitive
 * (RFC 9110 §8.3.1): `TEXT/EVENT-STREAM` is a stream too.
 */
export function answersWithEvents(response: Response): boolean {
  return /text\/event-stream/i.test(response.headers.get("content-type") ?? "");
}

/**
 * Whether a body labelled as something else (text/plain, application/octet-stream) is an event
 * stream all the same: it opens with an SSE field or comment, where a JSON answer opens with `{`.
 */
export function looksLikeEvents(body: string): boolean {
  return /^\uFEFF?\s*(?:data|event|id|retry)?:/.test(body);
}

/**
 * An event stream an upstream sent under another label, read whole, as an answer to stream from:
 * the upstream request is over, so there is nothing left to abort or to watch.
 */
export function eventsAnswer(upstream: UpstreamResponse, text: string): UpstreamResponse {
  return {
    ...upstream,
    response: new Response(text, { headers: { "content-type": "text/event-stream" } }),
    signal: new AbortController().signal,
    abort: () => {},
    abortedBy: () => undefined,
  };
}
