/**
 * Property: how the network cuts an upstream SSE byte stream into reads changes nothing.
 * Any split of a recorded (or generated) OpenAI stream — inside a multi-byte UTF-8 character,
 * between \r and \n, inside `data:` — yields exactly the Anthropic events, and the same final
 * error if the stream fails, that the unsplit stream yields. SseDecoder + StreamConverter are
 * driven directly, the way lib/server/stream_response.ts drives them.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { StreamEvent } from "../lib/anthropic/schema.ts";
import { ProxyError } from "../lib/anthropic/errors.ts";
import { SseDecoder, type SseMessage } from "../lib/upstreams/sse_decode.ts";
import { StreamConverter } from "../lib/upstreams/chat/stream.ts";
import { chunk, usageChunk } from "./helpers/fake_upstream.ts";

const SPLITS_PER_RECORDING = 1_000;
const GENERATED_STREAMS = 1_500;
const DECODER_RUNS = 1_000;

const encoder = new TextEncoder();

type Outcome = { events: StreamEvent[]; error?: string };

/** Feeds the pieces in order, as reads of one upstream body. */
function convert(pieces: readonly Uint8Array[]): Outcome {
  const decoder = new SseDecoder();
  const conv = new StreamConverter({
    messageId: "msg_prop",
    model: "claude-sonnet-4-6",
    inputTokensEstimate: 10,
    toolNames: new Map([["lookup_short", "lookup_with_a_long_client_name"]]),
    stopSequences: ["STOP"],
  });
  const events: StreamEvent[] = [...conv.start()];
  try {
    for (const piece of pieces) for (const m of decoder.push(piece)) events.push(...conv.push(m));
    for (const m of decoder.flush()) events.push(...conv.push(m));
    events.push(...conv.finish());
  } catch (err) {
    if (!(err instanceof ProxyError)) throw err; // anything else is a bug, not an outcome
    return { events, error: `${err.type}: ${err.message}` };
  }
  return { events };
}

function decodeAll(pieces: readonly Uint8Array[]): SseMessage[] {
  const decoder = new SseDecoder();
  const out: SseMessage[] = [];
  for (const piece of pieces) out.push(...decoder.push(piece));
  out.push(...decoder.flush());
  return out;
}

