/**
 * Request bodies for the load generator: the Anthropic request sent to the proxy and the
 * equivalent OpenAI request sent straight to the upstream (the "direct" baseline).
 *
 * Bodies are serialised once per scenario and split around the nonce, so a request costs the
 * client one string concatenation instead of a JSON.stringify of up to ~130 KB.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { marker, type Scenario } from "./scenarios.ts";

export type Api = "anthropic" | "openai";
export type BodyTemplate = Readonly<{ head: string; tail: string; bytes: number }>;

const NONCE_SLOT = "NONCESLOT";
export const FIXTURE_URL = new URL(
  "../tests/fixtures/claude-code/01-main-first-turn-stream.json",
  import.meta.url,
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function template(body: JsonObject): BodyTemplate {
  const text = JSON.stringify(body);
  const parts = text.split(NONCE_SLOT);
  if (parts.length !== 2 || parts[0] === undefined || parts[1] === undefined) {
    throw new Error(`the nonce slot must occur exactly once, found ${parts.length - 1}`);
  }
  return { head: parts[0], tail: parts[1], bytes: new TextEncoder().encode(text).length };
}

const WRITE_TOOL: JsonObject = {
  name: "Write",
  description: "Writes a file to the local filesystem.",
  input_schema: {
    type: "object",
    properties: {
      file_path: { type: "string", description: "The absolute path to the file to write" },
      content: { type: "string", description: "The content to write to the file" },
    },
    required: ["file_path", "content"],
    additionalProperties: false,
  },
};

function smallAnthropic(s: Scenario): JsonObject {
  const body: JsonObject = {
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    stream: s.stream,
    system: [{ type: "text", text: "You are a helpful assistant under benchmark." }],
    messages: [{
      role: "user",
      content: [{ type: "text", text: `Please answer. ${marker(s.name, NONCE_SLOT)}` }],
    }],
  };
  if (s.kind === "tool") body.tools = [WRITE_TOOL];
  return body;
}

/** Filler that reads like project instructions, so compression-free sizes stay realistic. */
const FILLER_LINES = [
  "- Prefer small, focused modules; keep public APIs narrow and documented.",
  "- Run the formatter and the linter before every commit; CI rejects unformatted code.",
  "- Tests live next to the code they cover and must not touch the network.",
  "- When a change alters behaviour, update the changelog entry for the next release.",
  "- Use structured logging; never log secrets, tokens or full request bodies.",
];

function padding(bytes: number): string {
  const lines: string[] = ["# Project instructions (CLAUDE.md)"];
  let size = lines[0]?.length ?? 0;
  for (let i = 0; size < bytes; i++) {
    const line = `${FILLER_LINES[i % FILLER_LINES.length]} (rule ${i + 1})`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join("\n");
}

/**
 * The real Claude Code first turn (24 tools, ~64 KB of tool schemas) with its system prompt
 * padded to `systemBytes` of JSON, as a long CLAUDE.md would make it.
 */
function claudeCodeAnthropic(s: Scenario, systemBytes: number): JsonObject {
  const fixture = JSON.parse(readFileSync(fileURLToPath(FIXTURE_URL), "utf8")) as Json;
  const body = isObject(fixture) ? fixture.body : undefined;
  if (!isObject(body) || !Array.isArray(body.messages) || !Array.isArray(body.system)) {
    throw new Error(`unexpected fixture shape in ${FIXTURE_URL.pathname}`);
  }
  const system = body.system;
  const have = JSON.stringify(system).length;
  if (have < systemBytes) system.push({ type: "text", text: padding(systemBytes - have - 40) });
  // The marker goes into the user's own words, the last text block of the first user turn.
  const first = body.messages.find((m) => isObject(m) && m.role === "user");
  const content = isObject(first) ? first.content : undefined;
  const last = Array.isArray(content) ? content[content.length - 1] : undefined;
  if (!isObject(last) || typeof last.text !== "string") {
    throw new Error("fixture: the first user message has no trailing text block");
  }
  last.text = `${last.text} ${marker(s.name, NONCE_SLOT)}`;
  body.stream = s.stream;
  return body;
}

function textOf(content: Json | undefined): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((b) => (isObject(b) && typeof b.text === "string" ? b.text : "")).join("\n");
}

/**
 * What a proxy would send upstream for `anthropic`, reduced to the parts that cost bytes and
 * parsing (text and tool schemas), so the direct baseline carries the same payload.
 */
function toOpenAI(anthropic: JsonObject): JsonObject {
  const messages: Json[] = [];
  const system = textOf(anthropic.system);
  if (system) messages.push({ role: "system", content: system });
  for (const m of Array.isArray(anthropic.messages) ? anthropic.messages : []) {
    if (isObject(m) && typeof m.role === "string") {
      messages.push({ role: m.role, content: textOf(m.content) });
    }
  }
  const body: JsonObject = {
    model: "gpt-4o",
    messages,
    max_tokens: typeof anthropic.max_tokens === "number"
      ? Math.min(anthropic.max_tokens, 16384)
      : 1024,
    stream: anthropic.stream === true,
  };
  if (body.stream) body.stream_options = { include_usage: true };
  if (Array.isArray(anthropic.tools)) {
    body.tools = anthropic.tools.filter(isObject).map((t) => ({
      type: "function",
      function: {
        name: t.name ?? "",
        description: t.description ?? "",
        parameters: t.input_schema ?? {},
      },
    }));
  }
  return body;
}

export function buildTemplate(api: Api, s: Scenario, systemBytes: number): BodyTemplate {
  const anthropic = s.request === "claude-code"
    ? claudeCodeAnthropic(s, systemBytes)
    : smallAnthropic(s);
  return template(api === "anthropic" ? anthropic : toOpenAI(anthropic));
}
