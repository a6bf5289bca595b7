/**
 * Tool arguments that are almost JSON, repaired before the client parses them and while still
 * streaming: a trailing comma (only the comma waits for the next character), a Markdown fence,
 * JSON wrapped in a string. What cannot be repaired gets the same message streamed and not. And
 * the odd ways servers deliver arguments — only in the final chunk, repeated whole in every
 * chunk, an empty string for a tool without parameters — each give one correct tool_use block.
 * So do the odd ways they deliver calls: empty or repeated ids (made unique, and paired again in
 * the next turn), a newline between argument fragments, the legacy `function_call`; a call
 * without a name fails the same way streamed and not.
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
import {
  bodyOf,
  connect,
  type Connected,
  sdkCreate,
  sdkStream,
  toolPairingProblem,
} from "./helpers/provider_fakes.ts";
import { ToolCallIds } from "../lib/upstreams/openai/tool_call_ids.ts";
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

/**
 * For one describe block: the proxy in front of an upstream that answers each request with
 * `reply`, and the SDK on it.
 */
function scriptedProxy() {
  const t = {
    reply: { sse: [] } as Reply,
    upstream: undefined as unknown as FakeUpstream,
    conn: undefined as unknown as Connected,
    /** The streamed answer to `steps`, its event grammar checked. */
    async streamed(steps: SseStep[]) {
      t.reply = { sse: steps };
      const { events, final } = await sdkStream(t.conn.client, { tools: TOOLS });
      assertGrammar(events.map((e) => ({ event: e.type, data: e })));
      return final;
    },
  };
  before(async () => {
    t.upstream = await startFakeUpstream(() => t.reply);
    t.conn = connect({ OPENAI_BASE_URL: t.upstream.url, BIG_MODEL: "llama-3.3-70b" });
  });
  after(async () => {
    await t.conn.close();
    await t.upstream.close();
  });
  return t;
}

describe("tool arguments through the proxy and the SDK", () => {
  const t = scriptedProxy();
  const streamed = t.streamed;
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
      t.reply = { json: completion({ tool_calls: [{ id: "c1", name: "Bash", args: raw! }] }) };
      const whole = await sdkCreate(t.conn.client, { tools: TOOLS });
      assert.deepEqual(uses(whole), uses(final));
    });
  }

  it("what cannot be repaired says the same thing streamed and not, with what was received", async () => {
    const raw = "command: ls";
    const final = await streamed([header(), args(raw), chunk({}, "tool_calls")]);
    t.reply = { json: completion({ tool_calls: [{ id: "c1", name: "Bash", args: raw }] }) };
    const whole = await sdkCreate(t.conn.client, { tools: TOOLS });
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
    t.reply = { json: completion({ tool_calls: [{ id: "c1", name: "TodoRead", args: "" }] }) };
    assert.deepEqual(uses(await sdkCreate(t.conn.client, { tools: TOOLS })), uses(final));
  });
});

