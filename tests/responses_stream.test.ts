/**
 * The Responses API stream converter, fed with fixtures written from the documented event
 * grammar (helpers/responses_fake.ts), decoded from bytes as they would arrive: every answer
 * must follow Anthropic's stream grammar and assemble into the expected message.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ProxyError } from "../lib/anthropic/errors.ts";
import type { StreamEvent } from "../lib/anthropic/schema.ts";
import { decodeSignature } from "../lib/anthropic/signature.ts";
import { SseDecoder } from "../lib/upstreams/sse_decode.ts";
import { StreamConverter } from "../lib/upstreams/responses/stream.ts";
import { convertResponse, type ResponseOptions } from "../lib/upstreams/responses/response.ts";
import { assemble, assertGrammar, type Sse } from "./api_support.ts";
import {
  type EndSpec,
  errorEvent,
  failedEvent,
  frame,
  type ItemSpec,
  responseEvents,
  responseJson,
} from "./helpers/responses_fake.ts";

const TAG = "upstream-tag";
const opts: ResponseOptions = {
  messageId: "msg_0123456789abcdef",
  model: "claude-sonnet-4-6",
  inputTokensEstimate: 42,
  contextWindow: 400_000,
  toolNames: new Map(),
  upstreamTag: TAG,
  thinking: true,
};

const textOf = (events: Record<string, unknown>[]) =>
  frame(events).map((s) => (s as { raw: string }).raw).join("");

/** Bytes → SSE messages → converter, the text cut every `step` characters. */
function run(text: string, step = text.length): StreamEvent[] {
  const decoder = new SseDecoder();
  const conv = new StreamConverter(opts);
  const out = [...conv.start()];
  for (let i = 0; i < text.length; i += step) {
    for (const m of decoder.push(text.slice(i, i + step))) out.push(...conv.push(m));
  }
  for (const m of decoder.flush()) out.push(...conv.push(m));
  out.push(...conv.finish());
  return out;
}

const asSse = (events: StreamEvent[]): Sse[] => events.map((e) => ({ event: e.type, data: e }));

function message(items: ItemSpec[], end: EndSpec = {}, step?: number) {
  const events = asSse(run(textOf(responseEvents(items, end)), step));
  return assemble(assertGrammar(events));
}

function failure(events: Record<string, unknown>[]): ProxyError {
  try {
    run(textOf(events));
  } catch (err) {
    return err as ProxyError;
  }
  assert.fail("the stream should have failed");
}

