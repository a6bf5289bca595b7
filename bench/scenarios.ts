/**
 * The benchmark scenarios, shared by the fake upstream (which produces the answers) and the
 * load generator (which checks them). Everything an answer contains is a pure function of
 * (scenario, nonce), so the client can verify every byte without a side channel; the only
 * exception is the send timestamp embedded in the gap scenarios, which is stripped before
 * comparing.
 *
 * This module must stay free of I/O: the fake upstream imports it under Bun and Deno.
 */

export const SCENARIO_NAMES = ["json", "s50", "s200", "s50g20", "s200g20", "tool", "cc"] as const;
export type ScenarioName = typeof SCENARIO_NAMES[number];

export type Scenario = Readonly<{
  name: ScenarioName;
  description: string;
  /** Whether the client asks for a stream (the upstream answers the way it is asked). */
  stream: boolean;
  /** "tool" answers with a short text and then one streamed tool call. */
  kind: "text" | "tool";
  /** Text content chunks the upstream sends (for "tool", the text before the call). */
  chunks: number;
  /** Delay between content chunks; 0 means back to back. */
  gapMs: number;
  /** Prefix every chunk with its send time so the client can measure per-chunk lag. */
  timestamps: boolean;
  /** "claude-code" is the real Claude Code first turn (~24 tools) with the system padded. */
  request: "small" | "claude-code";
  /** What the upstream reports; cached tokens test that input = prompt - cached. */
  promptTokens: number;
  cachedTokens: number;
}>;

/** The text before the tool call in the "tool" and "cc" answers. */
const TOOL_TEXT = ["I'll ", "create ", "the file ", "`out.txt`", "."];

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = {
  json: {
    name: "json",
    description: "non-streaming answer (50 words)",
    stream: false,
    kind: "text",
    chunks: 50,
    gapMs: 0,
    timestamps: false,
    request: "small",
    promptTokens: 1200,
    cachedTokens: 200,
  },
  s50: {
    name: "s50",
    description: "stream, 50 chunks, no gap",
    stream: true,
    kind: "text",
    chunks: 50,
    gapMs: 0,
    timestamps: false,
    request: "small",
    promptTokens: 1200,
    cachedTokens: 200,
  },
  s200: {
    name: "s200",
    description: "stream, 200 chunks, no gap",
    stream: true,
    kind: "text",
    chunks: 200,
    gapMs: 0,
    timestamps: false,
    request: "small",
    promptTokens: 1200,
    cachedTokens: 200,
  },
  s50g20: {
    name: "s50g20",
    description: "stream, 50 chunks, 20 ms apart (~1 s per request)",
    stream: true,
    kind: "text",
    chunks: 50,
    gapMs: 20,
    timestamps: true,
    request: "small",
    promptTokens: 1200,
    cachedTokens: 200,
  },
  s200g20: {
    name: "s200g20",
    description: "stream, 200 chunks, 20 ms apart (~4 s per request)",
    stream: true,
    kind: "text",
    chunks: 200,
    gapMs: 20,
    timestamps: true,
    request: "small",
    promptTokens: 1200,
    cachedTokens: 200,
  },
  tool: {
    name: "tool",
    description: "stream, short text then a tool call with arguments in fragments",
    stream: true,
    kind: "tool",
    chunks: TOOL_TEXT.length,
    gapMs: 0,
    timestamps: false,
    request: "small",
    promptTokens: 1500,
    cachedTokens: 0,
  },
  cc: {
    name: "cc",
    description: "Claude-Code-sized request (fixture, system padded), streamed tool call",
    stream: true,
    kind: "tool",
    chunks: TOOL_TEXT.length,
    gapMs: 0,
    timestamps: false,
    request: "claude-code",
    promptTokens: 31_000,
    cachedTokens: 28_000,
  },
};

export function isScenarioName(s: string): s is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(s);
}

/**
 * The marker the client puts in the user message and the upstream looks for. It travels in
 * message text because that is the one thing any proxy must forward unchanged; model names
 * get mapped and custom headers get dropped.
 */
export const MARKER_PREFIX = "[bench-scenario=";
export function marker(name: ScenarioName, nonce: string): string {
  return `${MARKER_PREFIX}${name};nonce=${nonce}]`;
}

