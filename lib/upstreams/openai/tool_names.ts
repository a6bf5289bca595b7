/**
 * OpenAI limits function names to 64 characters; MCP tools (`mcp__server__tool`) exceed it.
 * Long names are shortened deterministically, so the same name maps the same way in every
 * request of a conversation, and mapped back exactly on the way out. Shorter names are never
 * touched (case included).
 */
import { hash53 } from "../../common/hash.ts";

export const MAX_TOOL_NAME = 64;

export function shortenToolName(name: string): string {
  if (name.length <= MAX_TOOL_NAME) return name;
  const suffix = `_${hash53(name).padStart(11, "0")}`;
  return name.slice(0, MAX_TOOL_NAME - suffix.length) + suffix;
}

/** upstream name → client name, for the names that were changed. */
export type ToolNameMap = ReadonlyMap<string, string>;

export function restoreToolName(map: ToolNameMap, upstreamName: string): string {
  return map.get(upstreamName) ?? upstreamName;
}
