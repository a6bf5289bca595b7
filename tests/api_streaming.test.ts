/**
 * Streaming, end to end: OpenAI chunks from the fake upstream → the Anthropic event grammar
 * (https://docs.anthropic.com/en/api/messages-streaming) as raw SSE and as the official SDK's
 * `messages.stream()` assembles it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  chunk,
  splitText,
  type SseStep,
  textStream,
  toolCallStream,
  usageChunk,
} from "./helpers/fake_upstream.ts";
import { startProxy, type TestProxy } from "./helpers/proxy.ts";
import { StreamConverter } from "../lib/upstreams/chat/stream.ts";
import { driveStream } from "../lib/server/stream_response.ts";
import {
  assemble,
  assertGrammar,
  body,
  type Harness,
  parseSse,
  postJson,
  type Sse,
  startHarness,
} from "./api_support.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

async function streamEvents(h: Harness, extra: Record<string, unknown> = {}): Promise<Sse[]> {
  const res = await postJson(`${h.proxy.url}/v1/messages`, body({ stream: true, ...extra }));
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  return assertGrammar(parseSse(text));
}

const ofType = (events: Sse[], type: string) =>
  events.filter((e) => e.event === type).map((e) => e.data);
const deltas = (events: Sse[], index: number) =>
  ofType(events, "content_block_delta").filter((d) => d.index === index).map((d) => d.delta);

/** The SDK's view of one streamed request: every event it parsed, and its finalMessage(). */
async function sdkStream(client: Anthropic, extra: Record<string, unknown> = {}) {
  const stream = client.messages.stream(body(extra) as never);
  const events: Sse[] = [];
  // The SDK builds its snapshot out of the event objects themselves: copy them as they come.
  stream.on("streamEvent", (e: Json) => events.push({ event: e.type, data: structuredClone(e) }));
  const final = await stream.finalMessage();
  return { events: assertGrammar(events), final };
}