describe("Responses stream → Anthropic stream", () => {
  it("text: output_text deltas become one text block, end_turn, usage mapped", () => {
    const m = message([{ type: "message", text: "Hello there, world.", parts: 4 }], {
      usage: { input: 120, output: 9, cached: 100 },
    });
    assert.deepEqual(m.content, [{ type: "text", text: "Hello there, world." }]);
    assert.equal(m.stop_reason, "end_turn");
    assert.deepEqual(m.usage, {
      input_tokens: 20,
      output_tokens: 9,
      cache_read_input_tokens: 100,
    });
    assert.equal(m.model, "claude-sonnet-4-6");
  });

  it("the same events cut at every byte boundary give the same stream", () => {
    const items: ItemSpec[] = [
      { type: "reasoning", summary: ["Thinking é ✓"], encrypted: "enc-1" },
      { type: "message", text: "Ünïcode 🙂 text" },
      { type: "function_call", call_id: "call_a", name: "Read", arguments: '{"p":"x"}' },
    ];
    const text = textOf(responseEvents(items));
    const whole = JSON.stringify(run(text));
    for (const step of [1, 2, 3, 7, 64]) assert.equal(JSON.stringify(run(text, step)), whole);
  });

  it("one function call with fragmented arguments → tool_use with input_json_delta", () => {
    const events = asSse(
      run(textOf(responseEvents([
        { type: "message", text: "Let me look." },
        {
          type: "function_call",
          call_id: "call_1",
          name: "Read",
          arguments: '{"file_path":"/tmp/a.txt"}',
          parts: 6,
        },
      ]))),
    );
    const deltas = events.filter((e) => e.data.delta?.type === "input_json_delta");
    assert.ok(deltas.length >= 6, "each arguments delta is forwarded as it arrives");
    const m = assemble(assertGrammar(events));
    assert.deepEqual(m.content, [
      { type: "text", text: "Let me look." },
      { type: "tool_use", id: "call_1", name: "Read", input: { file_path: "/tmp/a.txt" } },
    ]);
    assert.equal(m.stop_reason, "tool_use");
  });

  it("several function calls in one answer keep their order and ids", () => {
    const m = message([
      { type: "function_call", call_id: "call_a", name: "Read", arguments: '{"n":1}' },
      { type: "function_call", call_id: "call_b", name: "Glob", arguments: '{"n":2}', parts: 1 },
      { type: "function_call", call_id: "call_c", name: "Bash", arguments: '{"n":3}', parts: 5 },
    ]);
    assert.deepEqual(m.content.map((b: { id: string }) => b.id), ["call_a", "call_b", "call_c"]);
    assert.deepEqual(m.content.map((b: { input: unknown }) => b.input), [
      { n: 1 },
      { n: 2 },
      { n: 3 },
    ]);
    assert.equal(m.stop_reason, "tool_use");
  });

  it("parallel calls whose events interleave by output_index stay whole, in order", () => {
    const calls: ItemSpec[] = [
      {
        type: "function_call",
        call_id: "call_a",
        name: "Read",
        arguments: '{"path":"a.ts"}',
        parts: 4,
      },
      {
        type: "function_call",
        call_id: "call_b",
        name: "Glob",
        arguments: '{"glob":"*.md"}',
        parts: 4,
      },
    ];
    const all = responseEvents(calls);
    const of = (i: number) => all.filter((e) => e.output_index === i);
    const head = all.filter((e) =>
      e.output_index === undefined && !/completed/.test(String(e.type))
    );
    const tail = all.filter((e) => /completed/.test(String(e.type)));
    const [a, b] = [of(0), of(1)];
    // One event of each in turn; then the same with the second call finishing first.
    const alternate = a.flatMap((e, i) => (b[i] ? [e, b[i]!] : [e]));
    const secondFirst = [...a.slice(0, -1), ...b, a.at(-1)!];
    for (const events of [alternate, secondFirst]) {
      const m = assemble(assertGrammar(asSse(run(textOf([...head, ...events, ...tail])))));
      assert.deepEqual(m.content.map((c: { id: string }) => c.id), ["call_a", "call_b"]);
      assert.deepEqual(m.content.map((c: { input: unknown }) => c.input), [
        { path: "a.ts" },
        { glob: "*.md" },
      ]);
      assert.equal(m.stop_reason, "tool_use");
    }
  });

  it("arguments only in function_call_arguments.done still arrive, once", () => {
    const events = asSse(run(textOf(responseEvents([
      {
        type: "function_call",
        call_id: "call_x",
        name: "Write",
        arguments: '{"file_path":"a","content":"b"}',
        onlyDone: true,
      },
    ]))));
    const json = events.filter((e) => e.data.delta?.type === "input_json_delta")
      .map((e) => e.data.delta.partial_json).join("");
    assert.equal(json, '{"file_path":"a","content":"b"}');
    const m = assemble(assertGrammar(events));
    assert.deepEqual(m.content[0].input, { file_path: "a", content: "b" });
  });

  it("reasoning summaries → thinking block; encrypted content → the signature", () => {
    const m = message([
      { type: "reasoning", summary: ["First I read.", "Then I answer."], encrypted: "gAAAA-enc" },
      { type: "message", text: "Done." },
    ], { usage: { input: 50, output: 300, reasoning: 256 } });
    assert.equal(m.content[0].type, "thinking");
    assert.equal(m.content[0].thinking, "First I read.\n\nThen I answer.");
    assert.deepEqual(decodeSignature(m.content[0].signature).encrypted_reasoning, {
      content: "gAAAA-enc",
      upstream: TAG,
    });
    assert.deepEqual(m.content[1], { type: "text", text: "Done." });
    // Output tokens include the reasoning tokens, as Anthropic's include thinking.
    assert.deepEqual(m.usage, { input_tokens: 50, output_tokens: 300 });
  });

  it("a reasoning item without summary still yields a thinking block carrying its content", () => {
    const m = message([
      { type: "reasoning", summary: [], encrypted: "enc-only" },
      { type: "function_call", call_id: "call_1", name: "Read", arguments: "{}" },
    ]);
    assert.equal(m.content[0].type, "thinking");
    assert.equal(m.content[0].thinking, "");
    assert.equal(decodeSignature(m.content[0].signature).encrypted_reasoning?.content, "enc-only");
    assert.equal(m.content[1].type, "tool_use");
  });

  it("refusal → text and stop reason refusal", () => {
    const m = message([{ type: "message", text: "I can't help with that.", refusal: true }]);
    assert.deepEqual(m.content, [{ type: "text", text: "I can't help with that." }]);
    assert.equal(m.stop_reason, "refusal");
  });

  it("incomplete for max_output_tokens → max_tokens, also after a tool call", () => {
    const m = message([
      { type: "message", text: "Partial" },
      { type: "function_call", call_id: "c", name: "Write", arguments: '{"a":1}' },
    ], { status: "incomplete", incompleteReason: "max_output_tokens" });
    assert.equal(m.stop_reason, "max_tokens");
  });

  it("a call the token limit cut short: max_tokens with its partial input, not an error", () => {
    const write = {
      type: "object",
      properties: { path: { type: "string" }, content: { type: "string" } },
      required: ["path", "content"],
    };
    const withSchema = { ...opts, toolSchemas: new Map([["write", write]]) };
    const args = '{"path":"a.txt","cont';
    const end: EndSpec = { status: "incomplete", incompleteReason: "max_output_tokens" };
    const note = convertResponse(
      responseJson([{ type: "function_call", call_id: "c1", name: "write", arguments: args }], end),
      withSchema,
    ).content;
    assert.equal(note.length, 1);
    assert.equal(note[0]!.type, "text");
    const call = { type: "function_call" as const, call_id: "c1", name: "write", arguments: args };
    // With the item marked incomplete, and from a server that leaves out its output_item.done.
    const marked = responseEvents([{ ...call, status: "incomplete" }], end);
    const unmarked = marked.filter((e) => e.type !== "response.output_item.done");
    for (const events of [marked, unmarked]) {
      const conv = new StreamConverter(withSchema);
      const decoder = new SseDecoder();
      const out = [...conv.start()];
      for (const m of decoder.push(textOf(events))) out.push(...conv.push(m));
      out.push(...conv.finish());
      // The partial input goes as it came: a client cannot parse it, so it does not run it.
      const input = out.flatMap((e) =>
        e.type === "content_block_delta" && e.delta.type === "input_json_delta"
          ? [e.delta.partial_json]
          : []
      ).join("");
      assert.equal(input, args);
      const stop = out.find((e) => e.type === "message_delta");
      assert.equal(stop?.type === "message_delta" && stop.delta.stop_reason, "max_tokens");
      const text = out.flatMap((e) =>
        e.type === "content_block_delta" && e.delta.type === "text_delta" ? [e.delta.text] : []
      ).join("");
      assert.match(text, /tool write .*cut off by the token limit/);
      assert.equal(out.at(-1)?.type, "message_stop");
    }
  });

  it("incomplete for content_filter → refusal", () => {
    const m = message([{ type: "message", text: "Par" }], {
      status: "incomplete",
      incompleteReason: "content_filter",
    });
    assert.equal(m.stop_reason, "refusal");
  });

  it("response.failed → the mapped error", () => {
    const err = failure([
      ...responseEvents([{ type: "message", text: "x" }]).slice(0, 4),
      failedEvent("server_error", "The server had an error while processing your request."),
    ]);
    assert.equal(err.type, "overloaded_error");
    assert.match(err.message, /server had an error/);
  });

  it("response.failed with a context overflow → prompt is too long: N tokens > M maximum", () => {
    const err = failure([
      failedEvent(
        "context_length_exceeded",
        "Your input exceeds the context window of this model. Please adjust your input and try again.",
      ),
    ]);
    assert.equal(err.status, 400);
    assert.equal(err.type, "invalid_request_error");
    assert.match(err.message, /^prompt is too long: \d+ tokens > 400000 maximum/);
  });

  it("an error event mid-stream → the mapped error", () => {
    const err = failure([
      ...responseEvents([{ type: "message", text: "Half an answer" }]).slice(0, 5),
      errorEvent("rate_limit_exceeded", "Rate limit reached for requests"),
    ]);
    assert.equal(err.type, "overloaded_error");
    assert.match(err.message, /Rate limit reached/);
  });

  it("an error event with an invalid-request code is the client's error", () => {
    const err = failure([errorEvent("invalid_prompt", "Invalid prompt: flagged")]);
    assert.equal(err.status, 400);
    assert.equal(err.type, "invalid_request_error");
  });

  it("an untyped {error} event (a gateway's) → the mapped error, not an ignored event", () => {
    const before = failure([
      ...responseEvents([{ type: "message", text: "x" }]).slice(0, 2),
      { error: { message: "Rate limit hit via gateway", code: 429 } },
    ]);
    assert.equal(before.type, "overloaded_error");
    assert.match(before.message, /Rate limit hit via gateway/);
    const midway = failure([
      ...responseEvents([{ type: "message", text: "Half an answer" }]).slice(0, 5),
      { error: { message: "Invalid tool schema", code: 400 } },
    ]);
    assert.equal(midway.status, 400);
    assert.equal(midway.type, "invalid_request_error");
    assert.match(midway.message, /Invalid tool schema/);
  });

  it("a stream that ends without response.completed is an error, not end_turn", () => {
    const err = failure(responseEvents([{ type: "message", text: "cut" }]).slice(0, -1));
    assert.equal(err.type, "overloaded_error");
    assert.match(err.message, /before the answer was complete/);
  });

  it("unknown event types are ignored and named", () => {
    const events = responseEvents([{ type: "message", text: "ok" }]);
    events.splice(2, 0, { type: "response.some_future_event.delta", delta: "?" });
    const conv = new StreamConverter(opts);
    const decoder = new SseDecoder();
    const out = [...conv.start()];
    for (const m of decoder.push(textOf(events))) out.push(...conv.push(m));
    out.push(...conv.finish());
    assertGrammar(asSse(out));
    assert.deepEqual([...conv.ignoredEvents!], ["response.some_future_event.delta"]);
    assert.equal(conv.sawDone, true);
  });

  it("usage so far before the end: the estimate", () => {
    const conv = new StreamConverter(opts);
    assert.equal(conv.usageSoFar.input_tokens, 42);
  });
});

