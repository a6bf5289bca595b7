/**
 * Pure: a Responses API response object → Anthropic message. Its `output` items map in order:
 * reasoning → thinking (encrypted content in the signature), message text → text, refusal →
 * text with stop reason `refusal`, function_call → tool_use.
 * https://platform.openai.com/docs/api-reference/responses/object
 */
import { ProxyError } from "../../anthropic/errors.ts";
import type { MessageResponse, ResponseBlock } from "../../anthropic/schema.ts";
import { encodeSignature } from "../../anthropic/signature.ts";
import { encodeClientToolId } from "../../anthropic/tool_ids.ts";
import { type AnswerOptions, errorContext } from "../openai/answer_options.ts";
import { parseToolArguments, whyUnusable } from "../openai/tool_args.ts";
import { restoreToolName } from "../openai/tool_names.ts";
import { failureError } from "./errors.ts";
import { upstreamErrorInBody } from "../openai/errors.ts";
import { estimateOutputTokens } from "../openai/usage.ts";
import { mapStopReason, mapUsage } from "./outcome.ts";
import { type OutputItem, ResponseObject } from "./schema.ts";
import { compiled } from "../../common/compiled_schema.ts";

const responseObject = compiled(ResponseObject);

/** What both the streaming and the non-streaming conversion need from the request. */
export type ResponseOptions = AnswerOptions & {
  /** Tags the encrypted reasoning in signatures (see request.ts). */
  upstreamTag: string;
  /** The client asked for thinking; otherwise reasoning items are left out of the answer. */
  thinking: boolean;
};

/** A reasoning item's signature: its encrypted content, if any, tagged with its upstream. */
export function reasoningSignature(encrypted: string | null | undefined, tag: string): string {
  return encodeSignature(
    encrypted ? { encrypted_reasoning: { content: encrypted, upstream: tag } } : {},
  );
}

/** The text of a reasoning item's summary parts, one paragraph each. */
export function summaryText(item: OutputItem): string {
  return (item.summary ?? []).map((p) => p.text ?? "").filter((t) => t).join("\n\n");
}

/** Throws a ProxyError when the answer is not a usable response object. */
export function convertResponse(json: unknown, opts: ResponseOptions): MessageResponse {
  const parsed = responseObject().safeParse(json);
  if (!parsed.success || !Array.isArray(parsed.data.output)) {
    // Gateways answer 200 with `{"error": {...}}` instead of a response object, as they do for
    // Chat Completions: its meaning and message go to the client rather than a shape error.
    const inBody = upstreamErrorInBody(json, errorContext(opts));
    if (inBody) throw inBody;
    throw new ProxyError(
      502,
      "api_error",
      "upstream answer is not a response object (unexpected shape)",
    );
  }
  const response = parsed.data;
  if (response.status === "failed" || (response.error && response.status !== "completed")) {
    throw failureError(response.error, "in a 200 answer", errorContext(opts));
  }
  const content: ResponseBlock[] = [];
  let chars = 0;
  let toolCount = 0;
  let sawRefusal = false;
  for (const [i, item] of (response.output ?? []).entries()) {
    switch (item.type) {
      case "reasoning": {
        if (!opts.thinking) break;
        const thinking = summaryText(item);
        chars += thinking.length;
        content.push({
          type: "thinking",
          thinking,
          signature: reasoningSignature(item.encrypted_content, opts.upstreamTag),
        });
        break;
      }
      case "message":
        for (const part of item.content ?? []) {
          const text = part.type === "refusal" ? part.refusal : part.text;
          if (part.type === "refusal") sawRefusal = true;
          if (!text) continue;
          chars += text.length;
          content.push({ type: "text", text });
        }
        break;
      case "function_call": {
        const name = item.name;
        if (!name) continue;
        chars += item.arguments?.length ?? 0;
        const clientName = restoreToolName(opts.toolNames, name);
        const args = parseToolArguments(item.arguments);
        const reason = whyUnusable(
          args,
          opts.toolSchemas?.get(clientName),
          response.status === "incomplete" &&
            response.incomplete_details?.reason === "max_output_tokens",
        );
        if (!args.ok || reason !== undefined) {
          content.push({
            type: "text",
            text: `[proxy: the model called tool ${clientName} but its arguments ${reason}, ` +
              "so the call was not made]",
          });
          continue;
        }
        content.push({
          type: "tool_use",
          id: encodeClientToolId(
            item.call_id ?? item.id ?? `call_${opts.messageId.slice(-12)}_${i}`,
            undefined,
          ),
          name: clientName,
          input: args.input,
        });
        toolCount++;
        break;
      }
        // Built-in tool calls (web search, file search…) are never asked for: nothing to map.
    }
  }
  const stop_reason = mapStopReason({
    status: response.status === "incomplete" ? "incomplete" : "completed",
    incompleteReason: response.incomplete_details?.reason ?? undefined,
    sawToolCalls: toolCount > 0,
    sawRefusal,
  });
  return {
    id: opts.messageId,
    type: "message",
    role: "assistant",
    model: opts.model,
    content,
    stop_reason,
    stop_sequence: null,
    usage: mapUsage(response.usage, opts.inputTokensEstimate, estimateOutputTokens(chars)),
  };
}