describe("streaming", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("follows the event grammar for a text answer, with usage in message_start and message_delta", async () => {
    h.reply({
      sse: textStream("Hello, world!", {
        parts: 4,
        usage: { prompt_tokens: 25, completion_tokens: 6 },
      }),
    });
    const events = await streamEvents(h);
    const start = events[0]!.data.message;
    assert.match(start.id, /^msg_/);
    assert.equal(start.type, "message");
    assert.equal(start.role, "assistant");
    assert.equal(start.model, "claude-sonnet-4-6");
    assert.equal(start.stop_reason, null);
    assert.deepEqual(ofType(events, "content_block_start"), [
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    ]);
    assert.deepEqual(
      deltas(events, 0).map((d) => d.text),
      splitText("Hello, world!", 4),
      "one text_delta per upstream piece",
    );
    const md = ofType(events, "message_delta")[0];
    assert.equal(md.delta.stop_reason, "end_turn");
    assert.equal(md.usage.output_tokens, 6);
    assert.equal(md.usage.input_tokens, 25);
  });

  it("keeps one text block per run of text", async () => {
    h.reply({
      sse: [
        chunk({ role: "assistant", content: "" }),
        chunk({ content: "a" }),
        chunk({ content: "" }),
        chunk({ content: "b" }),
        chunk({ content: null }),
        chunk({ content: "c" }),
        chunk({
          tool_calls: [{
            index: 0,
            id: "call_1",
            type: "function",
            function: { name: "ls", arguments: "{}" },
          }],
        }),
        chunk({}, "tool_calls"),
      ],
    });
    const events = await streamEvents(h);
    const starts = ofType(events, "content_block_start").map((s) => s.content_block.type);
    assert.deepEqual(starts, ["text", "tool_use"]);
    assert.equal(deltas(events, 0).map((d) => d.text).join(""), "abc");
  });

  it("forwards streamed tool-call arguments fragment by fragment as input_json_delta", async () => {
    const args = '{"command":"ls -la /tmp","description":"List files","timeout":30}';
    h.reply({ sse: toolCallStream([{ id: "call_abc", name: "Bash", args, parts: 5 }]) });
    const events = await streamEvents(h);
    assert.deepEqual(ofType(events, "content_block_start"), [{
      type: "content_block_start",
      index: 0,
      content_block: { type: "tool_use", id: "call_abc", name: "Bash", input: {} },
    }]);
    const fragments = deltas(events, 0).map((d) => {
      assert.equal(d.type, "input_json_delta");
      return d.partial_json;
    });
    // A comma at the end of a fragment waits for the next character (it may be a trailing
    // comma before `}`), so it travels with the next delta; nothing else is held or changed.
    const expected = splitText(args, 5).map((f, i, all) =>
      (i > 0 && all[i - 1]!.endsWith(",") ? "," : "") + (f.endsWith(",") ? f.slice(0, -1) : f)
    );
    assert.deepEqual(fragments, expected, "each upstream fragment becomes one delta");
    assert.equal(ofType(events, "message_delta")[0].delta.stop_reason, "tool_use");
  });

  it("turns parallel tool calls into separate tool_use blocks", async () => {
    h.reply({
      sse: toolCallStream([
        { id: "call_1", name: "Read", args: '{"file_path":"/a.ts"}' },
        { id: "call_2", name: "Read", args: '{"file_path":"/b.ts"}' },
        { id: "call_3", name: "Grep", args: '{"pattern":"TODO"}' },
      ], { text: "Reading three things." }),
    });
    const { events, final } = await sdkStream(h.client);
    assert.deepEqual(
      ofType(events, "content_block_start").map((
        s,
      ) => [s.index, s.content_block.type, s.content_block.id]),
      [[0, "text", undefined], [1, "tool_use", "call_1"], [2, "tool_use", "call_2"], [
        3,
        "tool_use",
        "call_3",
      ]],
    );
    assert.deepEqual(final.content, [
      { type: "text", text: "Reading three things." },
      { type: "tool_use", id: "call_1", name: "Read", input: { file_path: "/a.ts" } },
      { type: "tool_use", id: "call_2", name: "Read", input: { file_path: "/b.ts" } },
      { type: "tool_use", id: "call_3", name: "Grep", input: { pattern: "TODO" } },
    ]);
    assert.equal(final.stop_reason, "tool_use");
  });

  it("parallel tool calls whose argument fragments interleave, several per chunk", async () => {
    const call = (index: number, args: string, head?: { id: string; name: string }) => ({
      index,
      ...(head ? { id: head.id, type: "function" } : {}),
      function: { ...(head ? { name: head.name } : {}), arguments: args },
    });
    h.reply({
      sse: [
        chunk({
          role: "assistant",
          content: null,
          tool_calls: [
            call(0, '{"file_', { id: "call_1", name: "Read" }),
            call(1, '{"pat', { id: "call_2", name: "Grep" }),
            call(2, "", { id: "call_3", name: "Read" }),
          ],
        }),
        chunk({
          tool_calls: [call(0, 'path":"/a'), call(1, 'tern":"TO'), call(2, '{"file_path"')],
        }),
        chunk({ tool_calls: [call(0, '.ts"}'), call(1, 'DO"}'), call(2, ':"/c.ts"}')] }),
        chunk({}, "tool_calls"),
        usageChunk({ prompt_tokens: 20, completion_tokens: 9 }),
      ],
    });
    const { events, final } = await sdkStream(h.client);
    assert.equal(ofType(events, "content_block_start").length, 3);
    assert.deepEqual(final.content, [
      { type: "tool_use", id: "call_1", name: "Read", input: { file_path: "/a.ts" } },
      { type: "tool_use", id: "call_2", name: "Grep", input: { pattern: "TODO" } },
      { type: "tool_use", id: "call_3", name: "Read", input: { file_path: "/c.ts" } },
    ]);
    assert.equal(final.stop_reason, "tool_use");
  });

  // Ollama 0.20 (ollama/ollama#15457) and some bridges give every parallel call index 0.
  it("parallel tool calls that all reuse index 0 (with their own ids) stay separate", async () => {
    const head = (id: string, name: string, args: string) =>
      chunk({
        tool_calls: [{ index: 0, id, type: "function", function: { name, arguments: args } }],
      });
    const more = (args: string) =>
      chunk({ tool_calls: [{ index: 0, function: { arguments: args } }] });
    h.reply({
      sse: [
        chunk({ role: "assistant", content: "" }),
        head("call_1", "Read", '{"file_path":"/a.ts"}'),
        head("call_2", "Read", '{"file_path":"/b.ts"}'),
        head("call_3", "Grep", '{"pat'),
        more('tern":"TODO"}'),
        chunk({}, "tool_calls"),
        usageChunk({ prompt_tokens: 20, completion_tokens: 9 }),
      ],
    });
    const { final } = await sdkStream(h.client);
    assert.deepEqual(final.content, [
      { type: "tool_use", id: "call_1", name: "Read", input: { file_path: "/a.ts" } },
      { type: "tool_use", id: "call_2", name: "Read", input: { file_path: "/b.ts" } },
      { type: "tool_use", id: "call_3", name: "Grep", input: { pattern: "TODO" } },
    ]);
    assert.equal(final.stop_reason, "tool_use");
  });

  // Claude Code runs calls that are not concurrency-safe one by one, in block order.
  it("calls keep the model's order, with or without arguments, whatever order their arguments come in", async () => {
    const head = (index: number, id: string, name: string, args: string) =>
      chunk({ tool_calls: [{ index, id, type: "function", function: { name, arguments: args } }] });
    const args = (index: number, text: string) =>
      chunk({ tool_calls: [{ index, function: { arguments: text } }] });
    const weather = {
      name: "get_weather",
      input_schema: { type: "object", properties: { city: { type: "string" } } },
    };
    const tools = [{ name: "noargs", input_schema: { type: "object" } }, weather];
    const noargs = { type: "tool_use", id: "t1", name: "noargs", input: {} };
    const city = (id: string, name: string) => ({
      type: "tool_use",
      id,
      name,
      input: { city: name },
    });
    h.reply({
      sse: [
        chunk({ content: "first" }),
        head(0, "t1", "noargs", ""),
        head(1, "t2", "get_weather", '{"city":"Q"}'),
        chunk({}, "tool_calls"),
      ],
    }, {
      // Both announced first, then the second call's arguments before the first's.
      sse: [
        head(0, "a", "Oslo", ""),
        head(1, "b", "Rome", ""),
        args(1, '{"city":'),
        args(1, '"Rome"}'),
        args(0, '{"city":"Oslo"}'),
        chunk({}, "tool_calls"),
      ],
    });
    const calls = await sdkStream(h.client, { tools });
    assert.deepEqual(calls.final.content, [
      { type: "text", text: "first" },
      noargs,
      { type: "tool_use", id: "t2", name: "get_weather", input: { city: "Q" } },
    ]);
    const late = await sdkStream(h.client, {
      tools: [{ ...weather, name: "Oslo" }, { ...weather, name: "Rome" }],
    });
    assert.deepEqual(late.final.content, [city("a", "Oslo"), city("b", "Rome")]);
  });

  it("reports tool_use when tool calls came with finish_reason stop (Gemini)", async () => {
    h.reply({
      sse: toolCallStream([{ id: "call_g", name: "ls", args: "{}" }], { finish: "stop" }),
    });
    const events = await streamEvents(h);
    assert.equal(ofType(events, "message_delta")[0].delta.stop_reason, "tool_use");
  });

  it("does not report tool_use when the only tool call was unusable and sent as text", async () => {
    h.reply({ sse: toolCallStream([{ id: "call_p", name: "ls", args: "I will list the files" }]) });
    const { events, final } = await sdkStream(h.client);
    assert.ok(!final.content.some((b: Json) => b.type === "tool_use"));
    assert.ok(
      final.content.some((b: Json) => b.type === "text"),
      "the failure is reported as text",
    );
    assert.notEqual(ofType(events, "message_delta")[0].delta.stop_reason, "tool_use");
  });

  for (
    const [finish, expected] of [["length", "max_tokens"], ["content_filter", "refusal"], [
      "stop",
      "end_turn",
    ]]
  ) {
    it(`maps finish_reason ${finish} → ${expected}`, async () => {
      h.reply({ sse: textStream("x", { finish }) });
      const events = await streamEvents(h);
      assert.equal(ofType(events, "message_delta")[0].delta.stop_reason, expected);
    });
  }

  it("turns reasoning_content into a thinking block with a signature, before the text block", async () => {
    h.reply({ sse: textStream("The answer is 42.", { reasoning: "Let me think step by step." }) });
    const events = await streamEvents(h);
    assert.deepEqual(
      ofType(events, "content_block_start").map((s) => s.content_block),
      [{ type: "thinking", thinking: "", signature: "" }, { type: "text", text: "" }],
    );
    const thinking = deltas(events, 0);
    assert.equal(
      thinking.filter((d) => d.type === "thinking_delta").map((d) => d.thinking).join(""),
      "Let me think step by step.",
    );
    const sig = thinking.filter((d) => d.type === "signature_delta");
    assert.equal(sig.length, 1, "one signature_delta");
    assert.equal(thinking[thinking.length - 1], sig[0], "the signature closes the thinking block");
    assert.ok(typeof sig[0].signature === "string" && sig[0].signature.length > 0);
    const stopThinking = events.findIndex((e) =>
      e.event === "content_block_stop" && e.data.index === 0
    );
    const startText = events.findIndex((e) =>
      e.event === "content_block_start" && e.data.index === 1
    );
    assert.ok(stopThinking < startText);
    assert.equal(deltas(events, 1).map((d) => d.text).join(""), "The answer is 42.");
  });

  it("copes with SSE comments, empty choices, [DONE], and a usage-only final chunk", async () => {
    h.reply({
      sse: [
        { raw: ": OPENROUTER PROCESSING\n\n" },
        chunk({ role: "assistant", content: "" }),
        { raw: ": keep-alive\n\n" },
        { ...chunk({}), choices: [] },
        chunk({ content: "Hi" }),
        { raw: ": keep-alive\n\n" },
        chunk({ content: " there" }),
        chunk({}, "stop"),
        usageChunk({ prompt_tokens: 40, completion_tokens: 3, cached_tokens: 30 }),
      ],
      done: true,
    });
    const { events, final } = await sdkStream(h.client);
    assert.deepEqual(final.content, [{ type: "text", text: "Hi there" }]);
    assert.equal(final.stop_reason, "end_turn");
    assert.equal(final.usage.output_tokens, 3);
    assert.equal(final.usage.input_tokens, 10);
    assert.equal(final.usage.cache_read_input_tokens, 30);
    assert.equal(ofType(events, "message_delta")[0].usage.output_tokens, 3);
  });

  it("reassembles a data: line split across network reads (CRLF line ends too)", async () => {
    const first = `data: ${JSON.stringify(chunk({ content: "split " }))}\n\n`;
    const second = `data: ${JSON.stringify(chunk({ content: "line" }))}\r\n\r\n`;
    const cut = second.indexOf('"content"') + 4;
    h.reply({
      sse: [
        { raw: first.slice(0, 3) },
        { waitMs: 15 },
        { raw: first.slice(3) + second.slice(0, cut) },
        { waitMs: 15 },
        { raw: second.slice(cut, -1) },
        { waitMs: 15 },
        { raw: second.slice(-1) },
        chunk({}, "stop"),
      ],
    });
    const { final } = await sdkStream(h.client);
    assert.deepEqual(final.content, [{ type: "text", text: "split line" }]);
  });

  it("the SDK's finalMessage() equals what was streamed", async () => {
    h.reply({
      sse: [
        chunk({ role: "assistant", content: "" }),
        chunk({ reasoning_content: "Thinking about ünïcode… 🤔" }),
        chunk({ content: "Here: " }),
        chunk({ content: "日本語 ✓" }),
        chunk({
          tool_calls: [{
            index: 0,
            id: "call_x",
            type: "function",
            function: { name: "Write", arguments: "" },
          }],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"path":"/t.txt",' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"text":"é😀"}' } }] }),
        chunk({}, "tool_calls"),
        usageChunk({ prompt_tokens: 100, completion_tokens: 20 }),
      ],
    });
    const { events, final } = await sdkStream(h.client);
    const streamed = assemble(events);
    assert.equal(final.id, streamed.id);
    assert.equal(final.model, streamed.model);
    assert.deepEqual(final.content, streamed.content);
    assert.equal(final.stop_reason, streamed.stop_reason);
    assert.equal(final.usage.output_tokens, streamed.usage.output_tokens);
    assert.equal(final.usage.input_tokens, streamed.usage.input_tokens);
    assert.deepEqual(final.content.map((b: Json) => b.type), ["thinking", "text", "tool_use"]);
    assert.deepEqual((final.content[2] as Json).input, { path: "/t.txt", text: "é😀" });
    assert.equal((final.content[1] as Json).text, "Here: 日本語 ✓");
  });
});

