import type { MessageResponse, StreamEvent } from "../anthropic/schema.ts";
import { messageFromEvents } from "../anthropic/stream_message.ts";
import type { EventConverter } from "./protocol.ts";
import { SseDecoder } from "./sse_decode.ts";
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

/**
 * An event stream sent where one JSON answer was asked for (an upstream that always streams):
 * the message it streams, through the same converter a streamed answer takes.
 */
export function streamedMessage(converter: EventConverter, text: string): MessageResponse {
  const decoder = new SseDecoder();
  const events: StreamEvent[] = [];
  const add = (more: readonly StreamEvent[]) => {
    for (const e of more) events.push(e);
  };
  add(converter.start());
  for (const m of [...decoder.push(text), ...decoder.flush()]) {
    add(converter.push(m));
    if (converter.sawDone) break;
  }
  add(converter.finish());
  return messageFromEvents(events);
}
