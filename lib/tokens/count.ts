/**
 * Input-token counting for Anthropic Messages requests that are sent to an OpenAI-compatible
 * upstream.
 *
 * Two entry points:
 *
 * - {@link countTokens}: a real BPE count (gpt-tokenizer) of everything the upstream request
 *   will carry, plus small per-message / per-tool overheads in the spirit of OpenAI's chat
 *   format. Used by `/v1/messages/count_tokens`.
 * - {@link estimateInputTokens}: a cheap estimate for the hot path (`message_start.usage` of
 *   every stream): a calibrated character-class model (one pass of `charCodeAt`, no
 *   tokenization). The parts that repeat on every turn of a conversation (system prompt, tool
 *   definitions) and long message strings memoize their estimate in bounded LRUs under short
 *   fingerprints, so a Claude-Code-sized request costs ~10 µs.
 *
 * Encoding (by upstream model name, after dropping any `provider/` prefix, case-insensitive):
 * - `cl100k_base`: `gpt-4` (incl. `gpt-4-turbo`, `gpt-4-32k`, `gpt-4-0613`…), `gpt-3.5*`,
 *   Azure's `gpt-35*`, `text-embedding-ada-002` / `text-embedding-3-*`;
 * - `o200k_base`: `gpt-4o*`, `gpt-4.1*`, `gpt-4.5*`, `gpt-5*`, `o1`/`o3`/`o4`…, `chatgpt-*`,
 *   `gpt-oss*`, `codex*`, and every model we do not recognise (Llama, Qwen, DeepSeek, … have
 *   their own tokenizers; o200k is the closest widely used modern vocabulary).
 *
 * What is counted (identically by both functions):
 * - system: the text blocks joined with "\n" (a string system as is) + {@link TOKENS_PER_MESSAGE};
 * - each message: {@link TOKENS_PER_MESSAGE}, plus its blocks:
 *   text, thinking text, tool_use (name + JSON of input + {@link TOKENS_PER_TOOL_CALL}),
 *   tool_result (its own `tool` message upstream: {@link TOKENS_PER_MESSAGE} + string content or
 *   the blocks inside, recursively), document (title, context, text / content sources),
 *   search_result (source, title, texts), tool_reference (the tool name), images (below);
 *   redacted_thinking and unknown blocks count 0 (they are not sent upstream);
 * - tools: {@link TOKENS_FOR_TOOLS} once + per tool {@link TOKENS_PER_TOOL} + name + description
 *   + `JSON.stringify(input_schema)`;
 * - structured output (`output_config.format.schema`): its JSON + {@link TOKENS_FOR_RESPONSE_FORMAT};
 * - {@link TOKENS_REPLY_PRIMING} for the assistant turn the upstream primes.
 *
 * Images: Anthropic's formula `ceil(width * height / 750)` after scaling the long edge down to
 * 1568 px, capped at {@link IMAGE_MAX_TOKENS} (1,600). Width and height are read from the
 * base64 header of PNG, JPEG, GIF and WebP images (only a few bytes are decoded); URL / file
 * images and unreadable headers count {@link IMAGE_FALLBACK_TOKENS} (1,600, the cap).
 * Documents whose text we cannot see (base64 PDF, URL, file id) count
 * {@link OPAQUE_DOCUMENT_TOKENS} (1,600, about one page) plus their title / context; this
 * underestimates long PDFs.
 *
 * Encoder loading: the BPE rank tables cost ~50 MB of memory and ~0.3 s to parse, and only
 * `count_tokens` needs them, so they are imported dynamically (literal specifiers, which
 * `deno compile` and `bun build --compile` bundle) by {@link loadTokenizer}, once per encoding,
 * on the first count. The hot-path estimate never needs them.
 *
 * Pure: no environment, no logging, no I/O.
 */
import type { GptEncoding } from "gpt-tokenizer/GptEncoding";
import { estimateImageTokens } from "./image_tokens.ts";
import { type CacheStats, LruCache } from "../common/lru.ts";
import type {
  ContentBlock,
  CountTokensRequest,
  DocumentBlock,
  MessagesRequest,
  Tool,
  ToolResultBlock,
} from "../anthropic/schema.ts";
import { offeredTools } from "../anthropic/deferred_tools.ts";

// Re-exported: callers count images and read cache stats through this module.
export {
  estimateImageTokens,
  IMAGE_FALLBACK_TOKENS,
  IMAGE_MAX_TOKENS,
  imageSizeFromBase64,
  imageTokensForSize,
} from "./image_tokens.ts";
export type { CacheStats } from "../common/lru.ts";