describe("an upstream that keeps the connection open after the answer", () => {
  let h: Harness;
  // Short, so a proxy that waits for the connection to close fails in seconds, not minutes.
  before(async () => {
    h = await startHarness({ STREAM_IDLE_TIMEOUT: "2" });
  });
  after(() => h.close());

  it("[DONE] completes the message at once and releases the upstream", async () => {
    h.reply({
      sse: [...textStream("All done.", { parts: 2 }), { raw: "data: [DONE]\n\n" }],
      stallAfter: true,
    });
    const { final } = await sdkStream(h.client);
    assert.deepEqual(final.content, [{ type: "text", text: "All done." }]);
    assert.equal(final.stop_reason, "end_turn");
    await h.lastRequest().closed;
  });

  it("without [DONE], usage after the finish_reason completes the message and releases the upstream", async () => {
    // textStream ends with the finish chunk and a usage chunk; stallAfter sends no [DONE].
    h.reply({ sse: textStream("All done.", { parts: 2 }), stallAfter: true });
    const { final } = await sdkStream(h.client);
    assert.deepEqual(final.content, [{ type: "text", text: "All done." }]);
    assert.equal(final.stop_reason, "end_turn");
    assert.equal(final.usage.output_tokens, 7, "the usage chunk's figures");
    await h.lastRequest().closed;
  });

  it("the answer is over at [DONE], or at usage with or after the finish_reason, not before", () => {
    const data = (step: SseStep | "[DONE]") => ({
      event: "",
      data: step === "[DONE]" ? step : JSON.stringify(step),
    });
    const doneAfter = (steps: (SseStep | "[DONE]")[]) => {
      const conv = new StreamConverter({
        messageId: "msg_done",
        model: "m",
        inputTokensEstimate: 1,
        toolNames: new Map(),
      });
      conv.start();
      return steps.map((step) => (conv.push(data(step)), conv.sawDone));
    };
    const usage = usageChunk({ prompt_tokens: 3, completion_tokens: 2 });
    const text = chunk({ content: "Hi" });
    const finish = chunk({}, "stop");
    // OpenAI's order: finish, usage (no choices), [DONE]. Nothing but [DONE] comes after.
    assert.deepEqual(doneAfter([text, finish, usage, "[DONE]"]), [false, false, true, true]);
    // Usage in the finish chunk itself (Mistral, DeepSeek).
    assert.deepEqual(doneAfter([text, { ...finish, usage: usage.usage }]), [false, true]);
    // Without usage after it, a finish waits: the usage chunk may still come.
    assert.deepEqual(doneAfter([text, finish]), [false, false]);
    // Usage before the finish (some servers report it on every chunk) is not the end either.
    assert.deepEqual(doneAfter([{ ...text, usage: usage.usage }, finish]), [false, false]);
    assert.deepEqual(doneAfter([text, "[DONE]"]), [false, true]);
  });
});

