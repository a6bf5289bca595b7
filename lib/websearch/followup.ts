/**
 * The upstream requests of a server tool loop, built from the client's request. Pure.
 * The first offers the server tools as function tools; each follow-up adds the model's turn
 * (its text, thinking and calls) and the calls' results, as a client would for its own tools.
 */
import type { ContentBlock, Message, MessagesRequest, ResponseBlock } from "../anthropic/schema.ts";
import { functionToolFor, type ServerTool, serverToolKind } from "./tools.ts";

/**
 * The request with its server tools replaced by function tools (`offer`), or removed (the last
 * round: the model must answer with what it has). Client tools stay as they are.
 */
export function offeredRequest(
  request: MessagesRequest,
  tools: readonly ServerTool[],
  offer: boolean,
  relaxChoice: boolean,
): MessagesRequest {
  const handled = new Set(tools.map((t) => t.name));
  const clientTools = (request.tools ?? []).filter((t) =>
    !(serverToolKind(t.type) !== undefined && handled.has(t.name))
  );
  const offered = offer ? tools.map(functionToolFor) : [];
  const all = [...clientTools, ...offered];
  let choice = request.tool_choice;
  // A forced server tool was used in the first round; forcing it again would loop.
  if (choice?.type === "tool" && choice.name !== undefined && handled.has(choice.name)) {
    choice = relaxChoice || !offer ? { ...choice, type: "auto", name: undefined } : choice;
  }
  if (all.length === 0) choice = undefined;
  const out: MessagesRequest = { ...request, tools: all.length > 0 ? all : undefined };
  if (choice === undefined) delete out.tool_choice;
  else out.tool_choice = choice;
  if (out.tools === undefined) delete out.tools;
  return out;
}

export type AnsweredCall = {
  /** The id the upstream gave the call (as the converter reported it). */
  upstreamId: string;
  name: string;
  input: unknown;
  text: string;
  isError: boolean;
};

/** The model's turn and the results of its server tool calls, as two more messages. */
export function followUpMessages(
  turn: readonly ResponseBlock[],
  calls: readonly AnsweredCall[],
): Message[] {
  const assistant: ContentBlock[] = [];
  for (const block of turn) {
    if (block.type === "text" && block.text !== "") {
      assistant.push({ type: "text", text: block.text });
    } else if (block.type === "thinking") {
      assistant.push({ type: "thinking", thinking: block.thinking, signature: block.signature });
    }
  }
  for (const call of calls) {
    assistant.push({ type: "tool_use", id: call.upstreamId, name: call.name, input: call.input });
  }
  const results: ContentBlock[] = calls.map((call) => ({
    type: "tool_result",
    tool_use_id: call.upstreamId,
    content: call.text,
    ...(call.isError ? { is_error: true } : {}),
  }));
  return [{ role: "assistant", content: assistant }, { role: "user", content: results }];
}
