/**
 * Tool arguments that are almost JSON, repaired before the client parses them and while still
 * streaming: a trailing comma (only the comma waits for the next character), a Markdown fence,
 * JSON wrapped in a string. What cannot be repaired gets the same message streamed and not. And
 * the odd ways servers deliver arguments — only in the final chunk, repeated whole in every
 * chunk, an empty string for a tool without parameters — each give one correct tool_use block.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import type { StreamEvent } from "../lib/anthropic/schema.ts";
import { StreamConverter } from "../lib/upstreams/chat/stream.ts";
import { parseToolArguments, toolSchemas } from "../lib/upstreams/openai/tool_args.ts";
import {
  chunk,
  completion,
  type FakeUpstream,
  type Reply,
  type SseStep,
  startFakeUpstream,
} from "./helpers/fake_upstream.ts";
import { connect, type Connected, sdkCreate, sdkStream } from "./helpers/provider_fakes.ts";
import { assertGrammar } from "./api_support.ts";

const TOOLS = [
  {
    name: "Bash",
    input_schema: {
      type: "object",
      properties: { command: { type: "string" }, args: { type: "array" } },
      required: ["command"],
    },
  },
  { name: "TodoRead", input_schema: { type: "object", properties: {} } },
];

const header = (name = "Bash", id = "call_1") =>
  chunk({
    tool_calls: [{ index: 0, id, type: "function", function: { name, arguments: "" } }],
  });
const args = (piece: string) =>
  chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] });

function converter() {
  const conv = new StreamConverter({
    messageId: "msg_args",
    model: "claude-sonnet-4-6",
    inputTokensEstimate: 10,
    toolNames: new Map(),
    toolSchemas: toolSchemas(TOOLS),
  });
  conv.start();
  return conv;
}
const feed = (conv: StreamConverter, step: SseStep) =>
  conv.push({ event: "", data: JSON.stringify(step) });
const jsonOf = (events: StreamEvent[]) =>
  events.flatMap((e) =>
    e.type === "content_block_delta" && e.delta.type === "input_json_delta"
      ? [e.delta.partial_json]
      : []
  );

describe("tool arguments repaired while streaming", () => {
  it("a trailing comma: only the comma waits, and is dropped before } or ]", () => {
    const conv = converter();
    feed(conv, header());
    assert.deepEqual(jsonOf(feed(conv, args('{"command": "ls", "args": [1, 2,'))), [
      '{"command": "ls", "args": [1, 2',
    ]);
    assert.deepEqual(jsonOf(feed(conv, args(" ]"))), [" ]"], "the comma before ] is gone");
    assert.deepEqual(jsonOf(feed(conv, args(","))), []);
    assert.deepEqual(jsonOf(feed(conv, args("\n}"))), ["\n}"]);
    feed(conv, chunk({}, "tool_calls"));
    const end = conv.finish();
    assert.equal(end.find((e) => e.type === "message_delta")?.delta.stop_reason, "tool_use");
  });

  it("a comma that is not trailing goes on with the next character; commas in strings pass", () => {
    const conv = converter();
    feed(conv, header());
    assert.deepEqual(jsonOf(feed(conv, args('{"command": "echo a,}",'))), [
      '{"command": "echo a,}"',
    ]);
    assert.deepEqual(jsonOf(feed(conv, args(' "args": []}'))), [', "args": []}']);
  });

  it("a Markdown fence: the JSON inside streams, the fence never reaches the client", () => {
    const conv = converter();
    feed(conv, header());
    assert.deepEqual(jsonOf(feed(conv, args("```json"))), []);
    assert.deepEqual(jsonOf(feed(conv, args('\n{"command": '))), ['{"command": ']);
    assert.deepEqual(jsonOf(feed(conv, args('"ls"}\n'))), ['"ls"}']);
    assert.deepEqual(jsonOf(feed(conv, args("```"))), []);
    feed(conv, chunk({}, "tool_calls"));
    assert.deepEqual(jsonOf(conv.finish()), []);
  });

  it("JSON wrapped in a string streams decoded", () => {
    const conv = converter();
    feed(conv, header());
    const wrapped = JSON.stringify('{"command": "say \\"hi\\"\\n"}');
    const out = [wrapped.slice(0, 9), wrapped.slice(9, 24), wrapped.slice(24)].flatMap((p) =>
      jsonOf(feed(conv, args(p)))
    );
    assert.ok(out.length >= 2, "decoded as it arrives, not all at the end");
    assert.deepEqual(JSON.parse(out.join("")), { command: 'say "hi"\n' });
  });
});

describe("tool arguments through the proxy and the SDK", () => {
  let upstream: FakeUpstream;
  let conn: Connected;
  let reply: Reply = { sse: [] };

  before(async () => {
    upstream = await startFakeUpstream(() => reply);
    conn = connect({ OPENAI_BASE_URL: upstream.url, BIG_MODEL: "llama-3.3-70b" });
  });
  after(async () => {
    await conn.close();
    await upstream.close();
  });

  async function streamed(steps: SseStep[]) {
    reply = { sse: steps };
    const { events, final } = await sdkStream(conn.client, { tools: TOOLS });
    assertGrammar(events.map((e) => ({ event: e.type, data: e })));
    return final;
  }
  const uses = (m: Anthropic.Message) =>
    m.content.flatMap((b) => b.type === "tool_use" ? [{ name: b.name, input: b.input }] : []);
  const text = (m: Anthropic.Message) =>
    m.content.map((b) => (b.type === "text" ? b.text : "")).join("");

  for (
    const [name, raw] of [
      ["trailing comma", '{"command": "ls", "args": ["-l",],}'],
      ["Markdown fence", '```json\n{"command": "ls", "args": ["-l"]}\n```'],
      ["JSON in a string", JSON.stringify('{"command": "ls", "args": ["-l"]}')],
    ]
  ) {
    it(`${name}: one tool_use with the meant input, streamed and not`, async () => {
      const pieces = [raw!.slice(0, 7), raw!.slice(7, 20), raw!.slice(20)];
      const final = await streamed([header(), ...pieces.map(args), chunk({}, "tool_calls")]);
      assert.deepEqual(uses(final), [{ name: "Bash", input: { command: "ls", args: ["-l"] } }]);
      assert.equal(final.stop_reason, "tool_use");
      reply = { json: completion({ tool_calls: [{ id: "c1", name: "Bash", args: raw! }] }) };
      const whole = await sdkCreate(conn.client, { tools: TOOLS });
      assert.deepEqual(uses(whole), uses(final));
    });
  }

  it("what cannot be repaired says the same thing streamed and not, with what was received", async () => {
    const raw = "command: ls";
    const final = await streamed([header(), args(raw), chunk({}, "tool_calls")]);
    reply = { json: completion({ tool_calls: [{ id: "c1", name: "Bash", args: raw }] }) };
    const whole = await sdkCreate(conn.client, { tools: TOOLS });
    assert.equal(text(final), text(whole));
    assert.equal(
      text(whole),
      "[proxy: the model called tool Bash but its arguments are not valid JSON, so the call was " +
        "not made. Arguments received: command: ls]",
    );
    assert.equal(uses(whole).length, 0);
    assert.equal(whole.stop_reason, "end_turn");
  });

  it("arguments only in the final chunk give one tool_use", async () => {
    const final = await streamed([
      header(),
      chunk(
        { tool_calls: [{ index: 0, function: { arguments: '{"command": "pwd"}' } }] },
        "tool_calls",
      ),
    ]);
    assert.deepEqual(uses(final), [{ name: "Bash", input: { command: "pwd" } }]);
    const whole = await streamed([
      chunk({ role: "assistant", content: "" }),
      chunk({
        tool_calls: [{
          index: 0,
          id: "call_9",
          type: "function",
          function: { name: "Bash", arguments: '{"command": "pwd"}' },
        }],
      }, "tool_calls"),
    ]);
    assert.deepEqual(uses(whole), [{ name: "Bash", input: { command: "pwd" } }]);
  });

  it("arguments repeated whole in every chunk give one tool_use", async () => {
    const full = {
      id: "call_r",
      type: "function",
      function: { name: "Bash", arguments: '{"command": "ls"}' },
    };
    const withIndex = { index: 0, ...full };
    // Some servers mint a new id for every chunk of the same call.
    const freshIds = [1, 2, 3].map((n) => ({ ...withIndex, id: `call_r${n}` }));
    for (const calls of [[withIndex, withIndex, withIndex], [full, full, full], freshIds]) {
      const final = await streamed([
        chunk({ tool_calls: [calls[0]] }),
        chunk({ tool_calls: [calls[1]] }),
        chunk({ tool_calls: [calls[2]] }, "tool_calls"),
      ]);
      assert.deepEqual(uses(final), [{ name: "Bash", input: { command: "ls" } }]);
    }
  });

  it("empty-string arguments for a tool without parameters give one tool_use with {}", async () => {
    const final = await streamed([
      header("TodoRead"),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "" } }] }),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(uses(final), [{ name: "TodoRead", input: {} }]);
    reply = { json: completion({ tool_calls: [{ id: "c1", name: "TodoRead", args: "" }] }) };
    assert.deepEqual(uses(await sdkCreate(conn.client, { tools: TOOLS })), uses(final));
  });
});

describe("parseToolArguments", () => {
  it("repairs what models write, and says when it had to guess", () => {
    const table: [string, unknown, boolean][] = [
      ['{"a": 1,}', { a: 1 }, false],
      ['{"a": [1, 2,],}', { a: [1, 2] }, false],
      ['```json\n{"a": 1}\n```', { a: 1 }, false],
      ['```\n{"a": 1,}\n```', { a: 1 }, false],
      [JSON.stringify('{"a": 1}'), { a: 1 }, false],
      ['{"a": "x,}"}', { a: "x,}" }, false],
      ['{"a": 1', { a: 1 }, true],
      ['{"a": 1,', { a: 1 }, true],
    ];
    for (const [raw, input, repaired] of table) {
      assert.deepEqual(parseToolArguments(raw), { ok: true, input, repaired }, raw);
    }
    assert.equal(parseToolArguments("[1, 2]").ok, false);
    assert.equal(parseToolArguments("```json\nnope\n```").ok, false);
  });
});
