/**
 * Tool search: a tool sent with `defer_loading: true` is not shown to the model until a
 * `tool_reference` to it comes back in a tool result (Claude Code's ToolSearch answers that way),
 * https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/tool-search-tool. Upstreams
 * without tool search get the same view: only the tools loaded so far.
 */
import type { MessagesRequest, Tool } from "./schema.ts";

/** Names referenced by `tool_reference` blocks anywhere in the conversation. */
function referencedTools(request: MessagesRequest): Set<string> {
  const names = new Set<string>();
  for (const message of request.messages) {
    if (typeof message.content === "string") continue;
    for (const block of message.content) {
      if (block.type === "tool_reference") names.add(block.tool_name);
      if (block.type !== "tool_result" || !Array.isArray(block.content)) continue;
      for (const part of block.content) {
        if (part.type === "tool_reference") names.add(part.tool_name);
      }
    }
  }
  return names;
}

/** The tools the model may see now: every tool but the deferred ones not yet loaded. */
export function offeredTools(request: MessagesRequest): Tool[] {
  const tools = request.tools ?? [];
  if (!tools.some((t) => t.defer_loading === true)) return tools;
  const loaded = referencedTools(request);
  return tools.filter((t) => t.defer_loading !== true || loaded.has(t.name));
}
