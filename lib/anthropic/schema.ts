/**
 * zod schemas for what clients send: the Anthropic Messages API request.
 *
 * Lenient where Claude Code moves fast (unknown fields are stripped, unknown block
 * types become `{type: "unknown"}`), strict where a wrong value would change the
 * meaning (a known block type with the wrong shape is a 400).
 * Reference: https://docs.anthropic.com/en/api/messages
 */
import { z } from "zod";

const CacheControl = z.unknown().optional();

export const TextBlock = z.object({
  type: z.literal("text"),
  text: z.string(),
  cache_control: CacheControl,
});

const Base64Source = z.object({
  type: z.literal("base64"),
  media_type: z.string(),
  data: z.string(),
});
const UrlSource = z.object({ type: z.literal("url"), url: z.string() });
const FileSource = z.object({ type: z.literal("file"), file_id: z.string() });

export const ImageBlock = z.object({
  type: z.literal("image"),
  source: z.discriminatedUnion("type", [Base64Source, UrlSource, FileSource]),
  cache_control: CacheControl,
});

const TextSource = z.object({
  type: z.literal("text"),
  media_type: z.string().optional(),
  data: z.string(),
});
const ContentSource = z.object({
  type: z.literal("content"),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]),
});

export const DocumentBlock = z.object({
  type: z.literal("document"),
  source: z.discriminatedUnion("type", [
    Base64Source,
    UrlSource,
    FileSource,
    TextSource,
    ContentSource,
  ]),
  title: z.string().nullish(),
  context: z.string().nullish(),
  cache_control: CacheControl,
});

export const SearchResultBlock = z.object({
  type: z.literal("search_result"),
  source: z.string(),
  title: z.string(),
  content: z.array(z.object({ type: z.literal("text"), text: z.string() })),
  cache_control: CacheControl,
});

export const ToolReferenceBlock = z.object({
  type: z.literal("tool_reference"),
  tool_name: z.string(),
});

export const ThinkingBlock = z.object({
  type: z.literal("thinking"),
  thinking: z.string(),
  signature: z.string().optional(),
});

export const RedactedThinkingBlock = z.object({
  type: z.literal("redacted_thinking"),
  data: z.string(),
});

export const ToolUseBlock = z.object({
  type: z.literal("tool_use"),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.unknown(),
  cache_control: CacheControl,
});

/**
 * A change to the tool list inside the conversation (`role: "system"` messages, beta
 * mid-conversation-tool-changes-2026-07-01): a tool made visible by name or by its whole
 * definition, or taken away. Claude Code sends these when tools appear late (an MCP server that
 * connects mid-session).
 */
const ToolChange = z.object({
  kind: z.enum(["tool_addition", "tool_removal"]),
  tool: z.union([
    z.object({ type: z.literal("tool_reference"), name: z.string().min(1) }),
    z.object({
      type: z.literal("tool_definition"),
      definition: z.lazy(() => Tool),
    }),
  ]),
});
export type ToolChange = z.infer<typeof ToolChange>;

/**
 * Any block type this proxy does not map (server tools, future types): kept as a marker, with
 * the tool change it carries, if it is one.
 */
export const UnknownBlock = z.object({
  type: z.literal("unknown"),
  original_type: z.string(),
  tool_change: ToolChange.optional(),
});

const KNOWN_BLOCK_TYPES = new Set([
  "text",
  "image",
  "document",
  "search_result",
  "tool_reference",
  "thinking",
  "redacted_thinking",
  "tool_use",
  "tool_result",
]);

const KNOWN_SOURCE_TYPES: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["image", new Set(["base64", "url", "file"])],
  ["document", new Set(["base64", "url", "file", "text", "content"])],
]);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Rewrites unknown block types to `unknown` so the discriminated union accepts them; so too an
 * image or document whose source is of a type newer than this proxy (it has no OpenAI form).
 */
