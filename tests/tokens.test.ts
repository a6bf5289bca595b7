import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { countTokens as o200kCount } from "gpt-tokenizer/encoding/o200k_base";
import { countTokens as cl100kCount } from "gpt-tokenizer/encoding/cl100k_base";
import { type ContentBlock, MessagesRequest } from "../lib/anthropic/schema.ts";
import {
  boundedPieces,
  clearTokenCache,
  countTokens,
  encodingForModel,
  estimateInputTokens,
  estimateTextTokens,
  IMAGE_FALLBACK_TOKENS,
  imageSizeFromBase64,
  imageTokensForSize,
  loadTokenizer,
  MAX_RUN,
  OPAQUE_DOCUMENT_TOKENS,
  tokenCacheStats,
} from "../lib/tokens/count.ts";

const FIXTURES = new URL("./fixtures/claude-code/", import.meta.url);
const fixtureNames = readdirSync(FIXTURES).filter((name) => name.endsWith(".json")).sort();

function loadFixture(name: string): MessagesRequest {
  const raw = JSON.parse(readFileSync(new URL(name, FIXTURES), "utf8")) as { body: unknown };
  return MessagesRequest.parse(raw.body);
}

const PLAIN = { disallowedSpecial: new Set<string>() };

/**
 * Reference: the tokenizer's count of what the equivalent OpenAI Chat Completions request
 * carries — message contents as text, assistant `tool_calls` and the `tools` / `response_format`
 * arrays as the JSON the request sends — plus OpenAI's documented 3 tokens per message and 3 for
 * the reply priming. Built independently of lib/tokens.ts.
 */
function openAiReferenceCount(req: MessagesRequest, count: (text: string) => number): number {
  type OpenAiMessage = {
    role: string;
    content: string;
    tool_calls?: unknown[];
    tool_call_id?: string;
  };
  const messages: OpenAiMessage[] = [];
  const textOf = (blocks: readonly ContentBlock[]): string =>
    blocks.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("\n");
  if (req.system !== undefined) {
    const system = typeof req.system === "string" ? req.system : textOf(req.system);
    if (system) messages.push({ role: "system", content: system });
  }
  for (const m of req.messages) {
    if (typeof m.content === "string") {
      messages.push({ role: m.role, content: m.content });
      continue;
    }
    for (const b of m.content) {
      if (b.type !== "tool_result") continue;
      const content = typeof b.content === "string" ? b.content : textOf(b.content ?? []);
      messages.push({ role: "tool", tool_call_id: b.tool_use_id, content });
    }
    const toolCalls = m.content.flatMap((b) =>
      b.type === "tool_use"
        ? [{
          id: b.id,
          type: "function",
          function: { name: b.name, arguments: JSON.stringify(b.input) },
        }]
        : []
    );
    const text = textOf(m.content);
    if (text || toolCalls.length > 0) {
      messages.push({
        role: m.role,
        content: text,
        ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
      });
    }
  }
  let total = 3; // reply priming
  for (const m of messages) {
    total += 3 + count(m.content);
    if (m.tool_calls) total += count(JSON.stringify(m.tool_calls));
  }
  if (req.tools?.length) {
    const tools = req.tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: t.input_schema },
    }));
    total += count(JSON.stringify(tools));
  }
  const schema = req.output_config?.format?.schema;
  if (schema) {
    total += count(
      JSON.stringify({ type: "json_schema", json_schema: { name: "output", schema } }),
    );
  }
  return total;
}

function request(messages: unknown[], extra: Record<string, unknown> = {}): MessagesRequest {
  return MessagesRequest.parse({
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    messages,
    ...extra,
  });
}

function withinRatio(actual: number, expected: number, tolerance: number, label: string): void {
  const ratio = actual / expected;
  assert.ok(
    Math.abs(ratio - 1) <= tolerance,
    `${label}: ${actual} vs ${expected} (ratio ${ratio.toFixed(3)}, tolerance ±${
      tolerance * 100
    }%)`,
  );
}