describe("Responses object → Anthropic message (non-streaming)", () => {
  it("maps reasoning, text and function calls in order, with usage", () => {
    const m = convertResponse(
      responseJson([
        { type: "reasoning", summary: ["Plan."], encrypted: "enc-9" },
        { type: "message", text: "Reading." },
        { type: "function_call", call_id: "call_9", name: "Read", arguments: '{"f":"a"}' },
      ], { usage: { input: 1000, output: 40, cached: 900, reasoning: 20 } }),
      opts,
    );
    assert.equal(m.content[0]!.type, "thinking");
    assert.deepEqual(m.content.slice(1), [
      { type: "text", text: "Reading." },
      { type: "tool_use", id: "call_9", name: "Read", input: { f: "a" } },
    ]);
    assert.equal(m.stop_reason, "tool_use");
    assert.deepEqual(m.usage, {
      input_tokens: 100,
      output_tokens: 40,
      cache_read_input_tokens: 900,
    });
  });

  it("incomplete, refusal and failed answers", () => {
    const incomplete = convertResponse(
      responseJson([{ type: "message", text: "a" }], { status: "incomplete" }),
      opts,
    );
    assert.equal(incomplete.stop_reason, "max_tokens");
    const refused = convertResponse(
      responseJson([{ type: "message", text: "no", refusal: true }]),
      opts,
    );
    assert.equal(refused.stop_reason, "refusal");
    assert.throws(
      () =>
        convertResponse(
          {
            ...responseJson([]),
            status: "failed",
            error: { code: "server_error", message: "boom" },
          },
          opts,
        ),
      (e: ProxyError) => e.type === "overloaded_error" && /boom/.test(e.message),
    );
    assert.throws(
      () => convertResponse({ choices: [] }, opts),
      (e: ProxyError) => e.status === 502 && /not a response object/.test(e.message),
    );
  });

  it("a gateway's {error} object in place of a response → the mapped error", () => {
    const cases: { body: unknown; status: number; type: string; message: RegExp }[] = [
      {
        body: { error: { message: "Rate limit hit via gateway", code: "rate_limit_exceeded" } },
        status: 429,
        type: "rate_limit_error",
        message: /in a 200 answer: Rate limit hit via gateway/,
      },
      {
        body: { error: { message: "Provider is down", code: 503 } },
        status: 529,
        type: "overloaded_error",
        message: /in a 200 answer: Provider is down/,
      },
      {
        body: { error: { message: "Bad tool schema", type: "invalid_request_error" } },
        status: 400,
        type: "invalid_request_error",
        message: /Bad tool schema/,
      },
      {
        body: { error: { message: "No credits left", code: 402 } },
        status: 402,
        type: "billing_error",
        message: /No credits left/,
      },
      {
        body: { error: "upstream is down" },
        status: 529,
        type: "overloaded_error",
        message: /upstream is down/,
      },
    ];
    for (const c of cases) {
      assert.throws(
        () => convertResponse(c.body, opts),
        (e: ProxyError) => e.status === c.status && e.type === c.type && c.message.test(e.message),
        JSON.stringify(c.body),
      );
    }
  });
});