/** The BPE vocabularies we count with. */
export type TokenizerEncoding = "o200k_base" | "cl100k_base";

/** `<|start|>role<|message|>…<|end|>`: what every chat message costs beyond its content. */
export const TOKENS_PER_MESSAGE = 3;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
export const TOKENS_REPLY_PRIMING = 3;
/** Wrapper of one assistant tool call (beyond its name and JSON arguments). */
export const TOKENS_PER_TOOL_CALL = 3;
/** Wrapper around the whole tool list (OpenAI renders tools into a `functions` namespace). */
export const TOKENS_FOR_TOOLS = 12;
/** Wrapper of one tool definition (beyond name, description and JSON schema). */
export const TOKENS_PER_TOOL = 8;
/** Wrapper of a `response_format: json_schema` (beyond the schema JSON). */
export const TOKENS_FOR_RESPONSE_FORMAT = 8;
/** A document whose text we cannot see (base64 PDF, URL, file id): about one page. */
export const OPAQUE_DOCUMENT_TOKENS = 1600;

type CountableRequest = Pick<
  CountTokensRequest | MessagesRequest,
  "system" | "messages" | "tools" | "output_config"
>;
type TextCounter = (text: string) => number;

// ---------------------------------------------------------------------------------------------
// Encoding choice and encoders (built once per encoding, on first use)

/** Which BPE vocabulary the upstream model uses (see the module comment for the rules). */
export function encodingForModel(upstreamModel: string): TokenizerEncoding {
  const lower = upstreamModel.toLowerCase();
  const name = lower.slice(lower.lastIndexOf("/") + 1);
  if (/^(gpt-4o|gpt-4\.|gpt-5|o\d|chatgpt|gpt-oss|codex)/.test(name)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5|gpt-35|text-embedding-(ada|3))/.test(name)) return "cl100k_base";
  return "o200k_base";
}

const encoders = new Map<TokenizerEncoding, GptEncoding>();
const loading = new Map<TokenizerEncoding, Promise<GptEncoding>>();

async function importEncoder(encoding: TokenizerEncoding): Promise<GptEncoding> {
  const { GptEncoding } = await import("gpt-tokenizer/GptEncoding");
  const ranks = encoding === "o200k_base"
    ? (await import("gpt-tokenizer/bpeRanks/o200k_base")).default
    : (await import("gpt-tokenizer/bpeRanks/cl100k_base")).default;
  return GptEncoding.getEncodingApi(encoding, () => ranks);
}

/** Loads the encoder `upstreamModel` counts with; {@link countTokens} needs it loaded. */
export function loadTokenizer(upstreamModel = ""): Promise<void> {
  const encoding = encodingForModel(upstreamModel);
  if (encoders.has(encoding)) return Promise.resolve();
  let pending = loading.get(encoding);
  if (pending === undefined) {
    pending = importEncoder(encoding).then((encoder) => {
      encoders.set(encoding, encoder);
      return encoder;
    });
    loading.set(encoding, pending);
    pending.catch(() => loading.delete(encoding));
  }
  return pending.then(() => {});
}

function encoderFor(encoding: TokenizerEncoding): GptEncoding {
  const encoder = encoders.get(encoding);
  if (encoder === undefined) {
    throw new Error(`tokenizer ${encoding} is not loaded: await loadTokenizer() first`);
  }
  return encoder;
}

/** Special-token text (`<|endoftext|>`…) in user content is plain text, never an error. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

function exactCounter(encoding: TokenizerEncoding): TextCounter {
  const encoder = encoderFor(encoding);
  return (text) => {
    if (typeof text !== "string" || text.length === 0) return 0;
    let tokens = 0;
    for (const piece of boundedPieces(text)) tokens += encoder.countTokens(piece, PLAIN_TEXT);
    return tokens;
  };
}

/**
 * gpt-tokenizer merges each pre-token (a run of letters, of punctuation or of whitespace; digits
 * come in threes) in time quadratic in its length: 250 KB of "a" took 30–90 s, and the event
 * loop, every other request's included, waited. Runs longer than this are counted in pieces of
 * this length; a cut moves the count by about a token, against ~60 tokens per piece.
 */
