/**
 * Pure: the Anthropic stream events that the OpenAI-style stream converters build the same way,
 * whatever grammar their upstream streams in.
 */
import type { MessageResponse, StreamEvent } from "../../anthropic/schema.ts";

/** The first event, sent as soon as the upstream has answered 200: no content yet. */
export function messageStart(
  opts: { messageId: string; model: string; inputTokensEstimate: number },
): StreamEvent {
  const message: MessageResponse = {
    id: opts.messageId,
    type: "message",
    role: "assistant",
    model: opts.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: opts.inputTokensEstimate, output_tokens: 0 },
  };
  return { type: "message_start", message };
}

/**
 * An empty delta in the open block: a content event that carries nothing, which keeps Claude
 * Code's stream watchdog (it skips `ping`) from giving up on a long upstream silence.
 */
export function emptyDelta(
  open: { kind: "text" | "thinking" | "tool"; index: number },
): StreamEvent {
  return {
    type: "content_block_delta",
    index: open.index,
    delta: open.kind === "text"
      ? { type: "text_delta", text: "" }
      : open.kind === "thinking"
      ? { type: "thinking_delta", thinking: "" }
      : { type: "input_json_delta", partial_json: "" },
  };
}