/** Finds the marker in a raw request body without parsing it. */
export function findMarker(body: string): { name: ScenarioName; nonce: string } | undefined {
  const at = body.indexOf(MARKER_PREFIX);
  if (at < 0) return undefined;
  const end = body.indexOf("]", at);
  if (end < 0) return undefined;
  const m = /^([a-z0-9]+);nonce=([A-Za-z0-9]+)$/.exec(body.slice(at + MARKER_PREFIX.length, end));
  if (!m || m[1] === undefined || m[2] === undefined || !isScenarioName(m[1])) return undefined;
  return { name: m[1], nonce: m[2] };
}

/**
 * Token-sized pieces with the characters a converter can get wrong: quotes, backslashes,
 * newlines, non-ASCII and an astral-plane emoji (which the upstream's chunked encoding may
 * split across reads).
 */
function word(i: number): string {
  switch (i % 10) {
    case 3:
      return `café${i} `;
    case 5:
      return `"q${i}" `;
    case 7:
      return `a\\b${i}\n`;
    case 9:
      return i % 20 === 9 ? `😀${i} ` : `<${i}> `;
    default:
      return `w${i} `;
  }
}

/** The text content chunks, without timestamps. The nonce ties an answer to its request. */
export function textChunks(s: Scenario, nonce: string): string[] {
  if (s.kind === "tool") return TOOL_TEXT.map((t, i) => (i === 0 ? `[${nonce}] ${t}` : t));
  const out: string[] = [];
  for (let i = 0; i < s.chunks; i++) out.push(i === 0 ? `[${nonce}] ${word(i)}` : word(i));
  return out;
}

export type ToolCall = Readonly<{ id: string; name: string; args: string; fragments: string[] }>;

/** One tool call whose JSON arguments arrive in ~8-byte fragments, as real upstreams do. */
export function toolCall(nonce: string): ToolCall {
  const args = JSON.stringify({
    file_path: `/tmp/bench/${nonce}/out.txt`,
    content: 'hello\n"quoted" \\ café 😀\n',
  });
  const fragments: string[] = [];
  for (let i = 0; i < args.length; i += 8) fragments.push(args.slice(i, i + 8));
  return { id: `call_${nonce}`, name: "Write", args, fragments };
}

/** The usage object the fake upstream reports for a scenario, as OpenAI shapes it. */
export function upstreamUsage(s: Scenario): Record<string, unknown> {
  const completion = completionTokens(s);
  return {
    prompt_tokens: s.promptTokens,
    completion_tokens: completion,
    total_tokens: s.promptTokens + completion,
    prompt_tokens_details: { cached_tokens: s.cachedTokens },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

export type Expected = Readonly<{
  text: string;
  tool: { name: string; args: unknown } | undefined;
  stopReason: "end_turn" | "tool_use";
  finishReason: "stop" | "tool_calls";
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  /** What an Anthropic client must see: prompt minus cached. */
  inputTokens: number;
}>;

export function completionTokens(s: Scenario): number {
  return s.kind === "tool" ? s.chunks + toolCall("x").fragments.length : s.chunks;
}

export function expected(s: Scenario, nonce: string): Expected {
  const call = s.kind === "tool" ? toolCall(nonce) : undefined;
  return {
    text: textChunks(s, nonce).join(""),
    tool: call ? { name: call.name, args: JSON.parse(call.args) } : undefined,
    stopReason: call ? "tool_use" : "end_turn",
    finishReason: call ? "tool_calls" : "stop",
    promptTokens: s.promptTokens,
    cachedTokens: s.cachedTokens,
    completionTokens: completionTokens(s),
    inputTokens: s.promptTokens - s.cachedTokens,
  };
}

/** `<t:1795603106828.101>`: wall-clock ms (timeOrigin + now) at the upstream's send. */
export const TIMESTAMP_RE = /<t:([0-9]+(?:\.[0-9]+)?)>/g;
export function timestampTag(ms: number): string {
  return `<t:${ms.toFixed(3)}>`;
}
export function stripTimestamps(text: string): string {
  return text.replace(TIMESTAMP_RE, "");
}

export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