export const MAX_RUN = 256;
// Each alternative starts only where its run starts (the lookbehind), so the scan is linear.
const LONG_RUN = new RegExp(
  [
    String.raw`(?<![\p{L}\p{M}])[\p{L}\p{M}]{${MAX_RUN + 1},}`,
    String.raw`(?<![^\s\p{L}\p{N}])[^\s\p{L}\p{N}]{${MAX_RUN + 1},}`,
    String.raw`(?<!\s)\s{${MAX_RUN + 1},}`,
  ].join("|"),
  "gu",
);

/**
 * `text` cut so that no piece holds a run of one character class longer than MAX_RUN (one more
 * where a cut would split a surrogate pair). Text without such runs is one piece.
 */
export function boundedPieces(text: string): string[] {
  if (text.length <= MAX_RUN) return [text];
  const pieces: string[] = [];
  let from = 0;
  for (const run of text.matchAll(LONG_RUN)) {
    const end = run.index + run[0].length;
    if (run.index > from) pieces.push(text.slice(from, run.index));
    for (let i = run.index; i < end;) {
      let cut = Math.min(i + MAX_RUN, end);
      // Never between the halves of a surrogate pair.
      const code = text.charCodeAt(cut);
      if (cut < end && code >= 0xdc00 && code <= 0xdfff) cut++;
      pieces.push(text.slice(i, cut));
      i = cut;
    }
    from = end;
  }
  if (from === 0) return [text];
  if (from < text.length) pieces.push(text.slice(from));
  return pieces;
}

// ---------------------------------------------------------------------------------------------
// Cheap character-class estimate
//
// A linear model over one pass of the string: for each ASCII class (letters, digits, space,
// newline/tab, backslash, other punctuation) a weight per character and a weight per run, plus
// per-character weights for CJK, Latin/Greek/Cyrillic, other BMP scripts and astral characters.
// Fitted (non-negative least squares, relative error) on 1,244 samples: the Claude Code fixtures
// (system, tool descriptions, schemas, messages), Markdown, TS/JS/.d.ts sources, pretty and
// minified JSON, `cat -n` style file dumps, JSON-escaped file contents, and 60 languages of zod's
// locale messages. o200k: p5–p95 of estimate/real per sample 0.88–1.09, per-category sums within
// ±5% (English prose ≈ 4.4 chars/token, code ≈ 4.0, JSON ≈ 3.5, d.ts ≈ 2.6).

// Classes: 0 = none (start of string / after a non-ASCII char), 1 letter, 2 digit, 3 space,
// 4 newline/tab/CR, 5 backslash, 6 other ASCII.
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  ASCII_CLASS[c] = (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
    ? 1
    : c >= 48 && c <= 57
    ? 2
    : c === 32
    ? 3
    : c === 10 || c === 9 || c === 13
    ? 4
    : c === 92
    ? 5
    : 6;
}

interface HeuristicWeights {
  /** Per character of each class (index = class). */
  readonly perChar: Float64Array;
  /** Per run of each class (index = class). */
  readonly perRun: Float64Array;
  readonly cjk: number;
  readonly latinGreekCyrillic: number;
  readonly otherBmp: number;
  readonly astral: number;
}

const HEURISTIC_WEIGHTS: Record<TokenizerEncoding, HeuristicWeights> = {
  o200k_base: {
    perChar: Float64Array.of(0, 0.148, 0.179, 0.021, 0, 0, 0.138),
    perRun: Float64Array.of(0, 0.195, 1.444, 0.132, 1.037, 1.298, 0.638),
    cjk: 0.671,
    latinGreekCyrillic: 0.367,
    otherBmp: 0.399,
    astral: 1.5,
  },
  cl100k_base: {
    perChar: Float64Array.of(0, 0.145, 0.138, 0.029, 0, 0, 0.079),
    perRun: Float64Array.of(0, 0.277, 1.517, 0.071, 1.097, 1.297, 0.676),
    cjk: 0.979,
    latinGreekCyrillic: 0.639,
    otherBmp: 1.17,
    astral: 1.5,
  },
};

// Scratch counters, reset on every call (the function is synchronous and not re-entrant).
const charCounts = new Int32Array(7);
const runCounts = new Int32Array(7);