// Tiny image headers (only the header matters to the size reader).
function pngBase64(width: number, height: number): string {
  const bytes = new Uint8Array(33);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const view = new DataView(bytes.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  bytes.set([8, 6, 0, 0, 0], 24);
  return btoa(String.fromCharCode(...bytes));
}

function jpegBase64(width: number, height: number): string {
  const app0 = [
    0xff,
    0xe0,
    0x00,
    0x10,
    ...Array.from("JFIF\0", (c) => c.charCodeAt(0)),
    1,
    1,
    0,
    0,
    1,
    0,
    1,
    0,
    0,
  ];
  const exif = [0xff, 0xe1, 0x01, 0x02, ...new Array<number>(0x0100).fill(0x41)]; // a 258-byte APP1 to skip
  const sof0 = [0xff, 0xc0, 0x00, 0x11, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3];
  const bytes = [
    0xff,
    0xd8,
    ...app0,
    ...exif,
    ...sof0,
    ...new Array<number>(9).fill(0),
    0xff,
    0xd9,
  ];
  return btoa(String.fromCharCode(...bytes));
}

function gifBase64(width: number, height: number): string {
  const bytes = [
    ...Array.from("GIF89a", (c) => c.charCodeAt(0)),
    width & 0xff,
    width >> 8,
    height & 0xff,
    height >> 8,
    0,
  ];
  return btoa(String.fromCharCode(...bytes));
}

function webpVp8xBase64(width: number, height: number): string {
  const ascii = (t: string) => Array.from(t, (c) => c.charCodeAt(0));
  const le24 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff];
  const bytes = [...ascii("RIFF"), 30, 0, 0, 0, ...ascii("WEBPVP8X"), 10, 0, 0, 0, 0, 0, 0, 0];
  bytes.push(...le24(width - 1), ...le24(height - 1));
  return btoa(String.fromCharCode(...bytes));
}

function imageBlock(data: string, mediaType = "image/png") {
  return { type: "image", source: { type: "base64", media_type: mediaType, data } };
}

// count_tokens loads the BPE tables on demand; the tests count synchronously after this.
before(async () => {
  await loadTokenizer("gpt-4o");
  await loadTokenizer("gpt-4");
});

describe("countTokens on Claude Code fixtures", () => {
  for (const name of fixtureNames) {
    it(`${name}: within 10% of the tokenizer count of the equivalent OpenAI request`, () => {
      const req = loadFixture(name);
      const o200k = countTokens(req, "gpt-4o");
      withinRatio(o200k, openAiReferenceCount(req, (t) => o200kCount(t, PLAIN)), 0.1, "o200k_base");
      const cl100k = countTokens(req, "gpt-4-turbo");
      withinRatio(
        cl100k,
        openAiReferenceCount(req, (t) => cl100kCount(t, PLAIN)),
        0.1,
        "cl100k_base",
      );
    });

    it(`${name}: estimateInputTokens within 15% of countTokens`, () => {
      const req = loadFixture(name);
      withinRatio(estimateInputTokens(req), countTokens(req, "gpt-5"), 0.15, "o200k_base");
      withinRatio(
        estimateInputTokens(req, "gpt-4"),
        countTokens(req, "gpt-4"),
        0.15,
        "cl100k_base",
      );
    });
  }

  it("counts every kind of content (more content → more tokens)", () => {
    const base = request([{ role: "user", content: "hi" }]);
    const baseCount = countTokens(base, "gpt-4o");
    const rich = request([
      { role: "user", content: "hi" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "Let me look at the file first.", signature: "sig" },
          { type: "tool_use", id: "t1", name: "Read", input: { file_path: "/tmp/a.txt" } },
        ],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "t1",
            content: [{ type: "text", text: "file body" }, {
              type: "search_result",
              source: "https://example.com",
              title: "Example",
              content: [{ type: "text", text: "result text" }],
            }],
          },
          {
            type: "document",
            source: { type: "text", media_type: "text/plain", data: "doc text" },
            title: "T",
          },
        ],
      },
    ]);
    const richCount = countTokens(rich, "gpt-4o");
    assert.ok(richCount > baseCount + 20, `${richCount} vs ${baseCount}`);
    const pdf = request([{
      role: "user",
      content: [{
        type: "document",
        source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" },
      }],
    }]);
    const pdfEmpty = request([{ role: "user", content: [] }]);
    assert.equal(
      countTokens(pdf, "gpt-4o") - countTokens(pdfEmpty, "gpt-4o"),
      OPAQUE_DOCUMENT_TOKENS,
    );
  });

  it("treats special-token text in user content as plain text", () => {
    const req = request([{ role: "user", content: "<|endoftext|> and <|im_start|>" }]);
    assert.ok(countTokens(req, "gpt-4o") > 6);
    assert.ok(countTokens(req, "gpt-3.5-turbo") > 6);
  });
});

