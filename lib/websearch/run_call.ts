/**
 * Runs one server tool call the upstream model made: checks its input and the tool's max_uses,
 * then searches or fetches. Always returns an outcome (a result or a documented error code).
 */
import type { SearchSettings } from "../ops/search_settings.ts";
import type { Fetch } from "../upstreams/transport.ts";
import { domainFilter } from "./domains.ts";
import { type AddressGuard, fetchPage } from "./fetch_page.ts";
import type { ToolOutcome } from "./results.ts";
import { webSearch } from "./search_backends.ts";
import { MAX_QUERY_CHARS, type ServerTool, type ServerToolKind } from "./tools.ts";

export type CallDeps = {
  settings: SearchSettings;
  fetch: Fetch;
  /** Undefined: web_fetch is not offered (no address check on this runtime). */
  guard: AddressGuard | undefined;
  signal: AbortSignal;
  now: () => Date;
  /** Whether web_fetch may fetch this URL: it appeared in the conversation or in a result. */
  urlKnown: (url: string) => boolean;
  /** Why a call failed, for the log (never shown to the client). */
  onFailure: (tool: ServerToolKind, detail: string) => void;
};

/** The rough size of a token in English text, for max_content_tokens. */
const CHARS_PER_TOKEN = 4;
/**
 * A page's text is cut here when the tool sets no max_content_tokens: about 25k tokens, so that
 * one page cannot fill a model's context window by itself.
 */
const DEFAULT_MAX_CHARS = 100_000;

/** Uses of each tool so far in one client request, for max_uses. */
export class UseCounter {
  #uses = new Map<string, number>();
  /** Counts a use; false when the tool's max_uses is already reached. */
  take(tool: ServerTool): boolean {
    const used = this.#uses.get(tool.name) ?? 0;
    if (tool.maxUses !== undefined && used >= tool.maxUses) return false;
    this.#uses.set(tool.name, used + 1);
    return true;
  }
}

function stringField(input: unknown, key: string): string | undefined {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return undefined;
  const value = (input as Record<string, unknown>)[key];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

export async function runServerCall(
  tool: ServerTool,
  input: unknown,
  uses: UseCounter,
  deps: CallDeps,
): Promise<ToolOutcome> {
  if (tool.kind === "web_search") {
    const query = stringField(input, "query");
    if (query === undefined) return { kind: "web_search", query, error: "invalid_tool_input" };
    if (query.length > MAX_QUERY_CHARS) {
      return { kind: "web_search", query, error: "query_too_long" };
    }
    if (!uses.take(tool)) return { kind: "web_search", query, error: "max_uses_exceeded" };
    const answer = await webSearch(
      deps.settings,
      {
        query,
        allowedDomains: tool.allowedDomains,
        blockedDomains: tool.blockedDomains,
      },
      deps.fetch,
      deps.signal,
    );
    if (!answer.ok) {
      deps.onFailure("web_search", answer.detail);
      return { kind: "web_search", query, error: answer.error };
    }
    return { kind: "web_search", query, hits: answer.hits };
  }
  const url = stringField(input, "url");
  if (url === undefined) return { kind: "web_fetch", url, error: "invalid_tool_input" };
  if (!uses.take(tool)) return { kind: "web_fetch", url, error: "max_uses_exceeded" };
  if (deps.guard === undefined) return { kind: "web_fetch", url, error: "unavailable" };
  const answer = await fetchPage(url, {
    fetch: deps.fetch,
    guard: deps.guard,
    known: deps.urlKnown,
    domains: domainFilter(tool.allowedDomains, tool.blockedDomains),
    limits: {
      timeoutMs: deps.settings.timeoutMs,
      maxBytes: deps.settings.fetchMaxBytes,
      maxChars: tool.maxContentTokens === undefined
        ? DEFAULT_MAX_CHARS
        : tool.maxContentTokens * CHARS_PER_TOKEN,
    },
    signal: deps.signal,
  });
  if (!answer.ok) {
    deps.onFailure("web_fetch", answer.detail);
    return { kind: "web_fetch", url, error: answer.error };
  }
  return { kind: "web_fetch", page: answer.page, retrievedAt: deps.now().toISOString() };
}
