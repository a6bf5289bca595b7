/**
 * Non-streaming answers and model mapping, through the official SDK's `messages.create`.
 * Contract: https://docs.anthropic.com/en/api/messages (response) and
 * https://docs.anthropic.com/en/api/handling-stop-reasons
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import {
  chunk,
  completion,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import { startProxy } from "./helpers/proxy.ts";
import {
  assertAnthropicError,
  assertGrammar,
  body,
  type Harness,
  parseSse,
  postJson,
  startHarness,
} from "./api_support.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

describe("non-streaming messages", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  // deno-lint-ignore no-explicit-any
  const create = (extra: Record<string, unknown> = {}): Promise<any> =>
    h.client.messages.create(body(extra) as never);

  describe("model mapping", () => {
    const table: [string, string][] = [
      ["claude-opus-4-7", "gpt-4o"],
      ["claude-3-opus-20240229", "gpt-4o"],
      // Claude Code 2.1's `--model fable` and a sub-agent's `model: "fable"` (the tier above Opus).
      ["claude-fable-5", "gpt-4o"],
      ["mythos", "gpt-4o"],
      ["claude-sonnet-4-6", "gpt-4.1"],
      ["claude-3-7-sonnet-latest", "gpt-4.1"],
      ["claude-haiku-4-5", "gpt-4o-mini"],
      ["claude-3-5-haiku-20241022", "gpt-4o-mini"],
      ["gpt-4.1-nano", "gpt-4.1-nano"],
      ["deepseek-chat", "deepseek-chat"],
      ["openai/gpt-4o", "openai/gpt-4o"],
    ];
    for (const [client, upstream] of table) {
      it(`${client} → ${upstream}, and the answer names ${client}`, async () => {
        h.reply({ json: completion({ content: "hi" }) });
        const msg = await create({ model: client });
        assert.equal(h.lastBody().model, upstream);
        assert.equal(msg.model, client);
      });
    }

    it("a streamed answer names the client's model too", async () => {
      h.reply({ sse: textStream("hi") });
      const msg = await h.client.messages.stream(body({ model: "claude-haiku-4-5" }) as never)
        .finalMessage();
      assert.equal(h.lastBody().model, "gpt-4o-mini");
      assert.equal(msg.model, "claude-haiku-4-5");
    });
  });

  describe("response shape", () => {
    it("is an assistant message with an msg_ id, text and tool_use blocks", async () => {
      h.reply({
        json: completion({
          content: "Let me check.",
          tool_calls: [{
            id: "call_abc",
            name: "get_weather",
            args: '{"city":"Paris","days":[1,2]}',
          }],
        }),
      });
      const msg = await create({
        tools: [{
          name: "get_weather",
          input_schema: { type: "object", properties: { city: { type: "string" } } },
        }],
      });
      assert.match(msg.id, /^msg_/);
      assert.equal(msg.type, "message");
      assert.equal(msg.role, "assistant");
      assert.deepEqual(msg.content, [
        { type: "text", text: "Let me check." },
        {
          type: "tool_use",
          id: "call_abc",
          name: "get_weather",
          input: { city: "Paris", days: [1, 2] },
        },
      ]);
      assert.equal(msg.stop_reason, "tool_use");
      assert.equal(msg.stop_sequence, null);
    });

    it("several tool calls become several tool_use blocks in order", async () => {
      h.reply({
        json: completion({
          tool_calls: [
            { id: "call_1", name: "a", args: "{}" },
            { id: "call_2", name: "b", args: '{"x":1}' },
          ],
        }),
      });
      const msg = await create();
      assert.deepEqual(msg.content, [
        { type: "tool_use", id: "call_1", name: "a", input: {} },
        { type: "tool_use", id: "call_2", name: "b", input: { x: 1 } },
      ]);
    });

    it("each answer gets a fresh message id", async () => {
      h.reply({ json: completion({ content: "x" }) });
      const a = await create();
      const b = await create();
      assert.notEqual(a.id, b.id);
    });

    it("invalid-JSON tool arguments do not crash the server", async () => {
      h.reply({
        json: completion({
          tool_calls: [{ id: "call_bad", name: "run", args: "{not json at all" }],
        }),
      });
      const res = await postJson(`${h.proxy.url}/v1/messages`, body());
      assert.ok(
        res.status === 200 || (res.status >= 500 && res.status < 600),
        `status ${res.status}`,
      );
      const answer: Json = await res.json();
      if (res.status === 200) {
        const uses = answer.content.filter((b: Json) => b.type === "tool_use");
        for (const block of uses) {
          assert.equal(typeof block.input, "object", "a tool_use input is always an object");
          assert.ok(block.input !== null && !Array.isArray(block.input));
        }
        if (uses.length === 0) {
          assert.notEqual(
            answer.stop_reason,
            "tool_use",
            "no tool_use stop without a tool_use block",
          );
        }
      } else {
        assert.equal(answer.type, "error");
      }
      // The server keeps serving.
      h.reply({ json: completion({ content: "still here" }) });
      const next = await create();
      assert.deepEqual(next.content, [{ type: "text", text: "still here" }]);
    });
  });

  describe("stop_reason", () => {
    // [case, OpenAI finish_reason, answer has tool calls, expected Anthropic stop_reason]
    const table: [string, string, boolean, string][] = [
      ["stop", "stop", false, "end_turn"],
      ["length", "length", false, "max_tokens"],
      ["tool_calls", "tool_calls", true, "tool_use"],
      ["content_filter", "content_filter", false, "refusal"],
      // Gemini says "stop" after tool calls.
      ["stop with tool calls (Gemini)", "stop", true, "tool_use"],
    ];
    for (const [name, finish, withTool, expected] of table) {
      it(`${name} → ${expected}`, async () => {
        h.reply({
          json: completion({
            content: withTool ? null : "text",
            tool_calls: withTool ? [{ id: "call_t", name: "t", args: "{}" }] : undefined,
            finish_reason: finish,
          }),
        });
        const msg = await create();
        assert.equal(msg.stop_reason, expected);
      });
    }
  });

  // A generation that failed is an error a client retries, never an end_turn passing for whole.
  for (const finish of ["error", "insufficient_system_resource"]) {
    it(`finish_reason ${finish} (OpenRouter, DeepSeek) → 529 overloaded_error`, async () => {
      h.reply({ json: completion({ content: "half an ans", finish_reason: finish }) });
      const res = await postJson(`${h.proxy.url}/v1/messages`, body());
      const message = await assertAnthropicError(res, 529, "overloaded_error");
      assert.match(message, new RegExp(finish));
    });
  }

  describe("usage", () => {
    it("input_tokens = prompt_tokens − cached_tokens; cache_read_input_tokens = cached", async () => {
      h.reply({
        json: completion({
          content: "x",
          usage: { prompt_tokens: 1000, completion_tokens: 50, cached_tokens: 800 },
        }),
      });
      const msg = await create();
      assert.equal(msg.usage.input_tokens, 200);
      assert.equal(msg.usage.output_tokens, 50);
      assert.equal(msg.usage.cache_read_input_tokens, 800);
    });

    it("without cached tokens, input_tokens = prompt_tokens", async () => {
      h.reply({
        json: completion({ content: "x", usage: { prompt_tokens: 321, completion_tokens: 12 } }),
      });
      const msg = await create();
      assert.equal(msg.usage.input_tokens, 321);
      assert.equal(msg.usage.output_tokens, 12);
      assert.ok(!msg.usage.cache_read_input_tokens, "no cache reads reported");
    });
  });

  it("an upstream that answers a streaming request with one JSON body still streams to the client", async () => {
    h.reply({ json: completion({ content: "whole answer" }) });
    const stream = h.client.messages.stream(body() as never);
    const msg = await stream.finalMessage();
    assert.deepEqual(msg.content, [{ type: "text", text: "whole answer" }]);
    assert.equal(msg.stop_reason, "end_turn");
  });

  it("a non-streaming request answered with SSE by the upstream is refused cleanly or converted", async () => {
    h.reply({ sse: [chunk({ content: "odd" }, "stop")] });
    const res = await postJson(`${h.proxy.url}/v1/messages`, body());
    const text = await res.text();
    const parsed = JSON.parse(text);
    if (res.status === 200) assert.equal(parsed.type, "message");
    else assert.equal(parsed.type, "error");
  });
});

describe("a tool call cut off by the token limit", () => {
  it("reports max_tokens, not tool_use, so a truncated call is not run as complete", async () => {
    const up = await startFakeUpstream([
      {
        json: completion({
          tool_calls: [{ id: "call_1", name: "Write", args: '{"content":"half' }],
          finish_reason: "length",
        }),
      },
      {
        sse: toolCallStream([{ id: "call_2", name: "Write", args: '{"content":"half' }], {
          finish: "length",
        }),
      },
    ]);
    const p = startProxy({ OPENAI_BASE_URL: up.url });
    try {
      const client = new Anthropic({ baseURL: p.url, apiKey: "k", maxRetries: 0 });
      const params = {
        model: "claude-sonnet-4-6",
        max_tokens: 50,
        tools: [{ name: "Write", input_schema: { type: "object" as const } }],
        messages: [{ role: "user" as const, content: "write" }],
      };
      const plain = await client.messages.create(params);
      assert.equal(plain.stop_reason, "max_tokens");
      const streamed = await client.messages.stream(params).finalMessage();
      assert.equal(streamed.stop_reason, "max_tokens");
    } finally {
      await p.close();
      await up.close();
    }
  });

  // Anthropic answers a call cut by max_tokens with the partial input and stop_reason max_tokens
  // (https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons). The partial
  // input is not completed: completed, a string cut short passes any schema, and Claude Code
  // would run a Write of half a file as whole. Unparseable, it is refused.
  for (
    const [name, args] of [
      ["a call missing a required argument", '{"path":"a.txt","cont'],
      ["a call whose last string was cut (valid once closed)", '{"path":"a.txt","content":"xxxx'],
    ] as const
  ) {
    it(`${name}: max_tokens in both paths, never a complete-looking call`, async () => {
      const sse = [
        chunk({
          role: "assistant",
          content: null,
          tool_calls: [{
            index: 0,
            id: "c1",
            type: "function",
            function: { name: "write", arguments: args },
          }],
        }),
        chunk({}, "length"),
      ];
      const up = await startFakeUpstream([
        {
          json: completion({
            tool_calls: [{ id: "c1", name: "write", args }],
            finish_reason: "length",
          }),
        },
        { sse },
        { sse },
      ]);
      const p = startProxy({ OPENAI_BASE_URL: up.url });
      try {
        const client = new Anthropic({ baseURL: p.url, apiKey: "k", maxRetries: 0 });
        const params = {
          model: "claude-sonnet-4-6",
          max_tokens: 50,
          tools: [{
            name: "write",
            input_schema: {
              type: "object" as const,
              properties: { path: { type: "string" }, content: { type: "string" } },
              required: ["path", "content"],
            },
          }],
          messages: [{ role: "user" as const, content: "write" }],
        };
        const plain = await client.messages.create(params);
        assert.equal(plain.stop_reason, "max_tokens");
        assert.deepEqual(plain.content.map((b) => b.type), ["text"]);
        const note = (plain.content[0] as Json).text;
        assert.match(note, /tool write .*cut off by the token limit/);

        // Raw events: the call's input is the partial JSON as it came, not completed.
        const res = await postJson(`${p.url}/v1/messages`, { ...params, stream: true }, {
          "x-api-key": "k",
        });
        const events = assertGrammar(parseSse(await res.text()));
        assert.ok(!events.some((e) => e.event === "error"), JSON.stringify(events));
        const input = events
          .filter((e) => e.data?.delta?.type === "input_json_delta")
          .map((e) => e.data.delta.partial_json)
          .join("");
        assert.equal(input, args);
        assert.throws(() => JSON.parse(input), "a client cannot parse it, so does not run it");
        const types = events.map((e) => e.event).filter((t) => t !== "ping");
        assert.deepEqual(types.slice(-2), ["message_delta", "message_stop"]);
        const stop = events.find((e) => e.event === "message_delta")!;
        assert.equal(stop.data.delta.stop_reason, "max_tokens");
        // The note the non-streamed answer gives, after the call that could not be taken back.
        const texts = events.filter((e) => e.data?.delta?.type === "text_delta");
        assert.equal(texts.map((e) => e.data.delta.text).join(""), note);

        const streamed = await client.messages.stream(params).finalMessage();
        assert.equal(streamed.stop_reason, "max_tokens");
        assert.deepEqual(streamed.content.map((b) => b.type), ["tool_use", "text"]);
      } finally {
        await p.close();
        await up.close();
      }
    });
  }
});
