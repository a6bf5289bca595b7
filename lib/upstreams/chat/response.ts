/**
 * Pure: OpenAI chat completion → Anthropic message.
 * https://docs.anthropic.com/en/api/messages#response
 */
import type { MessageResponse, ResponseBlock } from "../../anthropic/schema.ts";
import { ProxyError } from "../../anthropic/errors.ts";
import { ChatCompletion } from "./schema.ts";
import { compiled } from "../../common/compiled_schema.ts";

import { encodeSignature } from "../../anthropic/signature.ts";
import { failedFinish, mapStopReason, matchedStopSequence } from "./stop_reason.ts";
import { contentParts } from "./reasoning.ts";
import { parseToolArguments, unusableCallText, whyUnusable } from "../openai/tool_args.ts";
import { encodeClientToolId } from "../../anthropic/tool_ids.ts";
import { ToolCallIds } from "../openai/tool_call_ids.ts";
import { restoreToolName } from "../openai/tool_names.ts";
import type { AnswerOptions } from "../openai/answer_options.ts";
import { mapUsage } from "./usage.ts";
import { estimateOutputTokens } from "../openai/usage.ts";
import { textToolCallScanner } from "../openai/text_tool_calls/scanner.ts";

const chatCompletion = compiled(ChatCompletion);

/** What both the streaming and the non-streaming conversion need from the request. */
export type ResponseOptions = AnswerOptions & { stopSequences?: readonly string[] | undefined };

/** Throws a 502-class ProxyError when the upstream answer is not a chat completion. */
export function convertResponse(json: unknown, opts: ResponseOptions): MessageResponse {
  const parsed = chatCompletion().safeParse(json);
  if (!parsed.success) {
    throw new ProxyError(
      502,
      "api_error",
      "upstream answer is not a chat completion (unexpected shape)",
    );
  }
  const completion = parsed.data;
  const choice = completion.choices[0];
  if (choice === undefined) {
    // An empty answer here would look like a finished turn that said nothing.
    throw new ProxyError(502, "api_error", "upstream answered 200 without any choice");
  }
  const failed = failedFinish(choice.finish_reason);
  if (failed) throw failed;
  const message = choice?.message;
  const content: ResponseBlock[] = [];
  let chars = 0;

  const raw = message?.content;
  // Magistral's chunk list: its thinking joins the reasoning, its text the answer.
  const parts = Array.isArray(raw) ? contentParts(raw) : [];
  const partsOf = (kind: "thinking" | "text") =>
    parts.filter((p) => p.kind === kind).map((p) => p.text).join("");
  const reasoning = message?.reasoning_content ?? message?.reasoning ?? partsOf("thinking");
  const details = message?.reasoning_details;
  // Encrypted reasoning (OpenRouter) has details but no text; the signature still carries it.
  if (reasoning || details?.length) {
    chars += reasoning.length;
    content.push({
      type: "thinking",
      thinking: reasoning,
      signature: encodeSignature(details?.length ? { reasoning_details: details } : {}),
    });
  }
  const text = (Array.isArray(raw) ? partsOf("text") : raw) || message?.refusal;
  const calls = nativeToolCalls(message);
  // As streamed: a call nobody can run is a broken answer, not one to leave out in silence.
  if (calls.some((call) => !call.function?.name)) throw namelessCall();
  const ids = new ToolCallIds();
  const generatedId = (n: string) => `call_${opts.messageId.slice(-12)}_${n}`;
  let toolCount = 0;
  if (text) {
    chars += text.length;
    const scanner = textToolCallScanner(opts.toolNames, opts.toolSchemas);
    if (!scanner) content.push({ type: "text", text });
    else {
      for (const piece of [...scanner.push(text), ...scanner.finish()]) {
        if (piece.kind === "text") {
          content.push({ type: "text", text: piece.text });
          continue;
        }
        for (const call of piece.calls) {
          content.push({
            type: "tool_use",
            id: ids.claim(undefined, generatedId(`t${content.length}`)),
            name: restoreToolName(opts.toolNames, call.name),
            input: call.input,
          });
          toolCount++;
        }
      }
    }
  }
  for (const [i, call] of calls.entries()) {
    const name = call.function?.name ?? "";
    const args = parseToolArguments(call.function?.arguments);
    chars += typeof call.function?.arguments === "string" ? call.function.arguments.length : 0;
    const clientName = restoreToolName(opts.toolNames, name);
    const reason = whyUnusable(
      args,
      opts.toolSchemas?.get(clientName),
      choice?.finish_reason === "length",
    );
    if (!args.ok || reason !== undefined) {
      // Passing an input the client must reject helps nobody: say what happened instead.
      content.push({
        type: "text",
        text: unusableCallText(clientName, `${reason}`, call.function?.arguments),
      });
      continue;
    }
    content.push({
      type: "tool_use",
      id: encodeClientToolId(ids.claim(call.id, generatedId(`${i}`)), call.extra_content),
      name: clientName,
      input: args.input,
    });
    toolCount++;
  }
  const { stop_reason, stop_sequence } = mapStopReason(
    choice?.finish_reason,
    toolCount > 0,
    matchedStopSequence(choice, opts.stopSequences),
  );
  return {
    id: opts.messageId,
    type: "message",
    role: "assistant",
    model: opts.model,
    content,
    stop_reason,
    stop_sequence,
    usage: mapUsage(completion.usage, opts.inputTokensEstimate, estimateOutputTokens(chars)),
  };
}

type Message = NonNullable<ChatCompletion["choices"][number]["message"]>;

/**
 * The message's tool calls, the legacy `function_call` (one call, no id) counted as one: servers
 * that still implement the pre-tools API (older vLLM and LocalAI versions, some gateways) answer
 * with it, and its finish_reason "function_call".
 * https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices
 */
function nativeToolCalls(message: Message | null | undefined): NonNullable<Message["tool_calls"]> {
  if (message?.tool_calls?.length) return message.tool_calls;
  return message?.function_call ? [{ function: message.function_call }] : [];
}

/** The stream's error for the same fault (see stream.ts), so both paths answer alike. */
export function namelessCall(): ProxyError {
  return new ProxyError(502, "api_error", "upstream sent a tool call without a function name");
}