describe("encodingForModel", () => {
  it("picks o200k_base for modern OpenAI models and unknown models, cl100k_base for gpt-4 / 3.5", () => {
    for (
      const m of [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.5-preview",
        "gpt-5",
        "o1",
        "o3-mini",
        "o4-mini",
      ]
    ) {
      assert.equal(encodingForModel(m), "o200k_base", m);
    }
    for (const m of ["openai/gpt-5", "llama-3.1-70b", "qwen/qwen3-coder", "deepseek-chat", ""]) {
      assert.equal(encodingForModel(m), "o200k_base", m);
    }
    for (
      const m of [
        "gpt-4",
        "gpt-4-turbo",
        "gpt-4-0613",
        "GPT-4-32k",
        "gpt-3.5-turbo",
        "azure/gpt-35-turbo",
      ]
    ) {
      assert.equal(encodingForModel(m), "cl100k_base", m);
    }
  });
});

describe("estimateInputTokens cache", () => {
  it("serves a repeated system prompt and tool list from the cache, with the same value", () => {
    clearTokenCache();
    const fixture = fixtureNames.find((n) => n.startsWith("02")) ?? fixtureNames[0] ?? "";
    const first = loadFixture(fixture);
    const second = loadFixture(fixture); // a fresh parse: the cache is keyed by content, not identity

    const before = tokenCacheStats().segments;
    const a = estimateInputTokens(first);
    const afterFirst = tokenCacheStats().segments;
    const b = estimateInputTokens(second);
    const afterSecond = tokenCacheStats().segments;

    assert.equal(a, b);
    assert.equal(afterFirst.misses - before.misses, 2, "system + tools computed once");
    assert.equal(
      afterSecond.hits - afterFirst.hits,
      2,
      "second call: system + tools from the cache",
    );
    assert.equal(afterSecond.misses, afterFirst.misses, "second call: no new misses");
    // Keys are short fingerprints, not the 60 KB texts themselves.
    assert.ok(afterSecond.entries >= 2 && afterSecond.keyChars < 10_000);
  });

  it("is deterministic: the same value whether cached or not", () => {
    const req = loadFixture(fixtureNames[0] ?? "");
    clearTokenCache();
    const cold = estimateInputTokens(req);
    const warm = estimateInputTokens(req);
    clearTokenCache();
    assert.equal(estimateInputTokens(req), cold);
    assert.equal(warm, cold);
  });

  it("misses on a changed system prompt and does not depend on countTokens having run", () => {
    clearTokenCache();
    const req = request([{ role: "user", content: "hi" }], {
      system: [{ type: "text", text: "You are helpful." }],
    });
    const changed = request([{ role: "user", content: "hi" }], {
      system: [{ type: "text", text: "You are very helpful." }],
    });
    const before = estimateInputTokens(req, "gpt-4o");
    countTokens(req, "gpt-4o");
    const s1 = tokenCacheStats().segments;
    assert.equal(
      estimateInputTokens(req, "gpt-4o"),
      before,
      "exact counts never leak into estimates",
    );
    assert.equal(tokenCacheStats().segments.hits - s1.hits, 1, "served from the estimate cache");
    estimateInputTokens(changed, "gpt-4o");
    assert.equal(tokenCacheStats().segments.misses - s1.misses, 1);
  });

  it("stays bounded", () => {
    clearTokenCache();
    for (let i = 0; i < 600; i++) {
      estimateInputTokens(
        request([{ role: "user", content: "x" }], { system: `system prompt number ${i}` }),
      );
    }
    const stats = tokenCacheStats();
    assert.ok(stats.segments.entries <= 256, `entries ${stats.segments.entries}`);
    assert.ok(stats.keyChars < 16_000_000);
  });

  it("estimates long message text with the calibrated character model", () => {
    const prose = "The quick brown fox jumps over the lazy dog while the proxy counts tokens. "
      .repeat(200);
    const code = readFileSync(new URL("../lib/tokens/count.ts", import.meta.url), "utf8");
    for (const text of [prose, code]) {
      withinRatio(estimateTextTokens(text), o200kCount(text, PLAIN), 0.15, "estimateTextTokens");
      const req = request([{ role: "user", content: text }]);
      withinRatio(
        estimateInputTokens(req),
        countTokens(req, "gpt-4o"),
        0.15,
        "estimateInputTokens",
      );
    }
  });
});