function heuristicTokens(text: string, weights: HeuristicWeights): number {
  charCounts.fill(0);
  runCounts.fill(0);
  let cjk = 0;
  let latin = 0;
  let other = 0;
  let astral = 0;
  let previous = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code < 128) {
      const cls = ASCII_CLASS[code] ?? 6;
      charCounts[cls] = (charCounts[cls] ?? 0) + 1;
      if (cls !== previous) {
        runCounts[cls] = (runCounts[cls] ?? 0) + 1;
        previous = cls;
      }
      continue;
    }
    previous = 0;
    if (code >= 0xd800 && code <= 0xdbff) {
      astral++;
      i++;
    } else if (
      (code >= 0x3000 && code <= 0x9fff) || (code >= 0xac00 && code <= 0xd7af) ||
      (code >= 0xf900 && code <= 0xfaff) || (code >= 0xff00 && code <= 0xffef)
    ) {
      cjk++;
    } else if (code < 0x530) {
      latin++;
    } else {
      other++;
    }
  }
  let tokens = cjk * weights.cjk + latin * weights.latinGreekCyrillic + other * weights.otherBmp +
    astral * weights.astral;
  for (let cls = 1; cls < 7; cls++) {
    tokens += (charCounts[cls] ?? 0) * (weights.perChar[cls] ?? 0) +
      (runCounts[cls] ?? 0) * (weights.perRun[cls] ?? 0);
  }
  return tokens;
}

/**
 * Cheap token estimate of one string (no tokenization: one pass over its characters), rounded.
 * Useful for streamed output too. Deterministic.
 */
export function estimateTextTokens(text: string, upstreamModel = ""): number {
  return Math.round(heuristicTokens(text, HEURISTIC_WEIGHTS[encodingForModel(upstreamModel)]));
}

/**
 * Per encoding: `segments` holds exact counts of system prompts, tool lists and output schemas
 * (≤ 256 entries, ≤ 8M key chars, segments over 2M chars are not cached); `strings` holds the
 * cheap estimate of long message strings (≥ 1,024 chars; ≤ 4,096 entries, ≤ 8M key chars,
 * strings over 1M chars are not cached). Worst case ≈ 16M UTF-16 code units of keys per encoding.
 */
const SEGMENT_CACHE_LIMITS = [256, 8_000_000, 2_000_000] as const;
const STRING_CACHE_LIMITS = [4096, 8_000_000, 1_000_000] as const;
const STRING_CACHE_MIN_LENGTH = 1024;

interface EncodingCaches {
  readonly segments: LruCache;
  readonly estimates: LruCache;
  readonly strings: LruCache;
}

const caches = new Map<TokenizerEncoding, EncodingCaches>();

function cachesFor(encoding: TokenizerEncoding): EncodingCaches {
  let entry = caches.get(encoding);
  if (entry === undefined) {
    entry = {
      segments: new LruCache(...SEGMENT_CACHE_LIMITS),
      estimates: new LruCache(...SEGMENT_CACHE_LIMITS),
      strings: new LruCache(...STRING_CACHE_LIMITS),
    };
    caches.set(encoding, entry);
  }
  return entry;
}

function sumStats(list: CacheStats[]): CacheStats {
  const total: CacheStats = { hits: 0, misses: 0, entries: 0, keyChars: 0 };
  for (const s of list) {
    total.hits += s.hits;
    total.misses += s.misses;
    total.entries += s.entries;
    total.keyChars += s.keyChars;
  }
  return total;
}

/** Cache counters (summed over encodings): totals, plus `segments` and `strings` separately. */
export function tokenCacheStats(): CacheStats & { segments: CacheStats; strings: CacheStats } {
  const all = [...caches.values()];
  const segments = sumStats(all.flatMap((c) => [c.segments.stats(), c.estimates.stats()]));
  const strings = sumStats(all.map((c) => c.strings.stats()));
  return { ...sumStats([segments, strings]), segments, strings };
}

/** Empties the caches and resets their counters (the encoders stay loaded). */
export function clearTokenCache(): void {
  for (const c of caches.values()) {
    c.segments.clear();
    c.estimates.clear();
    c.strings.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// The walk shared by the exact count and the estimate

function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return "";
  }
}

function documentTokens(block: DocumentBlock, count: TextCounter): number {
  let tokens = 0;
  if (typeof block.title === "string") tokens += count(block.title);
  if (typeof block.context === "string") tokens += count(block.context);
  const source = block.source;
  switch (source?.type) {
    case "text":
      return tokens + count(source.data);
    case "content":
      if (typeof source.content === "string") return tokens + count(source.content);
      for (const part of source.content ?? []) {
        if (part.type === "text" && typeof part.text === "string") tokens += count(part.text);
      }
      return tokens;
    default:
      return tokens + OPAQUE_DOCUMENT_TOKENS;
  }
}

