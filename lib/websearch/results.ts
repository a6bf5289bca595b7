/**
 * What a server tool call gives the client (a `web_search_tool_result` or `web_fetch_tool_result`
 * block, Anthropic's shapes) and what it gives the model (the text of a tool result). Pure.
 */
import type {
  ServerToolResultBlock,
  WebFetchToolResultBlock,
  WebSearchResult,
} from "../anthropic/schema.ts";
import { fromBase64Url, toBase64Url } from "../common/base64.ts";

export type SearchHit = { title: string; url: string; snippet: string; pageAge: string | null };

export type FetchedPage = {
  url: string;
  title: string | null;
  mediaType: string;
  text: string;
  /** The page was longer than the limits and was cut. */
  truncated: boolean;
};

/** The documented error codes of the two tools. */
export type SearchErrorCode =
  | "invalid_tool_input"
  | "unavailable"
  | "max_uses_exceeded"
  | "too_many_requests"
  | "query_too_long";
export type FetchErrorCode =
  | "invalid_tool_input"
  | "url_too_long"
  | "url_not_allowed"
  | "url_not_accessible"
  | "too_many_requests"
  | "unsupported_content_type"
  | "max_uses_exceeded"
  | "unavailable";

export type ToolOutcome =
  | { kind: "web_search"; query: string; hits: SearchHit[] }
  | { kind: "web_search"; query: string | undefined; error: SearchErrorCode }
  | { kind: "web_fetch"; page: FetchedPage; retrievedAt: string }
  | { kind: "web_fetch"; url: string | undefined; error: FetchErrorCode };

/**
 * Anthropic's `encrypted_content` is opaque to clients and only meaningful when sent back. Ours
 * carries the snippet (base64url, not encrypted: it is public search output), marked so that a
 * later request's history can give the model the same text again.
 */
const CONTENT_MARK = "ccp1.";

export function encodeSnippet(snippet: string): string {
  return CONTENT_MARK + toBase64Url(snippet);
}

/** The snippet in an `encrypted_content` this proxy wrote; undefined for any other. */
export function decodeSnippet(encrypted: string): string | undefined {
  if (!encrypted.startsWith(CONTENT_MARK)) return undefined;
  try {
    return fromBase64Url(encrypted.slice(CONTENT_MARK.length));
  } catch {
    return undefined;
  }
}

export function resultBlock(toolUseId: string, outcome: ToolOutcome): ServerToolResultBlock {
  if (outcome.kind === "web_search") {
    if ("error" in outcome) {
      return {
        type: "web_search_tool_result",
        tool_use_id: toolUseId,
        content: { type: "web_search_tool_result_error", error_code: outcome.error },
      };
    }
    const content: WebSearchResult[] = outcome.hits.map((hit) => ({
      type: "web_search_result",
      url: hit.url,
      title: hit.title,
      encrypted_content: encodeSnippet(hit.snippet),
      page_age: hit.pageAge,
    }));
    return { type: "web_search_tool_result", tool_use_id: toolUseId, content };
  }
  if ("error" in outcome) {
    return {
      type: "web_fetch_tool_result",
      tool_use_id: toolUseId,
      content: { type: "web_fetch_tool_result_error", error_code: outcome.error },
    };
  }
  const fetched: WebFetchToolResultBlock["content"] = {
    type: "web_fetch_result",
    url: outcome.page.url,
    content: {
      type: "document",
      source: { type: "text", media_type: outcome.page.mediaType, data: outcome.page.text },
      title: outcome.page.title,
    },
    retrieved_at: outcome.retrievedAt,
  };
  return { type: "web_fetch_tool_result", tool_use_id: toolUseId, content: fetched };
}

const ERROR_TEXT: Readonly<Record<SearchErrorCode | FetchErrorCode, string>> = {
  invalid_tool_input: "the tool input was invalid",
  unavailable: "the tool is unavailable right now",
  max_uses_exceeded: "the maximum number of uses of this tool for this request was reached; " +
    "answer with what you have",
  too_many_requests: "the service is rate limited; try again later or answer with what you have",
  query_too_long: "the query is too long; use a shorter one",
  url_too_long: "the URL is too long",
  url_not_allowed: "fetching this URL is not allowed",
  url_not_accessible: "the URL could not be fetched",
  unsupported_content_type: "the content type of this URL is not supported",
};

/** The tool result the model reads. */
export function modelText(outcome: ToolOutcome): { text: string; isError: boolean } {
  if ("error" in outcome) {
    return { text: `Error (${outcome.error}): ${ERROR_TEXT[outcome.error]}.`, isError: true };
  }
  if (outcome.kind === "web_search") {
    if (outcome.hits.length === 0) {
      return { text: `No results for "${outcome.query}".`, isError: false };
    }
    return { text: searchText(outcome.query, outcome.hits), isError: false };
  }
  const page = outcome.page;
  const head = `Content of ${page.url}${page.title ? ` (${page.title})` : ""}:`;
  const tail = page.truncated ? "\n\n[content truncated]" : "";
  return { text: `${head}\n\n${page.text}${tail}`, isError: false };
}

export function searchText(query: string | undefined, hits: readonly SearchHit[]): string {
  const lines = hits.map((hit, i) =>
    [
      `[${i + 1}] ${hit.title}`,
      `URL: ${hit.url}`,
      ...(hit.pageAge ? [`Published: ${hit.pageAge}`] : []),
      ...(hit.snippet ? [hit.snippet] : []),
    ].join("\n")
  );
  const head = query === undefined ? "Web search results:" : `Web search results for "${query}":`;
  return `${head}\n\n${lines.join("\n\n")}`;
}
