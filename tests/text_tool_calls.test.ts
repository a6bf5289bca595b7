/**
 * Tool calls that open models write as text when their server runs no tool-call parser: each
 * family's native syntax (as its chat template writes it) becomes tool_use blocks with stop
 * reason tool_use, streamed and not, when the request offered that tool; anything else stays
 * text. Streaming holds back only what could still start a tag, and how the upstream cuts the
 * text into chunks changes nothing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import Anthropic from "@anthropic-ai/sdk";
import type { StreamEvent } from "../lib/anthropic/schema.ts";
import { StreamConverter } from "../lib/upstreams/chat/stream.ts";
import { convertResponse } from "../lib/upstreams/chat/response.ts";
import { SseDecoder } from "../lib/upstreams/sse_decode.ts";
import { toolSchemas } from "../lib/upstreams/openai/tool_args.ts";
import {
  chunk,
  completion,
  type FakeUpstream,
  startFakeUpstream,
} from "./helpers/fake_upstream.ts";
import { connect, type Connected, sdkCreate, sdkStream } from "./helpers/provider_fakes.ts";
import { assertGrammar } from "./api_support.ts";

const TOOLS = [
  {
    name: "Bash",
    input_schema: {
      type: "object",
      properties: { command: { type: "string" }, timeout: { type: "number" } },
      required: ["command"],
    },
  },
  {
    name: "Read",
    input_schema: {
      type: "object",
      properties: { file_path: { type: "string" }, limit: { type: "integer" } },
      required: ["file_path"],
    },
  },
  { name: "TodoRead", input_schema: { type: "object", properties: {} } },
];

type Sample = { family: string; text: string; calls: { name: string; input: unknown }[] };

// Each as the family's chat template writes it.
const SAMPLES: Sample[] = [
  {
    family: "Qwen3-Coder",
    text: "I'll list the files.\n<tool_call>\n<function=Bash>\n<parameter=command>\nls -la\n" +
      "</parameter>\n<parameter=timeout>\n30\n</parameter>\n</function>\n</tool_call>",
    calls: [{ name: "Bash", input: { command: "ls -la", timeout: 30 } }],
  },
  {
    family: "Qwen3-Coder without the wrapper",
    text: "<function=Read>\n<parameter=file_path>\n/tmp/a.ts\n</parameter>\n</function>",
    calls: [{ name: "Read", input: { file_path: "/tmp/a.ts" } }],
  },
  {
    family: "GLM",
    text: "Reading it now.<tool_call>Read\n<arg_key>file_path</arg_key>\n<arg_value>/tmp/a.ts" +
      "</arg_value>\n<arg_key>limit</arg_key>\n<arg_value>20</arg_value>\n</tool_call>",
    calls: [{ name: "Read", input: { file_path: "/tmp/a.ts", limit: 20 } }],
  },
  {
    family: "GLM, no arguments",
    text: "<tool_call>TodoRead</tool_call>",
    calls: [{ name: "TodoRead", input: {} }],
  },
  {
    family: "Kimi K2",
    text: "Let me check.<|tool_calls_section_begin|><|tool_call_begin|>functions.Bash:0" +
      '<|tool_call_argument_begin|>{"command": "pwd"}<|tool_call_end|><|tool_call_begin|>' +
      'functions.Read:1<|tool_call_argument_begin|>{"file_path": "/x"}<|tool_call_end|>' +
      "<|tool_calls_section_end|>",
    calls: [
      { name: "Bash", input: { command: "pwd" } },
      { name: "Read", input: { file_path: "/x" } },
    ],
  },
  {
    family: "MiniMax-M2",
    text: '<minimax:tool_call>\n<invoke name="Bash">\n<parameter name="command">git status' +
      '</parameter>\n</invoke>\n<invoke name="Read">\n<parameter name="file_path">/y</parameter>' +
      "\n</invoke>\n</minimax:tool_call>",
    calls: [
      { name: "Bash", input: { command: "git status" } },
      { name: "Read", input: { file_path: "/y" } },
    ],
  },
  {
    family: "Hermes",
    text:
      'Sure.\n<tool_call>\n{"name": "Bash", "arguments": {"command": "echo hi"}}\n</tool_call>' +
      '\n<tool_call>\n{"name": "Read", "arguments": {"file_path": "/z"}}\n</tool_call>',
    calls: [
      { name: "Bash", input: { command: "echo hi" } },
      { name: "Read", input: { file_path: "/z" } },
    ],
  },
  {
    family: "DeepSeek V3",
    text: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>Bash\n```json\n" +
      '{"command": "date"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
    calls: [{ name: "Bash", input: { command: "date" } }],
  },
  {
    family: "DeepSeek V3.1",
    text: '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>Read<｜tool▁sep｜>{"file_path": "/d"}' +
      "<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    calls: [{ name: "Read", input: { file_path: "/d" } }],
  },
  {
    // Meta's custom tool format (Llama 3.1 model card): a JSON object inside <function=…>.
    family: "Llama 3",
    text: 'Listing.\n<function=Bash>{"command": "ls -la"}</function>',
    calls: [{ name: "Bash", input: { command: "ls -la" } }],
  },
  {
    family: "Qwen3-Coder, no parameters",
    text: "<tool_call>\n<function=TodoRead>\n</function>\n</tool_call>",
    calls: [{ name: "TodoRead", input: {} }],
  },
];

type Block = { type: string; text?: string; name?: string; input?: unknown };

const OPTIONS = {
  messageId: "msg_text_calls",
  model: "claude-sonnet-4-6",
  inputTokensEstimate: 10,
  toolNames: new Map(),
  toolSchemas: toolSchemas(TOOLS),
};

/** Drives the converter with text pieces; returns the blocks and the stop reason. */
function convert(pieces: readonly string[], tools = TOOLS) {
  const conv = new StreamConverter({ ...OPTIONS, toolSchemas: toolSchemas(tools) });
  const events: StreamEvent[] = [...conv.start()];
  const push = (delta: Record<string, unknown>, finish: string | null = null) =>
    events.push(...conv.push({ event: "", data: JSON.stringify(chunk(delta, finish)) }));
  for (const p of pieces) push({ content: p });
  push({}, "stop");
  events.push(...conv.finish());
  return { events, ...blocksOf(events) };
}

