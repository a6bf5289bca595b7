/**
 * The real proxy in front of a scripted fake Responses API upstream, driven by the official SDK:
 * streamed and whole answers, a three-turn tool loop, a two-turn reasoning conversation, the
 * `auto` resend on OpenAI's and Azure's "use the Responses API" errors, and Azure's addresses.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import {
  type FakeUpstream,
  type Recorded,
  type Reply,
  startFakeUpstream,
  textStream,
} from "./helpers/fake_upstream.ts";
import { startProxy, TEST_CLIENT_KEY, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import { responseJson, responseStream } from "./helpers/responses_fake.ts";
import { assertAnthropicError, parseSse, postJson } from "./api_support.ts";

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function setup(
  script: (r: Recorded, i: number) => Reply,
  envOrFn: Record<string, string> | ((upstream: FakeUpstream) => Record<string, string>) = {},
) {
  const upstream = await startFakeUpstream(script);
  const env = typeof envOrFn === "function" ? envOrFn(upstream) : envOrFn;
  const proxy = startProxy({
    OPENAI_BASE_URL: upstream.url,
    ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
    BIG_MODEL: "gpt-5-codex",
    MIDDLE_MODEL: "gpt-5-codex",
    SMALL_MODEL: "gpt-5-codex",
    ...env,
  });
  closers.push(() => upstream.close(), () => proxy.close());
  const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
  return { upstream, client, url: proxy.url, logs: proxy.logs };
}

const READ_TOOL = {
  name: "Read",
  description: "Read a file",
  input_schema: {
    type: "object" as const,
    properties: { file_path: { type: "string" } },
    required: ["file_path"],
  },
};

// deno-lint-ignore no-explicit-any
const inputOf = (r: Recorded): any[] => r.body.input;

describe("Responses upstream through the proxy (official SDK)", () => {
  it("messages.stream() + finalMessage(): a streamed tool call", async () => {
    const { upstream, client } = await setup(() =>
      responseStream([
        { type: "reasoning", summary: ["Need the file."], encrypted: "enc-1" },
        { type: "message", text: "Reading it." },
        {
          type: "function_call",
          call_id: "call_r1",
          name: "Read",
          arguments: '{"file_path":"/tmp/x"}',
          parts: 4,
        },
      ], { usage: { input: 900, output: 30, cached: 800 } }), { OPENAI_API: "responses" });
    const stream = client.messages.stream({
      model: "claude-sonnet-4-6",
      max_tokens: 2048,
      thinking: { type: "enabled", budget_tokens: 20_000 },
      tools: [READ_TOOL],
      messages: [{ role: "user", content: "Read /tmp/x" }],
    });
    const texts: string[] = [];
    stream.on("text", (t) => texts.push(t));
    const message = await stream.finalMessage();
    assert.deepEqual(message.content.map((b) => b.type), ["thinking", "text", "tool_use"]);
    const call = message.content[2] as Anthropic.ToolUseBlock;
    assert.deepEqual([call.id, call.name, call.input], ["call_r1", "Read", {
      file_path: "/tmp/x",
    }]);
    assert.equal(message.stop_reason, "tool_use");
    assert.equal(texts.join(""), "Reading it.");
    assert.deepEqual(
      [
        message.usage.input_tokens,
        message.usage.cache_read_input_tokens,
        message.usage.output_tokens,
      ],
      [100, 800, 30],
    );

    const req = upstream.requests[0]!;
    assert.equal(req.path, "/v1/responses");
    assert.equal(req.headers["authorization"], `Bearer ${TEST_UPSTREAM_KEY}`);
    assert.equal(req.body.stream, true);
    assert.equal(req.body.store, false);
    assert.deepEqual(req.body.reasoning, { effort: "high", summary: "auto" });
    assert.equal(req.body.tools[0].name, "Read");
  });

  it("a non-streamed request gets the whole response mapped", async () => {
    const { client, upstream } = await setup(
      () => ({ json: responseJson([{ type: "message", text: "Plain answer." }]) }),
      { OPENAI_API: "responses" },
    );
    const message = await client.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hi" }],
    });
    assert.deepEqual(message.content, [{ type: "text", text: "Plain answer." }]);
    assert.equal(message.stop_reason, "end_turn");
    assert.equal(upstream.requests[0]!.body.stream, undefined);
  });

  it("a tool loop of three turns: each turn's input carries the calls and their outputs", async () => {
    const turns: Reply[] = [
      responseStream([
        { type: "function_call", call_id: "call_1", name: "Read", arguments: '{"file_path":"a"}' },
      ]),
      responseStream([
        { type: "message", text: "And b." },
        { type: "function_call", call_id: "call_2", name: "Read", arguments: '{"file_path":"b"}' },
      ]),
      responseStream([{ type: "message", text: "Both read." }]),
    ];
    const { client, upstream } = await setup((_r, i) => turns[i]!, { OPENAI_API: "responses" });
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "Read a then b" }];
    for (let turn = 0; turn < 3; turn++) {
      const reply = await client.messages.stream({
        model: "claude-sonnet-4-6",
        max_tokens: 1000,
        tools: [READ_TOOL],
        messages,
      }).finalMessage();
      messages.push({ role: "assistant", content: reply.content });
      if (reply.stop_reason !== "tool_use") {
        assert.equal(turn, 2);
        assert.deepEqual(reply.content, [{ type: "text", text: "Both read." }]);
        break;
      }
      const call = reply.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
      messages.push({
        role: "user",
        content: [{ type: "tool_result", tool_use_id: call.id, content: `contents of ${turn}` }],
      });
    }
    assert.equal(upstream.requests.length, 3);
    assert.deepEqual(inputOf(upstream.requests[1]!).slice(1), [
      { type: "function_call", call_id: "call_1", name: "Read", arguments: '{"file_path":"a"}' },
      { type: "function_call_output", call_id: "call_1", output: "contents of 0" },
    ]);
    assert.deepEqual(inputOf(upstream.requests[2]!).slice(1), [
      { type: "function_call", call_id: "call_1", name: "Read", arguments: '{"file_path":"a"}' },
      { type: "function_call_output", call_id: "call_1", output: "contents of 0" },
      { type: "message", role: "assistant", content: "And b." },
      { type: "function_call", call_id: "call_2", name: "Read", arguments: '{"file_path":"b"}' },
      { type: "function_call_output", call_id: "call_2", output: "contents of 1" },
    ]);
  });

  it("a reasoning conversation of two turns: the encrypted reasoning goes back as it came", async () => {
    const turns: Reply[] = [
      responseStream([
        { type: "reasoning", summary: ["Think A.", "Think B."], encrypted: "gAAAAB-secret-1" },
        { type: "message", text: "First answer." },
      ]),
      { json: responseJson([{ type: "message", text: "Second answer." }]) },
    ];
    const { client, upstream } = await setup((_r, i) => turns[i]!, { OPENAI_API: "responses" });
    const ask = { type: "enabled" as const, budget_tokens: 8_000 };
    const first = await client.messages.stream({
      model: "claude-opus-4-6",
      max_tokens: 4000,
      thinking: ask,
      messages: [{ role: "user", content: "Question one" }],
    }).finalMessage();
    const thinking = first.content[0] as Anthropic.ThinkingBlock;
    assert.equal(thinking.thinking, "Think A.\n\nThink B.");
    assert.ok(!thinking.signature.includes("gAAAAB"), "the signature is opaque to the client");

    const second = await client.messages.create({
      model: "claude-opus-4-6",
      max_tokens: 4000,
      thinking: ask,
      messages: [
        { role: "user", content: "Question one" },
        { role: "assistant", content: first.content },
        { role: "user", content: "Question two" },
      ],
    });
    assert.deepEqual(second.content, [{ type: "text", text: "Second answer." }]);
    const body = upstream.requests[1]!.body;
    assert.deepEqual(body.include, ["reasoning.encrypted_content"]);
    assert.equal(body.store, false);
    assert.deepEqual(body.input, [
      { type: "message", role: "user", content: [{ type: "input_text", text: "Question one" }] },
      {
        type: "reasoning",
        summary: [{ type: "summary_text", text: "Think A.\n\nThink B." }],
        encrypted_content: "gAAAAB-secret-1",
      },
      { type: "message", role: "assistant", content: "First answer." },
      { type: "message", role: "user", content: [{ type: "input_text", text: "Question two" }] },
    ]);
  });

  it("reasoning the upstream cannot read: the request goes again without it, once", async () => {
    const unreadable: Reply = {
      status: 400,
      json: {
        error: {
          message: "The encrypted content gAAA...DQ== could not be verified.",
          type: "invalid_request_error",
          param: null,
          code: "invalid_encrypted_content",
        },
      },
    };
    const { client, upstream, logs } = await setup((r, i) => {
      if (i === 0) {
        return responseStream([
          { type: "reasoning", summary: ["Plan."], encrypted: "gAAAA-from-another-org" },
          { type: "message", text: "One." },
        ]);
      }
      return inputOf(r).some((item) => item.type === "reasoning")
        ? unreadable
        : responseStream([{ type: "message", text: "Two." }]);
    }, { OPENAI_API: "responses" });
    const ask = { type: "enabled" as const, budget_tokens: 4_000 };
    const first = await client.messages.stream({
      model: "claude-opus-4-6",
      max_tokens: 2000,
      thinking: ask,
      messages: [{ role: "user", content: "q1" }],
    }).finalMessage();
    const second = await client.messages.stream({
      model: "claude-opus-4-6",
      max_tokens: 2000,
      thinking: ask,
      messages: [
        { role: "user", content: "q1" },
        { role: "assistant", content: first.content },
        { role: "user", content: "q2" },
      ],
    }).finalMessage();
    assert.deepEqual(second.content, [{ type: "text", text: "Two." }]);
    assert.equal(upstream.requests.length, 3);
    assert.ok(inputOf(upstream.requests[1]!).some((item) => item.type === "reasoning"));
    assert.deepEqual(inputOf(upstream.requests[2]!).map((item) => item.type), [
      "message",
      "message",
      "message",
    ]);
    assert.equal(logs.filter((l) => l.includes("could not read the reasoning")).length, 1);
  });

  it("an error that a resend cannot help is passed on at once", async () => {
    const { url, upstream } = await setup(() => ({
      status: 400,
      json: {
        error: { message: "bad", type: "invalid_request_error", code: "invalid_encrypted_content" },
      },
    }), { OPENAI_API: "responses" });
    const res = await postJson(`${url}/v1/messages`, {
      model: "claude-sonnet-4-6",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    });
    await assertAnthropicError(res, 400, "invalid_request_error");
    assert.equal(upstream.requests.length, 1, "no reasoning was sent, so nothing to leave out");
  });

  it("Claude Code's session id header becomes the prompt cache key", async () => {
    const { url, upstream } = await setup(
      () => ({ json: responseJson([{ type: "message", text: "ok" }]) }),
      { OPENAI_API: "responses" },
    );
    const res = await postJson(`${url}/v1/messages`, {
      model: "claude-sonnet-4-6",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    }, { "x-claude-code-session-id": "480e4ae4-cbda-420f-aaee-84207da49e4e" });
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(
      upstream.requests[0]!.body.prompt_cache_key,
      "480e4ae4-cbda-420f-aaee-84207da49e4e",
    );
    const without = await postJson(`${url}/v1/messages`, {
      model: "claude-sonnet-4-6",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    });
    await without.text();
    assert.equal(upstream.requests[1]!.body.prompt_cache_key, undefined);
  });

  it("an unknown upstream event is skipped and noted once in the debug log", async () => {
    const reply = responseStream([{ type: "message", text: "ok" }]);
    const steps = "sse" in reply ? reply.sse : [];
    steps.splice(1, 0, {
      raw: 'event: response.future_thing\ndata: {"type":"response.future_thing"}\n\n',
    });
    const { client, logs } = await setup(() => reply, { OPENAI_API: "responses" });
    for (let i = 0; i < 2; i++) {
      const message = await client.messages.stream({
        model: "claude-sonnet-4-6",
        max_tokens: 50,
        messages: [{ role: "user", content: "hi" }],
      }).finalMessage();
      assert.deepEqual(message.content, [{ type: "text", text: "ok" }]);
    }
    const notes = logs.filter((l) => l.includes("ignored an upstream stream event"));
    assert.equal(notes.length, 1, notes.join("\n"));
    assert.match(notes[0]!, /response\.future_thing/);
  });

  it("an upstream HTTP error is mapped as for Chat Completions", async () => {
    const { url } = await setup(() => ({
      status: 429,
      json: {
        error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" },
      },
    }), { OPENAI_API: "responses" });
    const res = await postJson(`${url}/v1/messages`, {
      model: "claude-sonnet-4-6",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    });
    assert.match(await assertAnthropicError(res, 429, "rate_limit_error"), /Rate limit reached/);
  });

  it("an error object in a 200 answer keeps its meaning and message, as for Chat Completions", async () => {
    const { url, upstream } = await setup(() => ({
      json: { error: { message: "Rate limit hit via gateway", code: "rate_limit_exceeded" } },
    }), { OPENAI_API: "responses" });
    const res = await postJson(`${url}/v1/messages`, {
      model: "claude-sonnet-4-6",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    });
    // The shared mapping of in-body errors: nothing was sent yet, so a rate limit is a 429.
    const message = await assertAnthropicError(res, 429, "rate_limit_error");
    assert.match(message, /Rate limit hit via gateway/);
    assert.doesNotMatch(message, /unexpected shape/);
    assert.equal(upstream.requests.length, 1);
  });

  it("an untyped {error} in the stream ends it with event: error, before or after content", async () => {
    const text = responseStream([{ type: "message", text: "Half an answer" }]);
    const steps = "sse" in text ? text.sse : [];
    const gatewayError = {
      raw: `data: ${
        JSON.stringify({ error: { message: "Rate limit hit via gateway", code: 429 } })
      }\n\n`,
    };
    const textDone = steps.findIndex((st) => JSON.stringify(st).includes("output_text.done"));
    const replies: Reply[] = [
      { sse: [steps[0]!, gatewayError], done: false },
      { sse: [...steps.slice(0, textDone + 1), gatewayError], done: false },
    ];
    const { url } = await setup((_r, i) => replies[i]!, { OPENAI_API: "responses" });
    for (const expectedText of ["", "Half an answer"]) {
      const res = await postJson(`${url}/v1/messages`, {
        model: "claude-sonnet-4-6",
        max_tokens: 50,
        stream: true,
        messages: [{ role: "user", content: "hi" }],
      });
      assert.equal(res.status, 200);
      const events = parseSse(await res.text()).filter((e) => e.event !== "ping");
      const types = events.map((e) => e.event);
      assert.equal(types[0], "message_start");
      assert.ok(!types.includes("message_stop"), types.join(","));
      const streamed = events.filter((e) => e.data.delta?.type === "text_delta")
        .map((e) => e.data.delta.text).join("");
      assert.equal(streamed, expectedText);
      const last = events.at(-1)!;
      assert.equal(last.event, "error");
      assert.equal(last.data.error.type, "overloaded_error");
      assert.match(last.data.error.message, /Rate limit hit via gateway/);
    }
  });

  it("count_tokens is answered here, as with Chat Completions", async () => {
    const { url, upstream } = await setup(() => ({ status: 500, json: {} }), {
      OPENAI_API: "responses",
    });
    const res = await postJson(`${url}/v1/messages/count_tokens`, {
      model: "claude-sonnet-4-6",
      messages: [{ role: "user", content: "How many tokens is this?" }],
    });
    assert.equal(res.status, 200);
    assert.ok((await res.json()).input_tokens > 0);
    assert.equal(upstream.requests.length, 0);
  });
});

const OPENAI_WANTS_RESPONSES: Reply = {
  status: 404,
  json: {
    error: {
      message: "This model is only supported in v1/responses and not in v1/chat/completions.",
      type: "invalid_request_error",
      param: "model",
      code: null,
    },
  },
};

const AZURE_WANTS_RESPONSES: Reply = {
  status: 400,
  json: {
    error: {
      code: "OperationNotSupported",
      message: "The chatCompletion operation does not work with the specified model, " +
        "my-codex. Please choose different model and try again. You can learn more about which " +
        "models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.",
    },
  },
};

/** Answers Chat Completions with `refusal` and the Responses API with a text stream. */
function wantsResponses(refusal: Reply) {
  return (r: Recorded): Reply =>
    r.path.includes("/chat/completions")
      ? refusal
      : responseStream([{ type: "message", text: "Via Responses." }]);
}

