/**
 * Server tool blocks in the history a client sends back (`server_tool_use`, then its
 * `web_search_tool_result` / `web_fetch_tool_result` in the same assistant message) → a tool call
 * and a tool result the upstream model can read, so it keeps what it found in later turns.
 * The client schema keeps these blocks only as markers; their content is read from the raw body,
 * at the same positions. Results written by this proxy carry their snippets (results.ts); others
 * (Anthropic's encrypted ones) give their titles and URLs. Pure.
 */
import { z } from "zod";
import type { ContentBlock, Message, MessagesRequest } from "../anthropic/schema.ts";
import { decodeSnippet, type SearchHit, searchText } from "./results.ts";

const ServerToolUse = z.object({
  type: z.literal("server_tool_use"),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.unknown(),
});

const SearchResultContent = z.union([
  z.array(z.object({
    url: z.string(),
    title: z.string().nullish(),
    encrypted_content: z.string().nullish(),
    page_age: z.string().nullish(),
  })),
  z.object({ error_code: z.string() }),
]);

const SearchResult = z.object({
  type: z.literal("web_search_tool_result"),
  tool_use_id: z.string().min(1),
  content: SearchResultContent,
});

const FetchResult = z.object({
  type: z.literal("web_fetch_tool_result"),
  tool_use_id: z.string().min(1),
  content: z.union([
    z.object({
      type: z.literal("web_fetch_result"),
      url: z.string(),
      content: z.object({
        source: z.object({ data: z.string() }).nullish(),
        title: z.string().nullish(),
      }).nullish(),
    }),
    z.object({ error_code: z.string() }),
  ]),
});

const ServerBlock = z.discriminatedUnion("type", [ServerToolUse, SearchResult, FetchResult]);

function resultText(block: z.infer<typeof SearchResult> | z.infer<typeof FetchResult>): string {
  const content = block.content;
  if ("error_code" in content) return `Error (${content.error_code}).`;
  if (block.type === "web_fetch_tool_result" && "url" in content) {
    const title = content.content?.title;
    return `Content of ${content.url}${title ? ` (${title})` : ""}:\n\n${
      content.content?.source?.data ?? ""
    }`;
  }
  const hits: SearchHit[] = (Array.isArray(content) ? content : []).map((r) => ({
    title: r.title ?? r.url,
    url: r.url,
    snippet: r.encrypted_content ? decodeSnippet(r.encrypted_content) ?? "" : "",
    pageAge: r.page_age ?? null,
  }));
  return searchText(undefined, hits);
}

function rawContent(raw: unknown, index: number): unknown[] | undefined {
  if (raw === null || typeof raw !== "object" || !("messages" in raw)) return undefined;
  const messages = raw.messages;
  if (!Array.isArray(messages)) return undefined;
  const message: unknown = messages[index];
  if (message === null || typeof message !== "object" || !("content" in message)) {
    return undefined;
  }
  return Array.isArray(message.content) ? message.content : undefined;
}

/** The request with each assistant message's server tool blocks turned into calls and results. */
export function restoreServerBlocks(raw: unknown, request: MessagesRequest): MessagesRequest {
  let changed = false;
  const messages: Message[] = [];
  /** Results that end an assistant message, for the start of the user message after it. */
  let carried: ContentBlock[] = [];
  request.messages.forEach((message, i) => {
    if (carried.length > 0) {
      const content: ContentBlock[] = typeof message.content === "string"
        ? [{ type: "text", text: message.content }]
        : message.content;
      messages.push({ ...message, content: [...carried, ...content] });
      carried = [];
      return;
    }
    const original = message.role === "assistant" && Array.isArray(message.content)
      ? rawContent(raw, i)
      : undefined;
    if (!original || typeof message.content === "string") {
      messages.push(message);
      return;
    }
    let assistant: ContentBlock[] = [];
    let results: ContentBlock[] = [];
    const flush = () => {
      if (assistant.length > 0) messages.push({ role: "assistant", content: assistant });
      if (results.length > 0) messages.push({ role: "user", content: results });
      assistant = [];
      results = [];
    };
    message.content.forEach((block, j) => {
      const parsed = block.type === "unknown" ? ServerBlock.safeParse(original[j]) : undefined;
      if (!parsed?.success) {
        if (results.length > 0) flush();
        assistant.push(block);
        return;
      }
      changed = true;
      const server = parsed.data;
      if (server.type === "server_tool_use") {
        if (results.length > 0) flush();
        assistant.push({ type: "tool_use", id: server.id, name: server.name, input: server.input });
      } else {
        results.push({
          type: "tool_result",
          tool_use_id: server.tool_use_id,
          content: resultText(server),
        });
      }
    });
    // A turn that also called a client tool ends [server call, client call, server result]:
    // both results must follow the calls in one user turn, or the client's result, which comes
    // in the next message, would no longer answer a call.
    if (results.length > 0 && request.messages[i + 1]?.role === "user") {
      if (assistant.length > 0) messages.push({ role: "assistant", content: assistant });
      carried = results;
      return;
    }
    flush();
  });
  return changed ? { ...request, messages } : request;
}