function blocksOf(events: StreamEvent[]) {
  const blocks: Block[] = [];
  const json: string[] = [];
  let stop: string | null = null;
  for (const e of events) {
    if (e.type === "content_block_start") {
      const b = e.content_block;
      blocks[e.index] = b.type === "tool_use"
        ? { type: "tool_use", name: b.name }
        : { type: b.type, text: "" };
      json[e.index] = "";
    } else if (e.type === "content_block_delta") {
      if (e.delta.type === "text_delta") blocks[e.index]!.text += e.delta.text;
      if (e.delta.type === "input_json_delta") json[e.index] += e.delta.partial_json;
    } else if (e.type === "content_block_stop") {
      const b = blocks[e.index]!;
      if (b.type === "tool_use") b.input = JSON.parse(json[e.index] || "{}");
    } else if (e.type === "message_delta") stop = e.delta.stop_reason;
  }
  return { blocks, stop };
}

const callsOf = (blocks: Block[]) =>
  blocks.filter((b) => b.type === "tool_use").map((b) => ({ name: b.name, input: b.input }));
const textOf = (blocks: Block[]) =>
  blocks.filter((b) => b.type === "text").map((b) => b.text).join("");

describe("tool calls written as text", () => {
  for (const sample of SAMPLES) {
    it(`${sample.family}: becomes tool_use blocks with stop reason tool_use`, () => {
      const { blocks, stop } = convert([sample.text]);
      assert.deepEqual(callsOf(blocks), sample.calls);
      assert.equal(stop, "tool_use");
      assert.doesNotMatch(textOf(blocks), /tool|invoke|function=/, "no markup is left as text");
    });
  }

  it("cut at every position, each syntax gives the same blocks", () => {
    for (const sample of SAMPLES) {
      const whole = convert([sample.text]).blocks;
      for (let i = 0; i <= sample.text.length; i++) {
        const split = convert([sample.text.slice(0, i), sample.text.slice(i)]).blocks;
        assert.deepEqual(split, whole, `${sample.family} cut at ${i}`);
      }
    }
  });

  it("cut anywhere into many pieces (one character each included), the blocks stay the same", () => {
    const text = SAMPLES.map((s) => s.text).join("\nThen:\n");
    const whole = convert([text]).blocks;
    assert.deepEqual(callsOf(whole), SAMPLES.flatMap((s) => s.calls));
    assert.deepEqual(convert([...text]).blocks, whole);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: text.length }), { maxLength: 40 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const pieces: string[] = [];
        let from = 0;
        for (const p of points) {
          pieces.push(text.slice(from, p));
          from = p;
        }
        pieces.push(text.slice(from));
        assert.deepEqual(convert(pieces).blocks, whole);
      }),
      { numRuns: 300 },
    );
  });

  it("the upstream's bytes cut at every position (inside DeepSeek's multi-byte tokens too): same blocks", () => {
    const text = SAMPLES[7]!.text + SAMPLES[4]!.text;
    const pieces = [text.slice(0, 40), text.slice(40, 90), text.slice(90)];
    const sse = [
      ...pieces.map((p) => chunk({ content: p })),
      chunk({}, "stop"),
    ].map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
    const bytes = new TextEncoder().encode(sse);
    const run = (cuts: number[]) => {
      const conv = new StreamConverter({
        messageId: "msg_bytes",
        model: "m",
        inputTokensEstimate: 1,
        toolNames: new Map(),
        toolSchemas: toolSchemas(TOOLS),
      });
      const decoder = new SseDecoder();
      const events: StreamEvent[] = [...conv.start()];
      let from = 0;
      for (const at of [...cuts, bytes.length]) {
        for (const m of decoder.push(bytes.subarray(from, at))) events.push(...conv.push(m));
        from = at;
      }
      for (const m of decoder.flush()) events.push(...conv.push(m));
      events.push(...conv.finish());
      return blocksOf(events);
    };
    const whole = run([]);
    assert.deepEqual(callsOf(whole.blocks), [...SAMPLES[7]!.calls, ...SAMPLES[4]!.calls]);
    for (let i = 1; i < bytes.length; i++) assert.deepEqual(run([i]), whole, `cut at byte ${i}`);
  });

  it("a tool the request did not offer, or a request without tools: the text stays text", () => {
    const text = SAMPLES[0]!.text;
    const unknown = convert([text.replace("Bash", "Deploy")]);
    assert.deepEqual(callsOf(unknown.blocks), []);
    assert.equal(textOf(unknown.blocks), text.replace("Bash", "Deploy"));
    assert.equal(unknown.stop, "end_turn");
    const none = convert([text], []);
    assert.equal(textOf(none.blocks), text);
    assert.equal(none.stop, "end_turn");
  });

  it("a call shown in a Markdown code block or inline code is an example, not a call", () => {
    const example = "Hermes models write calls like this:\n```xml\n" +
      '<tool_call>\n{"name": "Bash", "arguments": {"command": "rm -rf build"}}\n</tool_call>\n' +
      "```\nand GLM ones use `<tool_call>` with `<arg_key>`. Now the real one:\n";
    const text = example + SAMPLES[0]!.text;
    for (
      const pieces of [[text], [...text], [text.slice(0, 47), text.slice(47, 48), text.slice(48)]]
    ) {
      const { blocks, stop } = convert(pieces);
      assert.deepEqual(callsOf(blocks), SAMPLES[0]!.calls, "only the call outside code runs");
      assert.ok(textOf(blocks).startsWith(example), "the example stays text, word for word");
      assert.equal(stop, "tool_use");
    }
  });

  it("malformed markup stays text, word for word", () => {
    for (
      const text of [
        "<tool_call>\n{not json}\n</tool_call>",
        "<|tool_calls_section_begin|>garbage<|tool_calls_section_end|>",
        '<minimax:tool_call><invoke name="Bash"><parameter name="command">ls</parameter>',
        "<function=Bash>ls -la</function>",
        '<function=Bash>{"command": "ls -la"</function>',
      ]
    ) {
      const { blocks, stop } = convert([text]);
      assert.equal(textOf(blocks), text);
      assert.equal(stop, "end_turn");
    }
  });

  it("a call whose input the tool's schema refuses stays text, streamed and not", () => {
    for (
      const text of [
        "<tool_call>\n<function=Bash>\n</function>\n</tool_call>",
        '<tool_call>{"name": "Bash", "arguments": {}}</tool_call>',
        '<function=Bash>{"command": "ls", "timeout": "soon"}</function>',
        "<tool_call>Read\n<arg_key>limit</arg_key>\n<arg_value>5</arg_value>\n</tool_call>",
      ]
    ) {
      const { blocks, stop } = convert([text]);
      assert.equal(textOf(blocks), text);
      assert.equal(stop, "end_turn");
      const whole = convertResponse(completion({ content: text }), OPTIONS);
      assert.deepEqual(whole.content, [{ type: "text", text }]);
      assert.equal(whole.stop_reason, "end_turn");
    }
  });

  it("holds back only what could still start a tag, never the answer", () => {
    const conv = new StreamConverter({
      messageId: "msg_hold",
      model: "m",
      inputTokensEstimate: 1,
      toolNames: new Map(),
      toolSchemas: toolSchemas(TOOLS),
    });
    conv.start();
    const texts = (content: string) =>
      conv.push({ event: "", data: JSON.stringify(chunk({ content })) })
        .flatMap((e) =>
          e.type === "content_block_delta" && e.delta.type === "text_delta" ? [e.delta.text] : []
        ).join("");
    assert.equal(texts("Hello, world. a < b and "), "Hello, world. a < b and ");
    assert.equal(texts("then <tool"), "then ");
    assert.equal(texts("s> are XML"), "<tools> are XML");
    // Prose that mentions the tag is released as soon as it cannot be a call.
    assert.equal(texts("; a <tool_call> tag"), "; a ");
    assert.equal(texts(" wraps calls"), "<tool_call> tag wraps calls");
  });

  it("a region cut off by the end of the answer is a call when complete, text otherwise", () => {
    const complete = convert([SAMPLES[0]!.text.replace("</tool_call>", "")]);
    assert.deepEqual(callsOf(complete.blocks), SAMPLES[0]!.calls);
    const cut = "<tool_call>\n<function=Bash>\n<parameter=command>\nls";
    const partial = convert([cut]);
    assert.equal(textOf(partial.blocks), cut);
    assert.equal(partial.stop, "end_turn");
  });

  it("text after the call stays, without the blank line that separated them", () => {
    const { blocks } = convert([`${SAMPLES[6]!.text}\n\nDone.`]);
    assert.deepEqual(blocks.map((b) => b.type), ["text", "tool_use", "tool_use", "text"]);
    assert.equal(blocks[3]!.text, "Done.");
  });
});

