/**
 * OpenRouter: attribution headers, its `reasoning` request object, reasoning text and
 * `reasoning_details` streamed back as a thinking block whose signature brings the details back
 * on the next turn (Anthropic models behind it refuse a tool turn without them), errors inside a
 * 200 stream, and 402 for missing credits.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { TEST_CLIENT_KEY, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import {
  bodyOf,
  openrouterDetails,
  openrouterMidStreamError,
  openrouterSummaryDetails,
  type ProviderFake,
  sdkCreate,
  sdkStream,
  startOpenRouterFake,
  type Turn,
} from "./helpers/provider_fakes.ts";
import { providerHarness } from "./helpers/provider_harness.ts";
import { chunk } from "./helpers/fake_upstream.ts";
import { assertGrammar, parseSse } from "./api_support.ts";

const BASH = {
  name: "Bash",
  description: "Run a command",
  input_schema: {
    type: "object",
    properties: { command: { type: "string" } },
    required: ["command"],
  },
};

const THINK_THEN_CALL: Turn = {
  reasoning: "The user wants the files listed. I will run ls.",
  calls: [{ name: "Bash", args: { command: "ls" } }],
};

describe("OpenRouter", () => {
  const env = (f: ProviderFake) => ({
    OPENAI_BASE_URL: f.url,
    PROVIDER: "openrouter",
    BIG_MODEL: "anthropic/claude-sonnet-4.5",
    SMALL_MODEL: "openai/gpt-4o-mini",
  });
  const up = providerHarness({
    start: (respond) => startOpenRouterFake({ key: TEST_UPSTREAM_KEY, credits: 50_000 }, respond),
    env,
  });
  const { via, lastBody } = up;
  // An OpenRouter that returns reasoning encrypted; it answers with the same script as `up`.
  const encrypted = providerHarness({
    start: () =>
      startOpenRouterFake(
        { key: TEST_UPSTREAM_KEY, encryptedReasoning: true },
        (r, i) => up.respond(r, i),
      ),
    env,
  });
  // An OpenRouter in front of OpenAI models: summary pieces, then the encrypted reasoning.
  const summarised = providerHarness({
    start: () =>
      startOpenRouterFake(
        { key: TEST_UPSTREAM_KEY, summaryReasoning: true },
        (r, i) => up.respond(r, i),
      ),
    env,
  });

  it("sends HTTP-Referer, X-OpenRouter-Title and X-Title from OPENROUTER_REFERER / OPENROUTER_TITLE", async () => {
    const { client } = via({
      OPENROUTER_REFERER: "https://example.dev/app",
      OPENROUTER_TITLE: "My Proxy",
    });
    await sdkCreate(client, {});
    const headers = up.last().headers;
    assert.equal(headers["http-referer"], "https://example.dev/app");
    assert.equal(headers["x-openrouter-title"], "My Proxy");
    assert.equal(headers["x-title"], "My Proxy");
    assert.equal(headers["authorization"], `Bearer ${TEST_UPSTREAM_KEY}`);
  });

  it("a thinking budget becomes reasoning.max_tokens, an effort becomes reasoning.effort, never both", async () => {
    const { client } = via();
    await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 16_000,
      thinking: { type: "enabled", budget_tokens: 8_000 },
    });
    assert.deepEqual(lastBody().reasoning, { max_tokens: 8_000 });
    await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 16_000,
      thinking: { type: "adaptive" },
      output_config: { effort: "max" },
    });
    assert.deepEqual(lastBody().reasoning, { effort: "high" });
    assert.ok(!("reasoning_effort" in lastBody()), "OpenRouter's own field, not OpenAI's");
  });

  it("a model not known to reason gets no reasoning object", async () => {
    const { client } = via();
    await sdkCreate(client, {
      model: "claude-haiku-4-5",
      thinking: { type: "enabled", budget_tokens: 2_000 },
    });
    assert.equal(lastBody().model, "openai/gpt-4o-mini");
    assert.ok(!("reasoning" in lastBody()));
  });

  it("streamed reasoning becomes a signed thinking block before the tool call, and its details come back", async () => {
    const { client } = via();
    up.respond = (req) =>
      bodyOf(req).messages?.some((m) => m.role === "tool")
        ? { content: "Two files." }
        : THINK_THEN_CALL;
    const params = {
      model: "claude-opus-4-8",
      max_tokens: 16_000,
      thinking: { type: "enabled", budget_tokens: 4_000 },
      tools: [BASH],
    };
    const first = await sdkStream(client, params);
    assertGrammar(first.events.map((e) => ({ event: e.type, data: e })));
    assert.deepEqual(first.final.content.map((b) => b.type), ["thinking", "tool_use"]);
    const thinking = first.final.content[0] as Anthropic.ThinkingBlock;
    assert.equal(thinking.thinking, THINK_THEN_CALL.reasoning);
    assert.ok(thinking.signature.length > 0);
    const toolUse = first.final.content[1] as Anthropic.ToolUseBlock;
    assert.deepEqual(toolUse.input, { command: "ls" });
    assert.equal(first.final.stop_reason, "tool_use");

    const refused = up.fake.rejections.length;
    const second = await sdkStream(client, {
      ...params,
      messages: [
        { role: "user", content: "list the files" },
        { role: "assistant", content: first.final.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "a\nb" }],
        },
      ],
    });
    assert.equal(up.fake.rejections.length, refused, "OpenRouter accepted the continued tool turn");
    assert.deepEqual(second.final.content.map((b) => (b.type === "text" ? b.text : b.type)), [
      "Two files.",
    ]);
    const assistant = lastBody().messages?.find((m) => m.role === "assistant");
    // The streamed pieces come back merged into one signed detail, as a non-streamed answer has it.
    assert.deepEqual(assistant?.reasoning_details, openrouterDetails(THINK_THEN_CALL));
    assert.ok(!("reasoning_content" in (assistant ?? {})), "DeepSeek's field is not OpenRouter's");
  });

  it("without the thinking block the fake refuses the tool turn, as OpenRouter passes on Anthropic's 400", async () => {
    const { client } = via();
    up.respond = () => ({ content: "unreachable" });
    await assert.rejects(
      sdkStream(client, {
        model: "claude-opus-4-8",
        max_tokens: 16_000,
        thinking: { type: "enabled", budget_tokens: 4_000 },
        tools: [BASH],
        messages: [
          { role: "user", content: "list the files" },
          {
            role: "assistant",
            content: [{ type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "ls" } }],
          },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "a" }],
          },
        ],
      }),
      (err: unknown) => err instanceof Anthropic.BadRequestError,
    );
  });

  it("a non-streamed answer carries the same signed thinking block", async () => {
    const { client } = via();
    up.respond = () => THINK_THEN_CALL;
    const message = await sdkCreate(client, {
      model: "claude-opus-4-8",
      max_tokens: 8_000,
      thinking: { type: "enabled", budget_tokens: 4_000 },
      tools: [BASH],
    });
    assert.deepEqual(message.content.map((b) => b.type), ["thinking", "tool_use"]);
    const sig = (message.content[0] as Anthropic.ThinkingBlock).signature;
    up.respond = () => ({ content: "done" });
    await sdkCreate(client, {
      model: "claude-opus-4-8",
      max_tokens: 8_000,
      thinking: { type: "enabled", budget_tokens: 4_000 },
      tools: [BASH],
      messages: [
        { role: "user", content: "list" },
        { role: "assistant", content: message.content },
        {
          role: "user",
          content: [{
            type: "tool_result",
            tool_use_id: (message.content[1] as Anthropic.ToolUseBlock).id,
            content: "a",
          }],
        },
      ],
    });
    assert.ok(sig.length > 0);
    const assistant = lastBody().messages?.find((m) => m.role === "assistant");
    assert.deepEqual(assistant?.reasoning_details, openrouterDetails(THINK_THEN_CALL));
  });

  it("encrypted reasoning without text still gets a thinking block, so it can come back", async () => {
    const { client } = encrypted.via({ BIG_MODEL: "google/gemini-3-pro-preview" });
    up.respond = (req) =>
      bodyOf(req).messages?.some((m) => m.role === "tool") ? { content: "done" } : THINK_THEN_CALL;
    const first = await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 8_000,
      thinking: { type: "adaptive" },
      tools: [BASH],
    });
    assert.deepEqual(first.final.content.map((b) => b.type), ["thinking", "tool_use"]);
    assert.equal((first.final.content[0] as Anthropic.ThinkingBlock).thinking, "");
    const toolUse = first.final.content[1] as Anthropic.ToolUseBlock;
    await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 8_000,
      thinking: { type: "adaptive" },
      tools: [BASH],
      messages: [
        { role: "user", content: "list" },
        { role: "assistant", content: first.final.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "a" }] },
      ],
    });
    const assistant = encrypted.lastBody().messages?.find((m) => m.role === "assistant");
    assert.deepEqual(assistant?.reasoning_details, openrouterDetails(THINK_THEN_CALL, true));
  });

  it("a reasoning summary streamed in pieces goes back as the one summary it is", async () => {
    const { client } = summarised.via({ BIG_MODEL: "openai/gpt-5" });
    up.respond = (req) =>
      bodyOf(req).messages?.some((m) => m.role === "tool") ? { content: "done" } : THINK_THEN_CALL;
    const first = await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 8_000,
      thinking: { type: "adaptive" },
      tools: [BASH],
    });
    assert.deepEqual(first.final.content.map((b) => b.type), ["thinking", "tool_use"]);
    assert.equal(
      (first.final.content[0] as Anthropic.ThinkingBlock).thinking,
      THINK_THEN_CALL.reasoning,
    );
    const toolUse = first.final.content[1] as Anthropic.ToolUseBlock;
    await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 8_000,
      thinking: { type: "adaptive" },
      tools: [BASH],
      messages: [
        { role: "user", content: "list" },
        { role: "assistant", content: first.final.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "a" }] },
      ],
    });
    // What the non-streamed answer holds, which is what OpenRouter wants back unmodified.
    const assistant = summarised.lastBody().messages?.find((m) => m.role === "assistant");
    assert.deepEqual(assistant?.reasoning_details, openrouterSummaryDetails(THINK_THEN_CALL));
  });

  it("an error object inside the 200 stream ends the client's stream with event: error", async () => {
    const { proxy } = via();
    up.respond = () => ({
      sse: [
        { raw: ": OPENROUTER PROCESSING\n\n" },
        chunk({ role: "assistant", content: "Partial " }),
        openrouterMidStreamError("Provider disconnected unexpectedly"),
      ],
    });
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
      body: JSON.stringify({
        model: "claude-opus-4-8",
        max_tokens: 1_000,
        stream: true,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    assert.equal(res.status, 200);
    const events = parseSse(await res.text());
    const last = events[events.length - 1]!;
    assert.equal(last.event, "error");
    assert.equal(last.data.error.type, "overloaded_error");
    assert.match(last.data.error.message, /Provider disconnected unexpectedly/);
    assert.ok(!events.some((e) => e.event === "message_stop"), "no fake end_turn");
  });

  it("402 for missing credits becomes billing_error", async () => {
    const { client } = via();
    up.respond = () => ({ content: "unreachable" });
    await assert.rejects(
      sdkStream(client, { model: "claude-opus-4-8", max_tokens: 60_000 }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.APIError);
        assert.equal(err.status, 402);
        assert.equal((err.error as { error?: { type?: string } }).error?.type, "billing_error");
        assert.match(err.message, /requires more credits/);
        return true;
      },
    );
  });
});
