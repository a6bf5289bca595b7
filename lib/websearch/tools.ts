/**
 * The server tools a client asks for (`web_search_20250305`, `web_fetch_20250910` and their
 * newer dated versions), read from the raw request: the client schema keeps only a tool's name
 * and type, while these carry their limits (max_uses, allowed_domains, blocked_domains).
 * https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool
 * https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-fetch-tool
 */
import { z } from "zod";
import { invalidRequest } from "../anthropic/errors.ts";
import type { Tool } from "../anthropic/schema.ts";
import { formatZodError } from "../anthropic/validation.ts";

export type ServerToolKind = "web_search" | "web_fetch";

export type ServerTool = Readonly<{
  kind: ServerToolKind;
  /** The tool's name in the request, and the function name the upstream model sees. */
  name: string;
  maxUses: number | undefined;
  allowedDomains: readonly string[] | undefined;
  blockedDomains: readonly string[] | undefined;
  /** web_fetch: the page text is cut to about this many tokens. */
  maxContentTokens: number | undefined;
}>;

const KIND_BY_TYPE: readonly [RegExp, ServerToolKind][] = [
  [/^web_search_\d{8}$/, "web_search"],
  [/^web_fetch_\d{8}$/, "web_fetch"],
];

export function serverToolKind(type: string | undefined): ServerToolKind | undefined {
  if (type === undefined) return undefined;
  return KIND_BY_TYPE.find(([pattern]) => pattern.test(type))?.[1];
}

const Domains = z.array(z.string().trim().min(1)).nullish();

const ServerToolDefinition = z.object({
  type: z.string(),
  name: z.string().min(1),
  max_uses: z.number().int().positive().nullish(),
  allowed_domains: Domains,
  blocked_domains: Domains,
  max_content_tokens: z.number().int().positive().nullish(),
});

/** The web server tools of a request, in order; a 400 for a definition Anthropic would refuse. */
export function serverToolsOf(raw: unknown): ServerTool[] {
  if (raw === null || typeof raw !== "object" || !("tools" in raw)) return [];
  const tools = raw.tools;
  if (!Array.isArray(tools)) return [];
  const out: ServerTool[] = [];
  tools.forEach((tool: unknown, i) => {
    const type = tool !== null && typeof tool === "object" && "type" in tool
      ? tool.type
      : undefined;
    const kind = serverToolKind(typeof type === "string" ? type : undefined);
    if (kind === undefined) return;
    const parsed = ServerToolDefinition.safeParse(tool);
    if (!parsed.success) {
      throw invalidRequest(`tools.${i}: ${formatZodError(parsed.error)}`);
    }
    const def = parsed.data;
    if (def.allowed_domains && def.blocked_domains) {
      throw invalidRequest(
        `tools.${i}: ${def.type} takes allowed_domains or blocked_domains, not both`,
      );
    }
    out.push({
      kind,
      name: def.name,
      maxUses: def.max_uses ?? undefined,
      allowedDomains: def.allowed_domains ?? undefined,
      blockedDomains: def.blocked_domains ?? undefined,
      maxContentTokens: def.max_content_tokens ?? undefined,
    });
  });
  return out;
}

/** Longest query sent to a backend: Brave's documented limit (400 characters, 50 words). */
export const MAX_QUERY_CHARS = 400;
/** Longest URL web_fetch takes, as Anthropic's tool documents (250 characters). */
export const MAX_FETCH_URL_CHARS = 250;

/** The function tool the upstream model is offered in place of a server tool. */
export function functionToolFor(tool: ServerTool): Tool {
  if (tool.kind === "web_search") {
    const scope = tool.allowedDomains
      ? ` Only results from these domains are returned: ${tool.allowedDomains.join(", ")}.`
      : tool.blockedDomains
      ? ` Results from these domains are left out: ${tool.blockedDomains.join(", ")}.`
      : "";
    return {
      name: tool.name,
      description: "Search the web for current information. Returns the top results with " +
        `their title, URL and a snippet; cite the URLs you use.${scope}`,
      input_schema: {
        type: "object",
        properties: {
          query: {
            type: "string",
            description: `The search query (at most ${MAX_QUERY_CHARS} characters).`,
          },
        },
        required: ["query"],
      },
    };
  }
  return {
    name: tool.name,
    description: "Fetch a web page or text document by URL and return its text. Use URLs the " +
      "user gave or that earlier search or fetch results returned.",
    input_schema: {
      type: "object",
      properties: {
        url: { type: "string", description: "The http(s) URL to fetch." },
      },
      required: ["url"],
    },
  };
}
