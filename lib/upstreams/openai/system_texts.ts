/**
 * Pure: an Anthropic system prompt, and system messages within the conversation → the texts an
 * OpenAI-style request carries as system (or developer) text. These APIs take text only, so
 * other system blocks are recorded in `dropped`.
 */
import { withoutBillingLine } from "../../anthropic/billing_line.ts";
import type { MessagesRequest } from "../../anthropic/schema.ts";

/** The non-empty texts, billing lines cut out (see billing_line.ts). */
export function systemTexts(system: MessagesRequest["system"], dropped: Set<string>): string[] {
  if (system === undefined) return [];
  if (typeof system === "string") {
    const text = withoutBillingLine(system);
    return text.trim() ? [text] : [];
  }
  const out: string[] = [];
  for (const block of system) {
    if (block.type !== "text") {
      dropped.add(`system:${block.original_type}`);
      continue;
    }
    const text = withoutBillingLine(block.text);
    if (text.trim()) out.push(text);
  }
  return out;
}

/** A system message within the conversation → its text, billing lines cut out. */
export function inlineSystemText(
  content: MessagesRequest["messages"][number]["content"],
): string {
  return withoutBillingLine(
    typeof content === "string"
      ? content
      : content.map((b) => (b.type === "text" ? b.text : "")).join("\n"),
  );
}