describe("tool calls in the shapes servers send, through the proxy and the SDK", () => {
  const t = scriptedProxy();
  const streamed = t.streamed;
  const uses = (m: Anthropic.Message) =>
    m.content.flatMap((b) =>
      b.type === "tool_use" ? [{ id: b.id, name: b.name, input: b.input }] : []
    );
  const call = (index: number, id: string, command: string) => ({
    index,
    id,
    type: "function",
    function: { name: "Bash", arguments: JSON.stringify({ command }) },
  });
  /** A whole answer as an old server sends it: `function_call`, not `tool_calls`. */
  const legacyCompletion = (fn: Record<string, unknown>) => ({
    id: "chatcmpl-legacy",
    object: "chat.completion",
    choices: [{
      index: 0,
      message: { role: "assistant", content: null, function_call: fn },
      finish_reason: "function_call",
    }],
    usage: { prompt_tokens: 5, completion_tokens: 3 },
  });

  it("empty and repeated upstream ids become unique ids the next turn pairs upstream", async () => {
    t.reply = {
      json: completion({
        tool_calls: [
          { id: "a", name: "Bash", args: '{"command": "ls"}' },
          { id: "a", name: "Bash", args: '{"command": "pwd"}' },
          { id: "", name: "Bash", args: '{"command": "date"}' },
        ],
      }),
    };
    const first = await sdkCreate(t.conn.client, { tools: TOOLS });
    const ids = uses(first).map((u) => u.id);
    assert.deepEqual(uses(first).map((u) => u.input), [
      { command: "ls" },
      { command: "pwd" },
      { command: "date" },
    ]);
    assert.equal(ids[0], "a", "the first keeps the upstream's id");
    assert.equal(new Set(ids).size, 3, ids.join(" "));
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]+$/);

    // The client answers each call: the proxy accepts the turn and the upstream gets pairs.
    t.reply = { json: completion({ content: "done" }) };
    const next = await sdkCreate(t.conn.client, {
      tools: TOOLS,
      messages: [
        { role: "user", content: "Hello" },
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: ids.map((id) => ({ type: "tool_result", tool_use_id: id, content: id })),
        },
      ],
    });
    assert.equal(next.stop_reason, "end_turn");
    const messages = bodyOf(t.upstream.requests[t.upstream.requests.length - 1]!).messages ?? [];
    assert.equal(toolPairingProblem(messages), undefined);
    const sent = messages.flatMap((m) => m.tool_calls ?? []).map((c) => c.id);
    assert.equal(new Set(sent).size, 3, JSON.stringify(sent));
    // Each result goes back under the id of the call it answers.
    for (const m of messages.filter((m) => m.role === "tool")) {
      assert.equal(m.content, m.tool_call_id);
    }
  });

  it("two streamed calls with their own index but the same id: two tool_use, unique ids", async () => {
    const final = await streamed([
      chunk({ tool_calls: [call(0, "call_0", "ls")] }),
      chunk({ tool_calls: [call(1, "call_0", "pwd")] }),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(uses(final).map((u) => u.input), [{ command: "ls" }, { command: "pwd" }]);
    assert.equal(uses(final)[0]!.id, "call_0");
    assert.notEqual(uses(final)[1]!.id, "call_0");
    // A server that repeats the id on every chunk of one call still gives one call.
    const repeated = await streamed([
      chunk({
        tool_calls: [{ ...call(0, "call_0", ""), function: { name: "Bash", arguments: "" } }],
      }),
      chunk({ tool_calls: [{ index: 0, id: "call_0", function: { arguments: '{"command":' } }] }),
      chunk({ tool_calls: [{ index: 0, id: "call_0", function: { arguments: '"ls"}' } }] }),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(uses(repeated), [{ id: "call_0", name: "Bash", input: { command: "ls" } }]);
  });

  it("a newline sent as content between argument fragments leaves the call whole", async () => {
    const final = await streamed([
      header("Bash", "a"),
      args('{"command":'),
      chunk({ content: "\n" }),
      args('"ls"}'),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(uses(final), [{ id: "a", name: "Bash", input: { command: "ls" } }]);
    assert.deepEqual(final.content.map((b) => b.type), ["tool_use"], "the blank is not a block");
    assert.equal(final.stop_reason, "tool_use");
    // Text that follows the blank is not lost, and the blank goes with it.
    const withText = await streamed([
      header("Bash", "a"),
      args('{"command": "ls"}'),
      chunk({ content: "\n" }),
      chunk({ content: "Listing." }),
      chunk({}, "tool_calls"),
    ]);
    assert.deepEqual(withText.content.map((b) => b.type), ["tool_use", "text"]);
    assert.equal(withText.content[1]!.type === "text" && withText.content[1]!.text, "\nListing.");
  });

  it("the legacy function_call is one tool call, streamed and not", async () => {
    const final = await streamed([
      chunk({ role: "assistant", content: null, function_call: { name: "Bash", arguments: "" } }),
      chunk({ function_call: { arguments: '{"command":' } }),
      chunk({ function_call: { arguments: ' "ls"}' } }),
      chunk({}, "function_call"),
    ]);
    const expected = [{ name: "Bash", input: { command: "ls" } }];
    const strip = (m: Anthropic.Message) => uses(m).map(({ name, input }) => ({ name, input }));
    assert.deepEqual(strip(final), expected);
    assert.equal(final.stop_reason, "tool_use");
    t.reply = { json: legacyCompletion({ name: "Bash", arguments: '{"command": "ls"}' }) };
    const whole = await sdkCreate(t.conn.client, { tools: TOOLS });
    assert.deepEqual(strip(whole), expected);
    assert.equal(whole.stop_reason, "tool_use");
    assert.match(uses(whole)[0]!.id, /^[A-Za-z0-9_-]+$/);
  });

  it("a call without a function name fails alike, streamed and not", async () => {
    const message = "upstream sent a tool call without a function name";
    t.reply = {
      json: completion({ tool_calls: [{ id: "c1", name: "", args: '{"command": "ls"}' }] }),
    };
    await assert.rejects(sdkCreate(t.conn.client, { tools: TOOLS }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.APIError);
      assert.equal(err.status, 502);
      assert.equal((err.error as { error?: { type?: string } }).error?.type, "api_error");
      assert.match(err.message, new RegExp(message));
      return true;
    });
    await assert.rejects(
      streamed([
        chunk({
          tool_calls: [{ index: 0, id: "c1", function: { arguments: '{"command": "ls"}' } }],
        }),
        chunk({}, "tool_calls"),
      ]),
      new RegExp(message),
    );
  });
});

describe("ToolCallIds", () => {
  it("keeps an upstream id, replaces an empty one, and makes a repeated one unique", () => {
    const ids = new ToolCallIds();
    assert.deepEqual(
      [
        ids.claim("a", "gen_0"),
        ids.claim("a", "gen_1"),
        ids.claim("", "gen_2"),
        ids.claim(undefined, "gen_3"),
        ids.claim("a_2", "gen_4"),
        ids.claim("a", "gen_5"),
      ],
      ["a", "a_2", "gen_2", "gen_3", "a_2_2", "a_3"],
    );
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
