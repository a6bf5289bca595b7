/**
 * What OpenAI-compatible servers (vLLM, llama.cpp, LM Studio, LiteLLM, SGLang …) really stream,
 * and the tool-call arguments open models really send: no usage, tool-call chunks without
 * `index`, the id repeated in every chunk, `content: null`, finish_reason on its own, cumulative
 * snapshots instead of deltas, double-encoded JSON, JSON cut off at the end. The happy path
 * still streams; repairs are checked against the tool's schema; what cannot be used is said so.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import {
  chunk,
  completion,
  type FakeUpstream,
  type Reply,
  type SseStep,
  startFakeUpstream,
} from "./helpers/fake_upstream.ts";
import { TEST_CLIENT_KEY } from "./helpers/proxy.ts";
import { connect, type Connected, sdkCreate, sdkStream } from "./helpers/provider_fakes.ts";
import { assertGrammar, parseSse } from "./api_support.ts";

const TOOLS = [
  {
    name: "Bash",
    input_schema: {
      type: "object",
      properties: { command: { type: "string" } },
      required: ["command"],
    },
  },
  {
    name: "Write",
    input_schema: {
      type: "object",
      properties: { file_path: { type: "string" }, content: { type: "string" } },
      required: ["file_path", "content"],
    },
  },
];

const call = (fn: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  chunk({ tool_calls: [{ ...extra, function: fn }] });

describe("generic OpenAI-compatible upstreams", () => {
  let upstream: FakeUpstream;
  let conn: Connected;
  let reply: Reply = { sse: [] };

  before(async () => {
    upstream = await startFakeUpstream(() => reply);
    conn = connect({
      OPENAI_BASE_URL: upstream.url,
      BIG_MODEL: "qwen2.5-coder-32b",
      MIDDLE_MODEL: "qwen2.5-coder-32b",
    });
  });
  after(async () => {
    await conn.close();
    await upstream.close();
  });

  /** Streams `steps` (plus [DONE]) through the proxy and the SDK; checks the event grammar. */
  async function through(steps: SseStep[]) {
    reply = { sse: steps };
    const { events, final } = await sdkStream(conn.client, { tools: TOOLS });
    assertGrammar(events.map((e) => ({ event: e.type, data: e })));
    return { events, final };
  }
  const toolUses = (m: Anthropic.Message) =>
    m.content.filter((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
  const jsonDeltas = (events: { type: string; delta?: { type: string } }[]) =>
    events.filter((e) => e.type === "content_block_delta" && e.delta?.type === "input_json_delta")
      .length;

  it("no usage in the stream: output tokens are estimated, not zero", async () => {
    const { final } = await through([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "A fairly long answer that is certainly more than a token or two." }),
      chunk({}, "stop"),
    ]);
    assert.ok(final.usage.output_tokens > 5, `estimated ${final.usage.output_tokens}`);
    assert.ok(final.usage.input_tokens > 0);
  });

  it("content: null, and finish_reason in a chunk of its own after the text", async () => {
    const { final } = await through([
      chunk({ role: "assistant", content: null }),
      chunk({ content: "Hello" }),
      chunk({ content: null }),
      chunk({ content: " world" }),
      chunk({}, null),
      chunk({}, "stop"),
    ]);
    assert.deepEqual(final.content.map((b) => (b.type === "text" ? b.text : b.type)), [
      "Hello world",
    ]);
    assert.equal(final.stop_reason, "end_turn");
  });

  it("tool-call chunks without index, the id only in the first one", async () => {
    const { final } = await through([
      chunk({ role: "assistant", content: null }),
      call({ name: "Bash", arguments: "" }, { id: "call_a", type: "function" }),
      call({ arguments: '{"comm' }),
      call({ arguments: 'and": "ls -l"}' }),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(toolUses(final).map((t) => [t.id, t.input]), [["call_a", {
      command: "ls -l",
    }]]);
  });

  it("the id repeated in every chunk, with and without index, is one call", async () => {
    for (const withIndex of [true, false]) {
      const extra = { id: "call_rep", type: "function", ...(withIndex ? { index: 0 } : {}) };
      const { final } = await through([
        call({ name: "Bash", arguments: "" }, extra),
        call({ arguments: '{"command":' }, extra),
        call({ arguments: ' "pwd"}' }, extra),
        chunk({}, "tool_calls"),
      ]);
      assert.deepEqual(
        toolUses(final).map((t) => t.input),
        [{ command: "pwd" }],
        `index: ${withIndex}`,
      );
    }
  });

  it("parallel calls that all say index 0 but have their own ids are separate calls", async () => {
    // Ollama (ollama#15457) and some llama.cpp-based servers reuse index 0 for every call.
    const first = { index: 0, id: "call_a", type: "function" };
    const second = { index: 0, id: "call_b", type: "function" };
    const { final } = await through([
      call({ name: "Bash", arguments: "" }, first),
      call({ arguments: '{"command":' }, { index: 0 }),
      call({ arguments: ' "ls"}' }, { index: 0 }),
      call({ name: "Write", arguments: "" }, second),
      call({ arguments: '{"file_path":"a","content":"b"}' }, { index: 0 }),
      call({ name: "Bash", arguments: '{"command":"pwd"}' }, { ...first, id: "call_c" }),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(toolUses(final).map((t) => [t.id, t.name, t.input]), [
      ["call_a", "Bash", { command: "ls" }],
      ["call_b", "Write", { file_path: "a", content: "b" }],
      ["call_c", "Bash", { command: "pwd" }],
    ]);
  });

  it("whole calls without index or id, one chunk each, are separate calls", async () => {
    const { final } = await through([
      call({ name: "Bash", arguments: '{"command":"ls"}' }),
      call({ name: "Bash", arguments: '{"command":"pwd"}' }),
      chunk({}, "stop"),
    ]);
    const calls = toolUses(final);
    assert.deepEqual(calls.map((t) => t.input), [{ command: "ls" }, { command: "pwd" }]);
    assert.equal(new Set(calls.map((t) => t.id)).size, 2);
    assert.equal(final.stop_reason, "tool_use");
  });

  it("well-formed deltas are streamed as they come, not held back", async () => {
    const { events, final } = await through([
      call({ name: "Bash", arguments: "" }, { index: 0, id: "call_s", type: "function" }),
      call({ arguments: '{"command"' }, { index: 0 }),
      call({ arguments: ': "echo' }, { index: 0 }),
      call({ arguments: ' hi"}' }, { index: 0 }),
      chunk({}, "tool_calls"),
    ]);
    assert.equal(jsonDeltas(events), 3, "one input_json_delta per upstream piece");
    assert.deepEqual(toolUses(final)[0]?.input, { command: "echo hi" });
  });

  it("cumulative snapshots instead of deltas give the arguments once", async () => {
    const { final } = await through([
      call({ name: "Bash", arguments: "{" }, { index: 0, id: "call_snap", type: "function" }),
      call({ arguments: '{"command": "l' }, { index: 0 }),
      call({ arguments: '{"command": "ls -a"}' }, { index: 0 }),
      // Some servers repeat the whole call in the last chunk.
      call({ name: "Bash", arguments: '{"command": "ls -a"}' }, { index: 0, id: "call_snap" }),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(toolUses(final).map((t) => t.input), [{ command: "ls -a" }]);
  });

  it("double-encoded JSON arguments are decoded", async () => {
    const encoded = JSON.stringify(JSON.stringify({ command: "git status" }));
    const { final } = await through([
      call({ name: "Bash", arguments: "" }, { index: 0, id: "call_dbl", type: "function" }),
      call({ arguments: encoded.slice(0, 10) }, { index: 0 }),
      call({ arguments: encoded.slice(10) }, { index: 0 }),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(toolUses(final).map((t) => t.input), [{ command: "git status" }]);
  });

  it("JSON cut off at the end of the stream is completed", async () => {
    const { final } = await through([
      call({ name: "Bash", arguments: "" }, { index: 0, id: "call_cut", type: "function" }),
      call({ arguments: '{"command": "make' }, { index: 0 }),
      call({ arguments: " test" }, { index: 0 }),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(toolUses(final).map((t) => t.input), [{ command: "make test" }]);
  });

  // Cut by the token limit instead ("length"), it is a max_tokens answer: see api_messages.
  it("a repair that still fails the tool's schema ends the stream with a clear error, not a bad input", async () => {
    reply = {
      sse: [
        call({ name: "Write", arguments: "" }, { index: 0, id: "call_w", type: "function" }),
        call({ arguments: '{"file_path": "/tmp/a.txt", "con' }, { index: 0 }),
        chunk({}, "tool_calls"),
      ],
    };
    const res = await fetch(`${conn.proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
      body: JSON.stringify({
        model: "claude-opus-4-8",
        max_tokens: 100,
        stream: true,
        tools: TOOLS,
        messages: [{ role: "user", content: "write it" }],
      }),
    });
    const events = parseSse(await res.text());
    const last = events[events.length - 1]!;
    assert.equal(last.event, "error");
    assert.match(last.data.error.message, /Write/);
    assert.match(last.data.error.message, /missing required content/);
    assert.ok(!events.some((e) => e.event === "message_stop"));
  });

  it("arguments that cannot be repaired become a clear text block instead of a call", async () => {
    const { final } = await through([
      call({ name: "Bash", arguments: "" }, { index: 0, id: "call_bad", type: "function" }),
      call({ arguments: "run ls please" }, { index: 0 }),
      chunk({}, "tool_calls"),
    ]);
    assert.equal(toolUses(final).length, 0);
    const text = final.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    assert.match(text, /the model called tool Bash but its arguments are not valid JSON/);
    assert.match(text, /run ls please/);
    assert.equal(final.stop_reason, "end_turn", "no tool_use without a tool call");
  });

  it("double-encoded arguments missing required fields reach the client as the model sent them", async () => {
    // Unwrapping a JSON string guesses nothing: like Anthropic's API, the client's own
    // validation answers the model. Only completed (cut-off) arguments are checked here.
    const { final } = await through([
      call({ name: "Write", arguments: JSON.stringify(JSON.stringify({ file_path: "/tmp/x" })) }, {
        index: 0,
        id: "call_dw",
        type: "function",
      }),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(toolUses(final).map((t) => t.input), [{ file_path: "/tmp/x" }]);
  });

  it("non-streamed answers get the same repairs and the same clear message", async () => {
    reply = {
      json: completion({
        tool_calls: [
          { id: "c1", name: "Bash", args: '{"command": "ls"' },
          { id: "c2", name: "Bash", args: JSON.stringify(JSON.stringify({ command: "pwd" })) },
          { id: "c3", name: "Bash", args: "not json" },
        ],
      }),
    };
    const message = await sdkCreate(conn.client, { tools: TOOLS });
    assert.deepEqual(toolUses(message).map((t) => [t.id, t.input]), [["c1", { command: "ls" }], [
      "c2",
      { command: "pwd" },
    ]]);
    assert.match(
      message.content.map((b) => (b.type === "text" ? b.text : "")).join(""),
      /the model called tool Bash but its arguments are not valid JSON/,
    );
  });
});
