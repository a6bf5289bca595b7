/**
 * A complete Anthropic message → the event sequence that streams it, for upstreams that answer
 * a streaming request with a single JSON body.
 */
import type { MessageResponse, StreamEvent } from "./schema.ts";

export function messageEvents(message: MessageResponse): StreamEvent[] {
  const events: StreamEvent[] = [{
    type: "message_start",
    message: {
      ...message,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...message.usage, output_tokens: 0 },
    },
  }];
  message.content.forEach((block, index) => {
    switch (block.type) {
      case "text":
        events.push({
          type: "content_block_start",
          index,
          content_block: { type: "text", text: "" },
        });
        events.push({
          type: "content_block_delta",
          index,
          delta: { type: "text_delta", text: block.text },
        });
        for (const citation of block.citations ?? []) {
          events.push({
            type: "content_block_delta",
            index,
            delta: { type: "citations_delta", citation },
          });
        }
        break;
      case "thinking":
        events.push({
          type: "content_block_start",
          index,
          content_block: { type: "thinking", thinking: "", signature: "" },
        });
        events.push({
          type: "content_block_delta",
          index,
          delta: { type: "thinking_delta", thinking: block.thinking },
        });
        events.push({
          type: "content_block_delta",
          index,
          delta: { type: "signature_delta", signature: block.signature },
        });
        break;
      case "tool_use":
      case "server_tool_use":
        // Input streams as JSON deltas after an empty start, for client and server tools alike.
        events.push({
          type: "content_block_start",
          index,
          content_block: block.type === "tool_use"
            ? { type: "tool_use", id: block.id, name: block.name, input: {} }
            : { type: "server_tool_use", id: block.id, name: block.name, input: {} },
        });
        events.push({
          type: "content_block_delta",
          index,
          delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) },
        });
        break;
      case "web_search_tool_result":
      case "web_fetch_tool_result":
        // A result block streams whole in its start event, as Anthropic sends it.
        events.push({ type: "content_block_start", index, content_block: block });
        break;
    }
    events.push({ type: "content_block_stop", index });
  });
  events.push({
    type: "message_delta",
    delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence },
    usage: message.usage,
  });
  events.push({ type: "message_stop" });
  return events;
}
