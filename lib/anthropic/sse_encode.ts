/**
 * Anthropic stream events → SSE bytes: `event: <type>` then `data: <json>` and a blank line,
 * as the Messages API streams them (https://docs.anthropic.com/en/api/messages-streaming).
 */
import type { StreamEvent } from "./schema.ts";

const encoder = new TextEncoder();

export function encodeEventText(event: StreamEvent): string {
  if (event.type === "raw") return `event: ${event.event}\ndata: ${event.data}\n\n`;
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Several events in one write: fewer, larger chunks cost less on every runtime. */
export function encodeEvents(events: readonly StreamEvent[]): Uint8Array<ArrayBuffer> {
  let text = "";
  for (const e of events) text += encodeEventText(e);
  return encoder.encode(text);
}

export function sseEncodeStream(): TransformStream<StreamEvent, Uint8Array> {
  return new TransformStream({
    transform(event, controller) {
      controller.enqueue(encoder.encode(encodeEventText(event)));
    },
  });
}