describe("OPENAI_API=auto", () => {
  it("OpenAI's 'only supported in v1/responses' → the same request through Responses, once, then remembered", async () => {
    const { client, upstream, logs } = await setup(wantsResponses(OPENAI_WANTS_RESPONSES), {
      BIG_MODEL: "my-custom-model",
    });
    for (let i = 0; i < 2; i++) {
      const message = await client.messages.stream({
        model: "claude-opus-4-6",
        max_tokens: 500,
        messages: [{ role: "user", content: `turn ${i}` }],
      }).finalMessage();
      assert.deepEqual(message.content, [{ type: "text", text: "Via Responses." }]);
    }
    assert.deepEqual(upstream.requests.map((r) => r.path), [
      "/v1/chat/completions",
      "/v1/responses",
      "/v1/responses",
    ]);
    const resent = upstream.requests[1]!.body;
    assert.equal(resent.model, "my-custom-model");
    assert.deepEqual(resent.input, [
      { type: "message", role: "user", content: [{ type: "input_text", text: "turn 0" }] },
    ]);
    assert.equal(logs.filter((l) => l.includes("needs the Responses API")).length, 1);
  });

  it("Azure's OperationNotSupported on a deployment URL → the v1 Responses API, deployment as model", async () => {
    const { client, upstream } = await setup(wantsResponses(AZURE_WANTS_RESPONSES), (up) => ({
      OPENAI_BASE_URL: `${up.origin}/openai/deployments/my-codex`,
      PROVIDER: "azure",
      BIG_MODEL: "anything",
    }));
    for (let i = 0; i < 2; i++) {
      const message = await client.messages.stream({
        model: "claude-opus-4-6",
        max_tokens: 500,
        messages: [{ role: "user", content: "hi" }],
      }).finalMessage();
      assert.deepEqual(message.content, [{ type: "text", text: "Via Responses." }]);
    }
    assert.deepEqual(upstream.requests.map((r) => r.path), [
      "/openai/deployments/my-codex/chat/completions?api-version=2024-10-21",
      "/openai/v1/responses",
      "/openai/v1/responses",
    ]);
    const resent = upstream.requests[1]!;
    assert.equal(resent.body.model, "my-codex");
    assert.equal(resent.headers["api-key"], TEST_UPSTREAM_KEY);
    assert.equal(resent.headers["authorization"], undefined);
  });

  it("a non-streamed request is resent the same way", async () => {
    const { client, upstream } = await setup(
      (r) =>
        r.path.includes("/chat/completions")
          ? OPENAI_WANTS_RESPONSES
          : { json: responseJson([{ type: "message", text: "Whole, via Responses." }]) },
      { BIG_MODEL: "some-new-model" },
    );
    const message = await client.messages.create({
      model: "claude-opus-4-6",
      max_tokens: 500,
      messages: [{ role: "user", content: "hi" }],
    });
    assert.deepEqual(message.content, [{ type: "text", text: "Whole, via Responses." }]);
    assert.deepEqual(upstream.requests.map((r) => r.path), [
      "/v1/chat/completions",
      "/v1/responses",
    ]);
    assert.equal(upstream.requests[1]!.body.stream, undefined);
  });

  it("a Responses-only model on Azure works with no extra setting", async () => {
    const { client, upstream } = await setup(wantsResponses(AZURE_WANTS_RESPONSES), (up) => ({
      OPENAI_BASE_URL: up.origin,
      PROVIDER: "azure",
      BIG_MODEL: "gpt-5.1-codex",
    }));
    const message = await client.messages.stream({
      model: "claude-opus-4-6",
      max_tokens: 500,
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
    assert.deepEqual(message.content, [{ type: "text", text: "Via Responses." }]);
    assert.deepEqual(upstream.requests.map((r) => r.path), ["/openai/v1/responses"]);
    assert.equal(upstream.requests[0]!.body.model, "gpt-5.1-codex");
  });

  it("a Responses-only model on OpenAI goes straight to Responses", async () => {
    const { client, upstream } = await setup(wantsResponses(OPENAI_WANTS_RESPONSES), {
      PROVIDER: "openai",
    });
    const message = await client.messages.stream({
      model: "claude-sonnet-4-6",
      max_tokens: 100,
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
    assert.deepEqual(message.content, [{ type: "text", text: "Via Responses." }]);
    assert.deepEqual(upstream.requests.map((r) => r.path), ["/v1/responses"]);
    assert.equal(upstream.requests[0]!.body.model, "gpt-5-codex");
  });

  it("OPENAI_API=chat: the error is passed on, naming the setting that helps", async () => {
    const { url, upstream } = await setup(wantsResponses(OPENAI_WANTS_RESPONSES), {
      OPENAI_API: "chat",
    });
    const res = await postJson(`${url}/v1/messages`, {
      model: "claude-sonnet-4-6",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    });
    const message = await assertAnthropicError(res, 404, "not_found_error");
    assert.match(message, /only supported in v1\/responses/);
    assert.match(message, /OPENAI_API=auto or responses/);
    assert.equal(upstream.requests.length, 1);
  });

  it("a chat model under auto stays on Chat Completions", async () => {
    const { client, upstream } = await setup(
      () => ({ sse: textStream("chat answer") }),
      { BIG_MODEL: "gpt-4o", MIDDLE_MODEL: "gpt-4o", SMALL_MODEL: "gpt-4o" },
    );
    const message = await client.messages.stream({
      model: "claude-sonnet-4-6",
      max_tokens: 100,
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
    assert.deepEqual(message.content, [{ type: "text", text: "chat answer" }]);
    assert.deepEqual(upstream.requests.map((r) => r.path), ["/v1/chat/completions"]);
  });
});