describe("images", () => {
  it("reads PNG, JPEG and GIF sizes from the base64 header", () => {
    assert.deepEqual(imageSizeFromBase64(pngBase64(640, 480)), { width: 640, height: 480 });
    assert.deepEqual(imageSizeFromBase64(jpegBase64(1024, 768)), { width: 1024, height: 768 });
    assert.deepEqual(imageSizeFromBase64(gifBase64(32, 16)), { width: 32, height: 16 });
    assert.deepEqual(imageSizeFromBase64(webpVp8xBase64(3000, 2000)), {
      width: 3000,
      height: 2000,
    });
    assert.deepEqual(imageSizeFromBase64("data:image/png;base64," + pngBase64(8, 9)), {
      width: 8,
      height: 9,
    });
    assert.equal(imageSizeFromBase64("not an image"), undefined);
    assert.equal(imageSizeFromBase64(""), undefined);
  });

  it("uses Anthropic's formula: w·h/750, long edge ≤ 1568 px, capped at 1,600", () => {
    assert.equal(imageTokensForSize(200, 100), Math.ceil((200 * 100) / 750));
    assert.equal(imageTokensForSize(1000, 1000), 1334);
    assert.equal(imageTokensForSize(4000, 3000), 1600);
    assert.equal(imageTokensForSize(0, 0), IMAGE_FALLBACK_TOKENS);
  });

  it("adds the documented estimate to countTokens and estimateInputTokens", () => {
    const text = { type: "text", text: "what is in this picture?" };
    const without = request([{ role: "user", content: [text] }]);
    const cases: Array<[unknown, number]> = [
      [imageBlock(pngBase64(200, 100)), 27],
      [imageBlock(jpegBase64(1000, 1000), "image/jpeg"), 1334],
      [imageBlock(pngBase64(4000, 3000)), 1600],
      [
        { type: "image", source: { type: "url", url: "https://example.com/a.png" } },
        IMAGE_FALLBACK_TOKENS,
      ],
      [imageBlock("AAAA"), IMAGE_FALLBACK_TOKENS],
    ];
    for (const [block, expected] of cases) {
      const withImage = request([{ role: "user", content: [text, block] }]);
      assert.equal(countTokens(withImage, "gpt-4o") - countTokens(without, "gpt-4o"), expected);
      assert.equal(estimateInputTokens(withImage) - estimateInputTokens(without), expected);
    }
    // images inside tool results count too
    const inResult = request([
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "t1", name: "Screenshot", input: {} }],
      },
      {
        role: "user",
        content: [{
          type: "tool_result",
          tool_use_id: "t1",
          content: [imageBlock(pngBase64(750, 10))],
        }],
      },
    ]);
    const emptyResult = request([
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "t1", name: "Screenshot", input: {} }],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [] }] },
    ]);
    assert.equal(countTokens(inResult, "gpt-4o") - countTokens(emptyResult, "gpt-4o"), 10);
  });
});