/** Cuts `bytes` at the given offsets (any order, duplicates allowed: empty reads happen too). */
function cut(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...offsets.map((o) => o % (bytes.length + 1))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    pieces.push(bytes.subarray(from, p));
    from = p;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

const offsets = fc.array(fc.nat(), { maxLength: 40 });

type Eol = "\n" | "\r\n" | "\r";
const frame = (payload: unknown, eol: Eol) =>
  `data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}${eol}${eol}`;

// ---------------------------------------------------------------------------------------------
// Recorded streams, in the shapes real upstreams send.

const UNICODE = ["Grüße, ", "世界", " 👋🏽", " e\u0301", " 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", " עברית", " 🇫🇷!"];

const RECORDINGS: Record<string, string> = {
  // OpenAI: role chunk, multi-byte text, finish, usage chunk, [DONE]; \n line endings.
  "openai text with multi-byte UTF-8": [
    frame(chunk({ role: "assistant", content: "" }), "\n"),
    ...UNICODE.map((t) => frame(chunk({ content: t }), "\n")),
    frame(chunk({}, "stop"), "\n"),
    frame(usageChunk({ prompt_tokens: 12, completion_tokens: 9, cached_tokens: 4 }), "\n"),
    frame("[DONE]", "\n"),
  ].join(""),
  // OpenRouter: keep-alive comments, \r\n line endings, reasoning then text.
  "openrouter reasoning, comments, CRLF": [
    ": OPENROUTER PROCESSING\r\n\r\n",
    frame(chunk({ role: "assistant", content: "", reasoning: "Let me think… " }), "\r\n"),
    ": OPENROUTER PROCESSING\r\n\r\n",
    frame(chunk({ reasoning: "done 🤔" }), "\r\n"),
    ...UNICODE.map((t) => frame(chunk({ content: t }), "\r\n")),
    frame(chunk({}, "stop"), "\r\n"),
    frame(usageChunk({ prompt_tokens: 3, completion_tokens: 5 }), "\r\n"),
    frame("[DONE]", "\r\n"),
  ].join(""),
  // Two parallel tool calls, arguments in pieces that split a multi-byte character's JSON.
  "parallel tool calls, bare \\r line endings": [
    frame(chunk({ role: "assistant", content: null }), "\r"),
    frame(chunk({ content: "Looking up ✓ " }), "\r"),
    frame(
      chunk({
        tool_calls: [{
          index: 0,
          id: "call_a",
          type: "function",
          function: { name: "lookup_short", arguments: "" },
        }],
      }),
      "\r",
    ),
    frame(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city": "Zü' } }] }), "\r"),
    frame(chunk({ tool_calls: [{ index: 0, function: { arguments: 'rich 🏔", "n": 2}' } }] }), "\r"),
    frame(
      chunk({
        tool_calls: [{
          index: 1,
          id: "call_b",
          type: "function",
          function: { name: "other", arguments: '{"q"' },
        }],
      }),
      "\r",
    ),
    frame(chunk({ tool_calls: [{ index: 1, function: { arguments: ': "東京"}' } }] }), "\r"),
    frame(chunk({}, "tool_calls"), "\r"),
    frame("[DONE]", "\r"),
  ].join(""),
  // Ollama-style: `data:` without the space, arguments as an object, no usage, no [DONE].
  "no-space data lines, object arguments, no [DONE]": [
    `data:${JSON.stringify(chunk({ role: "assistant", content: "Ça va? " }))}\n\n`,
    `data:${
      JSON.stringify(
        chunk({
          tool_calls: [{ id: "c1", function: { name: "lookup_short", arguments: { a: "ø" } } }],
        }),
      )
    }\n\n`,
    `data:${JSON.stringify(chunk({}, "stop"))}\n\n`,
  ].join(""),
  // A stop sequence reported vLLM-style, and a length finish.
  "vllm stop_reason": [
    frame(chunk({ content: "one two STOP" }), "\n"),
    frame({
      ...chunk({}, "stop"),
      choices: [{ index: 0, delta: {}, finish_reason: "stop", stop_reason: "STOP" }],
    }, "\n"),
    frame("[DONE]", "\n"),
  ].join(""),
  // Fails mid-stream with an OpenRouter error object: same events, same error, any split.
  "error object mid-stream": [
    frame(chunk({ content: "Part 1 — " }), "\r\n"),
    frame(chunk({ content: "ünïcödé" }), "\r\n"),
    frame({ error: { code: 502, message: "Provider returned error ⚠" } }, "\r\n"),
  ].join(""),
  // Ends without finish_reason or [DONE]: a truncated stream, reported as such.
  "truncated stream": [
    frame(chunk({ role: "assistant", content: "" }), "\n"),
    frame(chunk({ content: "half an answ" }), "\n"),
  ].join(""),
};

describe("property: any split of a recorded upstream stream yields the same Anthropic events", () => {
  for (const [name, text] of Object.entries(RECORDINGS)) {
    const bytes = encoder.encode(text);
    const reference = convert([bytes]);

    it(`${name}: byte by byte, and ${SPLITS_PER_RECORDING} random splits`, () => {
      assert.ok(reference.events.length > 1);
      assert.deepEqual(convert(Array.from(bytes, (b) => Uint8Array.of(b))), reference);
      fc.assert(
        fc.property(offsets, (cuts) => {
          assert.deepEqual(convert(cut(bytes, cuts)), reference);
        }),
        { numRuns: SPLITS_PER_RECORDING, seed: Number(process.env.FC_SEED ?? 7) },
      );
    });
  }

  it("the recordings mean what they say (the reference outcome is right)", () => {
    const text = (o: Outcome) =>
      o.events.map((e) =>
        e.type === "content_block_delta" && e.delta.type === "text_delta" ? e.delta.text : ""
      ).join("");
    assert.equal(
      text(convert([encoder.encode(RECORDINGS["openai text with multi-byte UTF-8"]!)])),
      UNICODE.join(""),
    );
    const failed = convert([encoder.encode(RECORDINGS["error object mid-stream"]!)]);
    assert.match(failed.error ?? "", /^overloaded_error: .*Provider returned error ⚠/);
    assert.equal(text(failed), "Part 1 — ünïcödé");
    assert.match(
      convert([encoder.encode(RECORDINGS["truncated stream"]!)]).error ?? "",
      /^overloaded_error/,
    );
    const tools = convert([
      encoder.encode(RECORDINGS["parallel tool calls, bare \\r line endings"]!),
    ]);
    const inputs = tools.events.flatMap((e) =>
      e.type === "content_block_delta" && e.delta.type === "input_json_delta"
        ? [e.delta.partial_json]
        : []
    ).join("");
    assert.match(inputs, /Zürich 🏔/);
    assert.match(inputs, /東京/);
  });
});

// ---------------------------------------------------------------------------------------------
// Generated streams: random deltas, line endings, comments.

const piece = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 10 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom("\n", "\r\n", "data: x", "\u2028", "🧪", "", " ") },
);
const step = fc.oneof(
  fc.record({ kind: fc.constant("text" as const), text: piece }),
  fc.record({ kind: fc.constant("reasoning" as const), text: piece }),
  fc.record({
    kind: fc.constant("tool" as const),
    index: fc.nat(2),
    name: fc.constantFrom("lookup_short", "t1", "t2"),
    args: piece,
  }),
  fc.record({
    kind: fc.constant("comment" as const),
    text: fc.constantFrom(": keep-alive", ":", ": OPENROUTER PROCESSING"),
  }),
  fc.record({ kind: fc.constant("usage" as const), n: fc.nat(1000) }),
);
const generated = fc.record({
  steps: fc.array(step, { maxLength: 25 }),
  finish: fc.constantFrom("stop", "length", "tool_calls", "content_filter", null),
  done: fc.boolean(),
  eol: fc.constantFrom<Eol>("\n", "\r\n", "\r"),
});