describe("the grammar checker used above", () => {
  const ev = (data: Json): Sse => ({ event: data.type, data });
  const start = ev({
    type: "message_start",
    message: { content: [], usage: { input_tokens: 1, output_tokens: 0 } },
  });
  const text = (index: number) =>
    ev({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
  const delta = (index: number, d: Json) => ev({ type: "content_block_delta", index, delta: d });
  const stop = (index: number) => ev({ type: "content_block_stop", index });
  const end = [
    ev({ type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 1 } }),
    ev({ type: "message_stop" }),
  ];
  const good = [start, text(0), delta(0, { type: "text_delta", text: "a" }), stop(0), ...end];

  it("accepts a well-formed stream", () => {
    assertGrammar(good);
  });

  const broken: [string, Sse[]][] = [
    ["no message_start", good.slice(1)],
    ["two message_starts", [start, ...good]],
    ["an index that skips", [start, text(1), stop(1), ...end]],
    ["a delta of the wrong type", [
      start,
      text(0),
      delta(0, { type: "input_json_delta", partial_json: "{}" }),
      stop(0),
      ...end,
    ]],
    ["a block left open", [start, text(0), ...end]],
    ["two blocks open at once", [start, text(0), text(1), stop(1), stop(0), ...end]],
    ["no message_stop", good.slice(0, -1)],
    ["events after message_stop", [...good, text(1)]],
    ["a message_delta without stop_reason", [
      ...good.slice(0, -2),
      ev({ type: "message_delta", delta: {}, usage: { output_tokens: 1 } }),
      end[1]!,
    ]],
  ];
  for (const [name, events] of broken) {
    it(`rejects ${name}`, () => {
      assert.throws(() => assertGrammar(events));
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Byte-level splits. Strings cannot hold half a UTF-8 character, so these upstream bodies are
// built as bytes: once through a raw node:http upstream, and once at every byte boundary through
// the stream pipeline itself (no network, so every split is exercised deterministically).

const encoder = new TextEncoder();

/** An SSE body with multi-byte characters, comments, empty choices, usage and [DONE]. */
function sampleBody(): Uint8Array {
  const steps: SseStep[] = [
    chunk({ role: "assistant", content: "" }),
    chunk({ content: "Grüße 😀 " }),
    chunk({ content: "日本" }),
    { ...chunk({}), choices: [] },
    chunk({
      tool_calls: [{
        index: 0,
        id: "call_u",
        type: "function",
        function: { name: "echo", arguments: '{"s":' },
      }],
    }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '"ñ🎉"}' } }] }),
    chunk({}, "tool_calls"),
    usageChunk({ prompt_tokens: 9, completion_tokens: 4 }),
  ];
  let text = ": keep-alive\n\n";
  for (const s of steps) text += `data: ${JSON.stringify(s)}\n\n`;
  return encoder.encode(`${text}data: [DONE]\n\n`);
}

const EXPECTED_CONTENT = [
  { type: "text", text: "Grüße 😀 日本" },
  { type: "tool_use", id: "call_u", name: "echo", input: { s: "ñ🎉" } },
];

describe("upstream bytes split at arbitrary boundaries", () => {
  let server: Server;
  let pieces: Uint8Array[] = [];
  let proxy: TestProxy;
  let client: Anthropic;
  before(async () => {
    server = createServer(async (req, res) => {
      for await (const _ of req) { /* drain */ }
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.flushHeaders();
      for (const p of pieces) {
        res.write(p);
        await new Promise((r) => setTimeout(r, 10));
      }
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    proxy = startProxy({ OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` });
    client = new Anthropic({ baseURL: proxy.url, apiKey: "k", maxRetries: 0 });
  });
  after(async () => {
    await proxy.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("through the real proxy: a multi-byte character and a data: line cut across writes", async () => {
    const bytes = sampleBody();
    const emoji = encoder.encode("😀");
    const emojiAt = indexOfBytes(bytes, emoji);
    const dataAt = indexOfBytes(bytes, encoder.encode('data: {"id"'), emojiAt);
    const cuts = [5, emojiAt + 1, emojiAt + 3, dataAt + 2, dataAt + 9, bytes.length - 3];
    pieces = cutAt(bytes, cuts);
    const { events, final } = await sdkStream(client);
    assert.deepEqual(final.content, EXPECTED_CONTENT);
    assert.equal(final.stop_reason, "tool_use");
    assert.equal(final.usage.output_tokens, 4);
    assert.deepEqual(assemble(events).content, EXPECTED_CONTENT);
  });

  it("through the stream pipeline: the same events for a split at every byte", async () => {
    const bytes = sampleBody();
    const whole = await pipeline([bytes]);
    assert.deepEqual(assemble(assertGrammar(parseSse(whole))).content, EXPECTED_CONTENT);
    for (let i = 1; i < bytes.length; i++) {
      const split = await pipeline([bytes.subarray(0, i), bytes.subarray(i)]);
      assert.equal(split, whole, `split at byte ${i}`);
    }
    // And one byte per read.
    const single = await pipeline(Array.from(bytes, (b) => Uint8Array.of(b)));
    assert.equal(single, whole);
  });
});

function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error("needle not found");
}

function cutAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Upstream reads → the client's SSE text, through driveStream and the StreamConverter. */
async function pipeline(reads: Uint8Array[]): Promise<string> {
  let i = 0;
  const upstream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < reads.length) controller.enqueue(reads[i++]!);
      else controller.close();
    },
  });
  const converter = new StreamConverter({
    messageId: "msg_fixed",
    model: "claude-sonnet-4-6",
    inputTokensEstimate: 9,
    toolNames: new Map(),
  });
  const out = driveStream({
    body: upstream,
    converter,
    idleTimeoutMs: 60_000,
    pingIntervalMs: 60_000,
    abortUpstream: () => {},
    onEnd: () => {},
  });
  return await new Response(out).text();
}

describe("keep-alive content events for Claude Code's stream watchdog", () => {
  // Claude Code's watchdog (300 s in 2.1.x) skips `ping` events: a long silence aborts the
  // stream and the request is sent again without streaming, unless content events keep coming.
  const enc = new TextEncoder();
  const sse = (c: unknown) => enc.encode(`data: ${JSON.stringify(c)}\n\n`);
  const SILENCE_MS = 300;

  /** One upstream read per step; a number is a silence of that many milliseconds. */
  async function slowPipeline(steps: (unknown | number)[]): Promise<Sse[]> {
    let i = 0;
    const upstream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        while (typeof steps[i] === "number") {
          await new Promise((r) => setTimeout(r, steps[i++] as number));
        }
        if (i < steps.length) controller.enqueue(sse(steps[i++]));
        else {
          controller.enqueue(enc.encode("data: [DONE]\n\n"));
          controller.close();
        }
      },
    });
    const converter = new StreamConverter({
      messageId: "msg_fixed",
      model: "claude-sonnet-4-6",
      inputTokensEstimate: 9,
      toolNames: new Map(),
    });
    const out = driveStream({
      body: upstream,
      converter,
      idleTimeoutMs: 60_000,
      pingIntervalMs: 10,
      keepAliveMs: 40,
      abortUpstream: () => {},
      onEnd: () => {},
    });
    return parseSse(await new Response(out).text());
  }

  const empty = (e: Sse) =>
    e.event === "content_block_delta" &&
    (e.data.delta.text === "" || e.data.delta.thinking === "" || e.data.delta.partial_json === "");

  it("a silence before the first token opens an empty thinking block, then the answer follows", async () => {
    const events = assertGrammar(
      await slowPipeline([
        chunk({ role: "assistant", content: "" }),
        SILENCE_MS,
        chunk({ content: "late" }),
        chunk({}, "stop"),
      ]),
    );
    const message = assemble(events);
    assert.deepEqual(message.content.map((b: { type: string }) => b.type), ["thinking", "text"]);
    assert.equal(message.content[0].thinking, "");
    assert.equal(message.content[1].text, "late");
  });

  it("a silence inside a text run keeps one text block; inside tool arguments, the input whole", async () => {
    const text = assertGrammar(
      await slowPipeline([
        chunk({ content: "Hello, " }),
        SILENCE_MS,
        chunk({ content: "world" }),
        chunk({}, "stop"),
      ]),
    );
    assert.ok(text.some(empty), "an empty delta went out during the silence");
    assert.deepEqual(assemble(text).content, [{ type: "text", text: "Hello, world" }]);

    const call = (args: string, head = false) =>
      chunk({
        tool_calls: [{
          index: 0,
          ...(head ? { id: "call_1", type: "function" } : {}),
          function: { ...(head ? { name: "Bash" } : {}), arguments: args },
        }],
      });
    const tool = assertGrammar(
      await slowPipeline([
        call('{"command":', true),
        SILENCE_MS,
        call('"ls"}'),
        chunk({}, "tool_calls"),
      ]),
    );
    assert.ok(tool.some(empty), "an empty delta went out during the silence");
    assert.deepEqual(assemble(tool).content, [
      { type: "tool_use", id: "call_1", name: "Bash", input: { command: "ls" } },
    ]);
  });
});