describe("edge cases", () => {
  it("an empty request is a small positive number", () => {
    const empty = { model: "m", messages: [] } as unknown as MessagesRequest;
    for (const req of [empty, request([{ role: "user", content: "" }])]) {
      const n = countTokens(req, "gpt-4o");
      assert.ok(n > 0 && n < 20, `countTokens ${n}`);
      const e = estimateInputTokens(req);
      assert.ok(e > 0 && e < 20, `estimateInputTokens ${e}`);
    }
  });

  it("unknown and malformed blocks do not crash", () => {
    const req = request([
      {
        role: "user",
        content: [
          { type: "text", text: "hello" },
          { type: "server_tool_use", id: "s1", name: "web_search", input: { query: "x" } },
          { type: "web_search_tool_result", tool_use_id: "s1", content: [] },
          { type: "redacted_thinking", data: "opaque" },
        ],
      },
    ]);
    assert.ok(req.messages[0] !== undefined && Array.isArray(req.messages[0].content));
    const known = request([{ role: "user", content: [{ type: "text", text: "hello" }] }]);
    assert.equal(countTokens(req, "gpt-4o"), countTokens(known, "gpt-4o"));
    assert.equal(estimateInputTokens(req), estimateInputTokens(known));

    // Not validated by zod: missing fields, odd types, undefined input.
    const raw = {
      model: "m",
      messages: [
        {
          role: "user",
          content: [{ type: "text" }, { type: "mystery" }, null, { type: "tool_use", name: "x" }],
        },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "t" }, { type: "image", source: {} }],
        },
        {
          role: "user",
          content: [{ type: "document", source: { type: "content", content: [{ type: "x" }] } }],
        },
      ],
      system: [{ type: "unknown", original_type: "x" }],
      tools: [{ name: "t" }],
    } as unknown as MessagesRequest;
    assert.ok(countTokens(raw, "gpt-4o") > 0);
    assert.ok(estimateInputTokens(raw) > 0);
  });
});

describe("long runs of one character class (the tokenizer is quadratic in a run's length)", () => {
  const MB = 1_000_000;
  const runs: Record<string, string> = {
    letters: "a".repeat(MB),
    punctuation: "=".repeat(MB),
    spaces: " ".repeat(MB),
    newlines: "\n".repeat(MB),
    "CJK letters": "漢字".repeat(MB / 2),
    "astral letters": "𝒜".repeat(MB / 2),
    "closing braces of a deep schema": '{"a":'.repeat(MB / 10) + "}".repeat(MB / 10),
    "runs of each class in turn": ("x".repeat(700) + "-".repeat(700) + "\t".repeat(700)).repeat(
      500,
    ),
  };

  it("are cut into pieces that join back to the text, each run at most MAX_RUN long", () => {
    const longestRun = (piece: string) => {
      let longest = 0;
      for (const re of [/[\p{L}\p{M}]+/gu, /[^\s\p{L}\p{N}]+/gu, /\s+/gu]) {
        for (const m of piece.matchAll(re)) longest = Math.max(longest, m[0].length);
      }
      return longest;
    };
    for (const [name, text] of Object.entries(runs)) {
      const pieces = boundedPieces(text);
      assert.equal(pieces.join(""), text, name);
      assert.ok(pieces.length > 1, name);
      for (const piece of pieces) assert.ok(longestRun(piece) <= MAX_RUN + 1, name);
      assert.ok(!pieces.some((p) => /^[\udc00-\udfff]/.test(p)), `${name}: a split pair`);
    }
    const prose = "The quick brown fox jumps over the lazy dog. ".repeat(20_000);
    assert.deepEqual(boundedPieces(prose), [prose]);
  });

  it("count close to the tokenizer's own count (1 MB runs, scaled from 3,000 characters)", () => {
    for (const [name, unit] of [["letters", "a"], ["punctuation", "="], ["CJK", "漢"]]) {
      const count = (text: string) =>
        countTokens(request([{ role: "user", content: text }]), "gpt-4o") -
        countTokens(request([{ role: "user", content: "" }]), "gpt-4o");
      const reference = o200kCount(unit!.repeat(3_000), PLAIN) * (MB / 3_000);
      withinRatio(count(unit!.repeat(MB)), reference, 0.05, name!);
    }
  });
});
