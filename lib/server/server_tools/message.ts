/**
 * The server tool loop for a client that asked for a whole message: rounds upstream until the
 * model stops calling server tools, then one message with every round's blocks, the server tool
 * calls and their results in order, and the rounds' usage summed.
 */
import type { MessageResponse, ResponseBlock, StopReason } from "../../anthropic/schema.ts";
import { followUpMessages } from "../../websearch/followup.ts";
import { type ModelCall, type ServerToolSession, UsageSum } from "./session.ts";

export async function serverToolMessage(session: ServerToolSession): Promise<MessageResponse> {
  let messages = session.request.messages;
  const content: ResponseBlock[] = [];
  const usage = new UsageSum();
  let last: MessageResponse | undefined;
  let stopReason: StopReason | null = null;
  let stopSequence: string | null = null;
  for (let round = 0;; round++) {
    const request = { ...session.roundRequest(round, messages), stream: false };
    const message = await session.readMessage(await session.send(request, round));
    last = message;
    usage.add(message.usage);
    stopReason = message.stop_reason;
    stopSequence = message.stop_sequence;
    const calls: ModelCall[] = [];
    let clientCall = false;
    for (const block of message.content) {
      const tool = block.type === "tool_use" ? session.toolNamed(block.name) : undefined;
      if (block.type === "tool_use" && tool) {
        const call = {
          upstreamId: block.id,
          clientId: session.newClientId(),
          tool,
          input: block.input,
        };
        calls.push(call);
        content.push({
          type: "server_tool_use",
          id: call.clientId,
          name: tool.name,
          input: block.input,
        });
        continue;
      }
      if (block.type === "tool_use") clientCall = true;
      const citations = block.type === "text" ? session.citations(block.text) : [];
      content.push(
        block.type === "text" && citations.length > 0 ? { ...block, citations } : block,
      );
    }
    if (calls.length === 0) break;
    const ran = await session.run(calls);
    for (const call of ran) content.push(call.block);
    if (clientCall || session.isLastRound(round)) {
      // The client runs its own tools next; the searches stay in this message.
      stopReason = clientCall ? "tool_use" : "end_turn";
      stopSequence = null;
      break;
    }
    messages = [...messages, ...followUpMessages(message.content, ran)];
  }
  return {
    id: session.messageId,
    type: "message",
    role: "assistant",
    model: last.model,
    content,
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    usage: usage.usage(session.serverToolUse()),
  };
}
