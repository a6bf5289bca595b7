/**
 * A message's event sequence → the complete message it streams: the inverse of
 * message_events.ts, for an upstream that streams an answer the client asked for whole.
 */
import { type AnthropicErrorType, errorTypeForStatus, ProxyError } from "./errors.ts";
import type { MessageResponse, ResponseBlock, StreamEvent } from "./schema.ts";

/** Statuses by error type, from the one table in errors.ts. */
const STATUS_OF = new Map<string, number>(
  [400, 401, 402, 403, 404, 413, 429, 500, 504, 529].map((s) => [errorTypeForStatus(s), s]),
);

/** Throws the stream's `error` event as a ProxyError, and one for a stream that never started. */
export function messageFromEvents(events: readonly StreamEvent[]): MessageResponse {
  let message: MessageResponse | undefined;
  // Each tool block's input arrives as JSON text in pieces, parsed at its block's end.
  const json = new Map<number, string>();
  const blocks: ResponseBlock[] = [];
  for (const event of events) {
    const e: StreamEvent = event.type === "raw" ? parsed(event.data) as StreamEvent : event;
    switch (e.type) {
      case "message_start":
        message = { ...e.message, content: [] };
        break;
      case "content_block_start":
        blocks[e.index] = { ...e.content_block } as ResponseBlock;
        if (e.content_block.type === "tool_use" || e.content_block.type === "server_tool_use") {
          json.set(e.index, "");
        }
        break;
      case "content_block_delta": {
        const block = blocks[e.index];
        const d = e.delta;
        if (d.type === "text_delta" && block?.type === "text") block.text += d.text;
        else if (d.type === "citations_delta" && block?.type === "text") {
          (block.citations ??= []).push(d.citation);
        } else if (d.type === "thinking_delta" && block?.type === "thinking") {
          block.thinking += d.thinking;
        } else if (d.type === "signature_delta" && block?.type === "thinking") {
          block.signature += d.signature;
        } else if (d.type === "input_json_delta" && json.has(e.index)) {
          json.set(e.index, json.get(e.index)! + d.partial_json);
        }
        break;
      }
      case "message_delta":
        if (!message) break;
        message.stop_reason = e.delta.stop_reason;
        message.stop_sequence = e.delta.stop_sequence;
        message.usage = { ...message.usage, ...e.usage };
        break;
      case "error": {
        const status = STATUS_OF.get(e.error.type) ?? 502;
        const type = STATUS_OF.has(e.error.type)
          ? e.error.type as AnthropicErrorType
          : errorTypeForStatus(status);
        throw new ProxyError(status, type, e.error.message);
      }
    }
  }
  if (!message) {
    throw new ProxyError(502, "api_error", "upstream event stream held no message");
  }
  // Each tool block's input, whole now that the stop reason is known.
  for (const [index, text] of json) {
    const block = blocks[index];
    if (block?.type !== "tool_use" && block?.type !== "server_tool_use") continue;
    const input = text.trim() === "" ? {} : tryParse(text);
    if (input !== undefined) block.input = input as Record<string, unknown>;
    else if (message.stop_reason === "max_tokens") {
      // A call the token limit cut, streamed as it came: in a whole answer it is left out, as
      // the converters leave out such a call they had not started (their note says why).
      delete blocks[index];
    } else throw malformed();
  }
  message.content = blocks.filter((b) => b !== undefined);
  return message;
}

function parsed(text: string): unknown {
  const value = tryParse(text);
  if (value === undefined) throw malformed();
  return value;
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const malformed = () =>
  new ProxyError(502, "api_error", "upstream event stream held malformed JSON");