function markUnknown(block: unknown): unknown {
  if (isRecord(block)) {
    const type = block.type;
    if (typeof type === "string" && !KNOWN_BLOCK_TYPES.has(type)) {
      if (type === "tool_addition" || type === "tool_removal") {
        // A shape newer than this proxy stays a plain marker rather than failing the request.
        const change = ToolChange.safeParse({ kind: type, tool: block.tool });
        if (change.success) {
          return { type: "unknown", original_type: type, tool_change: change.data };
        }
      }
      return { type: "unknown", original_type: type };
    }
    const sources = typeof type === "string" ? KNOWN_SOURCE_TYPES.get(type) : undefined;
    const source = sources && isRecord(block.source) ? block.source.type : undefined;
    if (typeof source === "string" && !sources!.has(source)) {
      return { type: "unknown", original_type: `${type}:${source}` };
    }
  }
  return block;
}

const ToolResultContentBlock = z.preprocess(
  markUnknown,
  z.discriminatedUnion("type", [
    TextBlock,
    ImageBlock,
    DocumentBlock,
    SearchResultBlock,
    ToolReferenceBlock,
    UnknownBlock,
  ]),
);

export const ToolResultBlock = z.object({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(ToolResultContentBlock)]).optional(),
  is_error: z.boolean().optional(),
  cache_control: CacheControl,
});

export const ContentBlock = z.preprocess(
  markUnknown,
  z.discriminatedUnion("type", [
    TextBlock,
    ImageBlock,
    DocumentBlock,
    SearchResultBlock,
    ToolReferenceBlock,
    ThinkingBlock,
    RedactedThinkingBlock,
    ToolUseBlock,
    ToolResultBlock,
    UnknownBlock,
  ]),
);

export const Message = z.object({
  role: z.enum(["user", "assistant", "system"]),
  content: z.union([z.string(), z.array(ContentBlock)]),
});

const SystemBlock = z.preprocess(
  markUnknown,
  z.discriminatedUnion("type", [TextBlock, UnknownBlock]),
);

/** Some server tools have no name (`{type: "mcp_toolset", mcp_server_name}`): their type is it. */
function nameServerTool(tool: unknown): unknown {
  if (isRecord(tool) && tool.name === undefined && tool.input_schema === undefined) {
    if (typeof tool.type === "string") return { ...tool, name: tool.type };
  }
  return tool;
}

export const Tool = z.preprocess(
  nameServerTool,
  z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    // Server tools (web_search_20250305, …) have a `type` and no input_schema.
    type: z.string().optional(),
    input_schema: z.record(z.string(), z.unknown()).optional(),
    /** Tool search: hidden from the model until a tool_reference loads it. */
    defer_loading: z.boolean().optional(),
    cache_control: CacheControl,
  }),
);

export const ToolChoice = z.object({
  type: z.enum(["auto", "any", "tool", "none"]),
  name: z.string().optional(),
  disable_parallel_tool_use: z.boolean().optional(),
});

export const Thinking = z.object({
  // "enabled", "disabled", "adaptive", or a mode newer than this proxy (Claude Code adopts new
  // ones as they ship, as it did adaptive): any other than disabled asks for thinking.
  type: z.string(),
  budget_tokens: z.number().int().nonnegative().optional(),
});

export const OutputFormat = z.object({
  type: z.literal("json_schema"),
  schema: z.record(z.string(), z.unknown()),
});

export const OutputConfig = z.object({
  effort: z.string().optional(),
  // A format type other than json_schema (newer than this proxy) has no mapping: plain text.
  format: z.preprocess(
    (v) => (isRecord(v) && v.type !== "json_schema" ? undefined : v),
    OutputFormat.nullish(),
  ),
});

/** Largest max_tokens we accept before clamping: anything beyond is a client error. */
const MAX_TOKENS_CEILING = 100_000_000;

export const MessagesRequest = z.object({
  model: z.string().min(1),
  max_tokens: z.number().int().positive().max(MAX_TOKENS_CEILING),
  messages: z.array(Message).min(1),
  system: z.union([z.string(), z.array(SystemBlock)]).optional(),
  stop_sequences: z.array(z.string()).optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().nonnegative().optional(),
  metadata: z.object({ user_id: z.string().nullish() }).nullish(),
  tools: z.array(Tool).optional(),
  tool_choice: ToolChoice.optional(),
  thinking: Thinking.optional(),
  output_config: OutputConfig.optional(),
});

const REQUEST_FIELDS: ReadonlySet<string> = new Set(Object.keys(MessagesRequest.shape));

/** Top-level request fields the schema strips (context_management, newer ones), for the log. */
export function ignoredFields(raw: unknown): string[] {
  if (!isRecord(raw)) return [];
  return Object.keys(raw).filter((key) => !REQUEST_FIELDS.has(key)).map((key) => `field:${key}`);
}

