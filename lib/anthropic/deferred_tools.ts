/**
 * The tools the model may see at this point of the conversation, as Anthropic's API works it
 * out, for upstreams that only take a flat tool list:
 * - tool search: a tool sent with `defer_loading: true` stays hidden until a `tool_reference` to
 *   it comes back in a tool result (Claude Code's ToolSearch answers that way),
 *   https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/tool-search-tool;
 * - tool changes in `role: "system"` messages (mid-conversation-tool-changes beta): a
 *   `tool_addition` shows a tool by reference or adds it by definition, a `tool_removal` hides it,
 *   each from where it stands in the conversation on.
 */
import type { ContentBlock, MessagesRequest, Tool } from "./schema.ts";

/** Tool names a block loads through `tool_reference` (directly or inside a tool result). */
function references(block: ContentBlock, into: Set<string>): void {
  if (block.type === "tool_reference") into.add(block.tool_name);
  if (block.type !== "tool_result" || !Array.isArray(block.content)) return;
  for (const part of block.content) if (part.type === "tool_reference") into.add(part.tool_name);
}

/** The tools to offer the upstream model for this request, in the client's order. */
export function offeredTools(request: Pick<MessagesRequest, "tools" | "messages">): Tool[] {
  const declared = request.tools ?? [];
  const changes = request.messages.some((m) =>
    m.role === "system" && Array.isArray(m.content) &&
    m.content.some((b) => b.type === "unknown" && b.tool_change)
  );
  if (!changes && !declared.some((t) => t.defer_loading === true)) return declared;

  const byName = new Map(declared.map((t) => [t.name, t]));
  const loaded = new Set<string>();
  const removed = new Set<string>();
  for (const message of request.messages) {
    if (typeof message.content === "string") continue;
    for (const block of message.content) {
      references(block, loaded);
      if (block.type !== "unknown" || !block.tool_change || message.role !== "system") continue;
      const { kind, tool } = block.tool_change;
      const name = tool.type === "tool_reference" ? tool.name : tool.definition.name;
      if (kind === "tool_removal") {
        removed.add(name);
        continue;
      }
      removed.delete(name);
      loaded.add(name);
      if (tool.type === "tool_definition") byName.set(name, tool.definition);
    }
  }
  return [...byName.values()].filter((t) =>
    !removed.has(t.name) && (t.defer_loading !== true || loaded.has(t.name))
  );
}