describe("reasoning without thinking asked for", () => {
  it("is left out of the stream and of a whole answer, as Anthropic sends no thinking then", () => {
    const items: ItemSpec[] = [
      { type: "reasoning", summary: ["hidden"], encrypted: "e" },
      { type: "message", text: "Just the answer." },
    ];
    const quiet = { ...opts, thinking: false };
    const conv = new StreamConverter(quiet);
    const decoder = new SseDecoder();
    const out = [...conv.start()];
    for (const m of decoder.push(textOf(responseEvents(items)))) out.push(...conv.push(m));
    out.push(...conv.finish());
    const m = assemble(assertGrammar(asSse(out)));
    assert.deepEqual(m.content, [{ type: "text", text: "Just the answer." }]);
    const whole = convertResponse(responseJson(items), quiet);
    assert.deepEqual(whole.content, [{ type: "text", text: "Just the answer." }]);
  });
});

describe("Responses stream from servers that cut corners", () => {
  it("only the final response.completed, with the output whole", () => {
    const all = responseEvents([
      { type: "reasoning", summary: ["R."], encrypted: "e" },
      { type: "message", text: "Whole text." },
      { type: "function_call", call_id: "c1", name: "Read", arguments: '{"a":1}' },
    ]);
    const m = assemble(assertGrammar(asSse(run(textOf([all[all.length - 1]!])))));
    assert.deepEqual(m.content.map((b: { type: string }) => b.type), [
      "thinking",
      "text",
      "tool_use",
    ]);
    assert.equal(m.content[1].text, "Whole text.");
    assert.deepEqual(m.content[2].input, { a: 1 });
    assert.equal(m.stop_reason, "tool_use");
  });

  it("items without deltas: the text and arguments from output_item.done", () => {
    const events = responseEvents([
      { type: "message", text: "From done." },
      { type: "function_call", call_id: "c2", name: "Bash", arguments: '{"cmd":"ls"}' },
    ]).filter((e) =>
      !String(e.type).endsWith(".delta") && !String(e.type).endsWith(".done") ||
      e.type === "response.output_item.done"
    );
    const m = assemble(assertGrammar(asSse(run(textOf(events)))));
    assert.deepEqual(m.content, [
      { type: "text", text: "From done." },
      { type: "tool_use", id: "c2", name: "Bash", input: { cmd: "ls" } },
    ]);
  });

  it("a message item without text opens no text block (an empty one is refused when sent back)", () => {
    const events = responseEvents([
      { type: "message", text: "" },
      { type: "function_call", call_id: "c4", name: "Read", arguments: '{"a":1}' },
    ]);
    const out = asSse(run(textOf(events)));
    const starts = out.filter((e) => e.event === "content_block_start");
    assert.deepEqual(starts.map((e) => e.data.content_block.type), ["tool_use"]);
    const m = assemble(assertGrammar(out));
    assert.deepEqual(m.content, [{ type: "tool_use", id: "c4", name: "Read", input: { a: 1 } }]);
  });

  it("text only in output_text.done, after content_part.added, still arrives once", () => {
    const events = responseEvents([{ type: "message", text: "Only whole." }])
      .filter((e) => e.type !== "response.output_text.delta");
    const m = assemble(assertGrammar(asSse(run(textOf(events)))));
    assert.deepEqual(m.content, [{ type: "text", text: "Only whole." }]);
  });

  it("arguments the model cut off and that cannot be repaired are reported as text", () => {
    const m = message([{
      type: "function_call",
      call_id: "c3",
      name: "Write",
      arguments: "not json",
      parts: 2,
    }]);
    assert.equal(m.content[0].type, "text");
    assert.match(m.content[0].text, /the model called tool Write but its arguments/);
    assert.equal(m.stop_reason, "end_turn");
  });

  it("a long silence: keep-alive deltas keep the grammar", () => {
    const conv = new StreamConverter(opts);
    const decoder = new SseDecoder();
    const events = responseEvents([{ type: "message", text: "after the pause" }]);
    const out = [...conv.start(), ...conv.keepAlive()];
    for (const m of decoder.push(textOf(events))) out.push(...conv.push(m));
    out.push(...conv.keepAlive(), ...conv.finish());
    const msg = assemble(assertGrammar(asSse(out)));
    assert.equal(msg.content[0].type, "thinking");
    assert.equal(msg.content[1].text, "after the pause");
  });
});