function toolResultTokens(block: ToolResultBlock, count: TextCounter): number {
  let tokens = TOKENS_PER_MESSAGE;
  const content = block.content;
  if (typeof content === "string") return tokens + count(content);
  if (Array.isArray(content)) {
    for (const part of content) tokens += blockTokens(part, count);
  }
  return tokens;
}

function blockTokens(block: ContentBlock, count: TextCounter): number {
  if (block === null || typeof block !== "object") return 0;
  switch (block.type) {
    case "text":
      return count(block.text);
    case "thinking":
      return count(block.thinking);
    case "tool_use":
      return TOKENS_PER_TOOL_CALL + count(block.name) + count(jsonText(block.input));
    case "tool_result":
      return toolResultTokens(block, count);
    case "image":
      return estimateImageTokens(block);
    case "document":
      return documentTokens(block, count);
    case "search_result": {
      let tokens = count(block.source) + count(block.title);
      for (const part of block.content ?? []) tokens += count(part.text);
      return tokens;
    }
    case "tool_reference":
      return count(block.tool_name);
    default:
      // redacted_thinking (opaque, not forwarded), unknown and anything unexpected.
      return 0;
  }
}

function messagesTokens(messages: CountableRequest["messages"], count: TextCounter): number {
  let tokens = TOKENS_REPLY_PRIMING;
  for (const message of messages ?? []) {
    tokens += TOKENS_PER_MESSAGE;
    const content = message.content;
    if (typeof content === "string") tokens += count(content);
    else if (Array.isArray(content)) {
      for (const block of content) tokens += blockTokens(block, count);
    }
  }
  return tokens;
}

function systemText(system: CountableRequest["system"]): string {
  if (typeof system === "string") return system;
  if (!Array.isArray(system)) return "";
  let text = "";
  let first = true;
  for (const block of system) {
    if (block.type !== "text") continue;
    text = first ? block.text : text + "\n" + block.text;
    first = false;
  }
  return text;
}

/** Exact count of a system text (with its message overhead). */
function systemTokens(text: string, count: TextCounter): number {
  return text.length === 0 ? 0 : TOKENS_PER_MESSAGE + count(text);
}

/** The tool list as parts to count, and a cache key that identifies it. */
function toolParts(tools: readonly Tool[]): { key: string; schemas: string[] } {
  const schemas: string[] = [];
  let key = "\u0000tools";
  for (const tool of tools) {
    const schema = tool.input_schema === undefined ? "" : jsonText(tool.input_schema);
    schemas.push(schema);
    key += "\u0000" + tool.name + "\u0001" + (tool.description ?? "") + "\u0001" + schema;
  }
  return { key, schemas };
}

function toolsTokens(
  tools: readonly Tool[],
  schemas: readonly string[],
  count: TextCounter,
): number {
  if (tools.length === 0) return 0;
  let tokens = TOKENS_FOR_TOOLS;
  tools.forEach((tool, i) => {
    tokens += TOKENS_PER_TOOL + count(tool.name) + count(tool.description ?? "") +
      count(schemas[i] ?? "");
  });
  return tokens;
}

function responseFormatJson(req: CountableRequest): string {
  const schema = req.output_config?.format?.schema;
  return schema === undefined ? "" : jsonText(schema);
}

function responseFormatTokens(json: string, count: TextCounter): number {
  return json.length === 0 ? 0 : TOKENS_FOR_RESPONSE_FORMAT + count(json);
}

/**
 * A repeated segment's exact count through the segment cache. Segments too long to cache are
 * counted exactly by countTokens and estimated by estimateInputTokens (`fallback`).
 */
function cachedSegment(
  cache: LruCache,
  key: string,
  exact: () => number,
  fallback: () => number,
): number {
  if (!cache.accepts(key)) return fallback();
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const value = exact();
  cache.set(key, value);
  return value;
}

interface SegmentCounts {
  system: number;
  tools: number;
  responseFormat: number;
}