describe("tool calls written as text, through the proxy and the SDK", () => {
  let upstream: FakeUpstream;
  let conn: Connected;
  let content = "";

  before(async () => {
    // A vLLM-like server started without --tool-call-parser: the markup arrives as content.
    upstream = await startFakeUpstream((req) => {
      const stream = (req.body as { stream?: unknown }).stream === true;
      if (!stream) return { json: completion({ content }) };
      const pieces = [...content].reduce<string[]>((acc, c, i) => {
        if (i % 7 === 0) acc.push("");
        acc[acc.length - 1] += c;
        return acc;
      }, []);
      return {
        sse: [
          chunk({ role: "assistant", content: "" }),
          ...pieces.map((p) => chunk({ content: p })),
          chunk({}, "stop"),
        ],
      };
    });
    conn = connect({
      OPENAI_BASE_URL: upstream.url,
      BIG_MODEL: "Qwen/Qwen3-Coder-30B-A3B-Instruct",
    });
  });
  after(async () => {
    await conn.close();
    await upstream.close();
  });

  for (const sample of [SAMPLES[0]!, SAMPLES[2]!, SAMPLES[4]!, SAMPLES[9]!]) {
    it(`${sample.family}: streamed and not, the client gets the same tool_use blocks`, async () => {
      content = sample.text;
      const { events, final } = await sdkStream(conn.client, { tools: TOOLS });
      assertGrammar(events.map((e) => ({ event: e.type, data: e })));
      const uses = (m: Anthropic.Message) =>
        m.content.flatMap((b) => b.type === "tool_use" ? [{ name: b.name, input: b.input }] : []);
      assert.deepEqual(uses(final), sample.calls);
      assert.equal(final.stop_reason, "tool_use");
      const whole = await sdkCreate(conn.client, { tools: TOOLS });
      assert.deepEqual(uses(whole), sample.calls);
      assert.equal(whole.stop_reason, "tool_use");
      assert.deepEqual(
        whole.content.map((b) => b.type),
        final.content.map((b) => b.type),
      );
      const ids = whole.content.flatMap((b) => b.type === "tool_use" ? [b.id] : []);
      for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]+$/);
      assert.equal(new Set(ids).size, ids.length);
    });
  }
});
