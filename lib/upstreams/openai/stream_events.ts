/**
 * Pure: the Anthropic stream events that the OpenAI-style stream converters build the same way,
 * whatever grammar their upstream streams in.
 */
import type { MessageResponse, StreamEvent } from "../../anthropic/schema.ts";
import { ProxyError } from "../../anthropic/errors.ts";

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

/**
 * The end of a tool block that already started streaming: the arguments' completion (cut-off
 * JSON closed) and content_block_stop. Arguments that cannot be used fail the stream instead,
 * since a started call cannot be taken back; unless the token limit cut them off, which is a
 * normal end (stop_reason max_tokens). Anthropic then closes the block on the partial input
 * (https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons), and so does
 * this, without completing it: a client cannot parse it, so it refuses the call instead of
 * running it (a Write of half a file). The problem is returned then, for the caller to report
 * as the non-streamed answer does.
 */
export function closeStartedToolBlock(
  toolName: string | undefined,
  index: number,
  result: { ok: true; append: string } | { ok: false; reason: string },
  problem: string | undefined,
  cutByLimit: boolean,
  out: StreamEvent[],
): string | undefined {
  // Arguments no suffix can complete fail even when cut: their pieces would not join into JSON.
  if (!result.ok || (problem !== undefined && !cutByLimit)) {
    throw new ProxyError(
      502,
      "api_error",
      `the model's arguments for tool ${toolName ?? "?"} ${problem}; the call was not made`,
    );
  }
  if (result.append && problem === undefined) {
    out.push({
      type: "content_block_delta",
      index,
      delta: { type: "input_json_delta", partial_json: result.append },
    });
  }
  out.push({ type: "content_block_stop", index });
  return problem;
}