/** A generated stream as SSE bytes: tool calls announce id and name in their first chunk. */
function render(g: typeof generated extends fc.Arbitrary<infer T> ? T : never): Uint8Array {
  const seenTool = new Set<number>();
  let out = "";
  for (const s of g.steps) {
    switch (s.kind) {
      case "text":
        out += frame(chunk({ content: s.text }), g.eol);
        break;
      case "reasoning":
        out += frame(chunk({ reasoning_content: s.text }), g.eol);
        break;
      case "tool": {
        const first = !seenTool.has(s.index);
        seenTool.add(s.index);
        const fn = first ? { name: s.name, arguments: s.args } : { arguments: s.args };
        out += frame(
          chunk({
            tool_calls: [{
              index: s.index,
              ...(first ? { id: `call_${s.index}`, type: "function" } : {}),
              function: fn,
            }],
          }),
          g.eol,
        );
        break;
      }
      case "comment":
        out += `${s.text}${g.eol}${g.eol}`;
        break;
      case "usage":
        out += frame(usageChunk({ prompt_tokens: s.n, completion_tokens: 1 }), g.eol);
        break;
    }
  }
  if (g.finish !== null) out += frame(chunk({}, g.finish), g.eol);
  if (g.done) out += frame("[DONE]", g.eol);
  return encoder.encode(out);
}

describe("property: generated upstream streams, split anywhere", () => {
  it(`${GENERATED_STREAMS} random streams × random splits give the unsplit outcome`, () => {
    fc.assert(
      fc.property(generated, offsets, (g, cuts) => {
        const bytes = render(g);
        assert.deepEqual(convert(cut(bytes, cuts)), convert([bytes]));
      }),
      { numRuns: GENERATED_STREAMS, seed: Number(process.env.FC_SEED ?? 11) },
    );
  });

  it(`the decoder alone: ${DECODER_RUNS} random event streams (any text, any line ending) decode the same split or whole`, () => {
    const event = fc.record({
      event: fc.option(fc.constantFrom("message", "error", "ping"), { nil: undefined }),
      lines: fc.array(
        fc.string({ unit: "grapheme", maxLength: 8 }).map((s) => s.replace(/[\r\n]/g, "")),
        { minLength: 1, maxLength: 3 },
      ),
    });
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 8 }),
        fc.constantFrom<Eol>("\n", "\r\n", "\r"),
        offsets,
        (events, eol, cuts) => {
          const text = events.map((e) =>
            (e.event ? `event: ${e.event}${eol}` : "") + e.lines.map((l) =>
              `data: ${l}${eol}`
            ).join("") + eol
          ).join("");
          const bytes = encoder.encode(text);
          const whole = decodeAll([bytes]);
          assert.deepEqual(decodeAll(cut(bytes, cuts)), whole);
          // And the decoder reads back exactly what was written.
          assert.deepEqual(
            whole,
            events.map((e) => ({ event: e.event, data: e.lines.join("\n") })),
          );
        },
      ),
      { numRuns: DECODER_RUNS, seed: Number(process.env.FC_SEED ?? 13) },
    );
  });
});