/** count_tokens takes the same body without max_tokens. */
export const CountTokensRequest = MessagesRequest.omit({ max_tokens: true, stream: true }).extend({
  max_tokens: z.number().int().positive().optional(),
});

export type MessagesRequest = z.infer<typeof MessagesRequest>;
export type CountTokensRequest = z.infer<typeof CountTokensRequest>;
export type Message = z.infer<typeof Message>;
export type ContentBlock = z.infer<typeof ContentBlock>;
export type ToolResultBlock = z.infer<typeof ToolResultBlock>;
export type ToolResultContentBlock = z.infer<typeof ToolResultContentBlock>;
export type Tool = z.infer<typeof Tool>;
export type ImageBlock = z.infer<typeof ImageBlock>;
export type DocumentBlock = z.infer<typeof DocumentBlock>;

/** Anthropic response and stream shapes we produce (plain types, built by our code). */
export type StopReason =
  | "end_turn"
  | "max_tokens"
  | "stop_sequence"
  | "tool_use"
  | "refusal"
  | "pause_turn";

export type Usage = {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
  /** Server tools the proxy ran for this message (web search, web fetch). */
  server_tool_use?: { web_search_requests: number; web_fetch_requests?: number };
};

/**
 * Server tool blocks (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool,
 * …/web-fetch-tool): the call, and its result as one block that streams whole in
 * content_block_start.
 */
export type ServerToolUseBlock = {
  type: "server_tool_use";
  id: string;
  name: string;
  input: Record<string, unknown>;
};
export type WebSearchResult = {
  type: "web_search_result";
  url: string;
  title: string;
  encrypted_content: string;
  page_age: string | null;
};
export type WebSearchToolResultBlock = {
  type: "web_search_tool_result";
  tool_use_id: string;
  content: WebSearchResult[] | { type: "web_search_tool_result_error"; error_code: string };
};
export type WebFetchToolResultBlock = {
  type: "web_fetch_tool_result";
  tool_use_id: string;
  content: {
    type: "web_fetch_result";
    url: string;
    content: {
      type: "document";
      source: { type: "text"; media_type: string; data: string };
      title: string | null;
    };
    retrieved_at: string;
  } | { type: "web_fetch_tool_result_error"; error_code: string };
};
export type ServerToolResultBlock = WebSearchToolResultBlock | WebFetchToolResultBlock;

/** A text block's source in a web search result. */
export type WebSearchCitation = {
  type: "web_search_result_location";
  url: string;
  title: string;
  encrypted_index: string;
  cited_text: string;
};

export type ResponseBlock =
  | { type: "text"; text: string; citations?: WebSearchCitation[] }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> }
  | ServerToolUseBlock
  | ServerToolResultBlock;

export type MessageResponse = {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: ResponseBlock[];
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: Usage;
};

export type StreamEvent =
  | { type: "message_start"; message: MessageResponse }
  | {
    type: "content_block_start";
    index: number;
    content_block:
      | { type: "text"; text: "" }
      | { type: "thinking"; thinking: ""; signature: "" }
      | { type: "tool_use"; id: string; name: string; input: Record<string, never> }
      | { type: "server_tool_use"; id: string; name: string; input: Record<string, never> }
      | ServerToolResultBlock;
  }
  | {
    type: "content_block_delta";
    index: number;
    delta:
      | { type: "text_delta"; text: string }
      | { type: "thinking_delta"; thinking: string }
      | { type: "signature_delta"; signature: string }
      | { type: "input_json_delta"; partial_json: string }
      | { type: "citations_delta"; citation: WebSearchCitation };
  }
  | { type: "content_block_stop"; index: number }
  | {
    type: "message_delta";
    delta: { stop_reason: StopReason | null; stop_sequence: string | null };
    usage: Usage;
  }
  | { type: "message_stop" }
  | { type: "ping" }
  | { type: "error"; error: { type: string; message: string } }
  | RawStreamEvent;

/**
 * An event passed on as an Anthropic-speaking upstream sent it: its SSE event name and JSON
 * text, written out unchanged (see upstreams/anthropic/).
 */
export type RawStreamEvent = { type: "raw"; event: string; data: string };