function segmentTokens(
  req: CountableRequest,
  cache: LruCache,
  exact: () => TextCounter,
  fallback: TextCounter,
): SegmentCounts {
  const system = systemText(req.system);
  const systemCount = system.length === 0 ? 0 : cachedSegment(
    cache,
    "\u0000system\u0000" + system,
    () => systemTokens(system, exact()),
    () => systemTokens(system, fallback),
  );

  // What the upstream gets: deferred tools not yet loaded are not sent (anthropic/deferred_tools.ts).
  const tools = offeredTools(req);
  let toolsCount = 0;
  if (tools.length > 0) {
    const { key, schemas } = toolParts(tools);
    toolsCount = cachedSegment(
      cache,
      key,
      () => toolsTokens(tools, schemas, exact()),
      () => toolsTokens(tools, schemas, fallback),
    );
  }

  const format = responseFormatJson(req);
  const formatCount = format.length === 0 ? 0 : cachedSegment(
    cache,
    "\u0000format\u0000" + format,
    () => responseFormatTokens(format, exact()),
    () => responseFormatTokens(format, fallback),
  );

  return { system: systemCount, tools: toolsCount, responseFormat: formatCount };
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Real BPE count of the request as the upstream will see it, with the encoding of
 * `upstreamModel` (see the module comment for what is counted). System prompt, tool list and
 * output schema counts are shared with {@link estimateInputTokens} through the segment cache.
 */
export function countTokens(
  req: CountTokensRequest | MessagesRequest,
  upstreamModel: string,
): number {
  const encoding = encodingForModel(upstreamModel);
  const count = exactCounter(encoding);
  const segments = segmentTokens(req, cachesFor(encoding).segments, () => count, count);
  return segments.system + segments.tools + segments.responseFormat +
    messagesTokens(req.messages, count);
}

/**
 * A short key standing for a long string: its length and both ends. Hashing or comparing a
 * 60 KB system prompt on every request is what the cache is meant to avoid; two different
 * strings with the same length and ends would share an estimate, which only moves a figure
 * that is an estimate anyway.
 */
function fingerprint(text: string): string {
  return text.length <= 96
    ? text
    : `${text.length}\u0001${text.slice(0, 48)}\u0001${text.slice(-48)}`;
}

/**
 * Cheap, deterministic input-token estimate for the hot path (e.g. `message_start`): the
 * character-class model of {@link estimateTextTokens}, with the repeated segments (system
 * prompt, tools, output schema) and long strings memoized under short fingerprints, so a
 * Claude-Code-sized request costs a few dozen microseconds. Never needs the BPE tables.
 * `upstreamModel` picks the encoding like {@link countTokens} (default: o200k_base).
 */
export function estimateInputTokens(req: MessagesRequest, upstreamModel = ""): number {
  const encoding = encodingForModel(upstreamModel);
  const weights = HEURISTIC_WEIGHTS[encoding];
  const caches = cachesFor(encoding);
  const estimate: TextCounter = (text) => {
    if (typeof text !== "string" || text.length === 0) return 0;
    if (text.length < STRING_CACHE_MIN_LENGTH) return heuristicTokens(text, weights);
    const key = fingerprint(text);
    const hit = caches.strings.get(key);
    if (hit !== undefined) return hit;
    const value = heuristicTokens(text, weights);
    caches.strings.set(key, value);
    return value;
  };
  const segments = caches.estimates;

  let system = 0;
  const sys = req.system;
  if (typeof sys === "string") system = systemTokens(sys, estimate);
  else if (Array.isArray(sys)) {
    let key = "\u0000system";
    for (const block of sys) if (block.type === "text") key += "\u0000" + fingerprint(block.text);
    system = segments.get(key) ?? (() => {
      const value = systemTokens(systemText(sys), (t) => heuristicTokens(t, weights));
      segments.set(key, value);
      return value;
    })();
  }

  let tools = 0;
  const list = offeredTools(req);
  if (list.length > 0) {
    // Tools are identified by name, description and schema shape, without serializing them.
    let key = "\u0000tools";
    for (const t of list) {
      key += "\u0000" + t.name + "\u0001" + fingerprint(t.description ?? "") + "\u0001" +
        (t.input_schema ? Object.keys(t.input_schema).join(",") : "");
    }
    tools = segments.get(key) ?? (() => {
      const schemas = list.map((
        t,
      ) => (t.input_schema === undefined ? "" : jsonText(t.input_schema)));
      const value = toolsTokens(list, schemas, (t) => heuristicTokens(t, weights));
      segments.set(key, value);
      return value;
    })();
  }

  const format = responseFormatJson(req);
  const formatCount = format.length === 0 ? 0 : responseFormatTokens(format, estimate);
  return Math.round(system + tools + formatCount + messagesTokens(req.messages, estimate));
}
