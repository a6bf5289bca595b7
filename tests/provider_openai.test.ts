/**
 * OpenAI (api.openai.com): reasoning models (o-series, gpt-5) take max_completion_tokens and
 * default sampling only; other models take no reasoning control at all. The fake answers every
 * breach with OpenAI's own 400, so a passing request here is one OpenAI would accept.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import { postToFake, sdkCreate, sdkStream, startOpenAIFake } from "./helpers/provider_fakes.ts";
import { providerHarness } from "./helpers/provider_harness.ts";
import { assertGrammar } from "./api_support.ts";

describe("OpenAI", () => {
  const up = providerHarness({
    start: (respond) => startOpenAIFake({ key: TEST_UPSTREAM_KEY }, respond),
    env: (fake) => ({ OPENAI_BASE_URL: fake.url, PROVIDER: "openai" }),
    respond: () => ({ content: "Hi there." }),
  });
  const { via, lastBody } = up;

  it("the fake refuses max_tokens, stop and temperature for reasoning models, as OpenAI does", async () => {
    const auth = { authorization: `Bearer ${TEST_UPSTREAM_KEY}` };
    const base = { model: "o3", messages: [{ role: "user", content: "hi" }] };
    for (const extra of [{ max_tokens: 10 }, { stop: ["x"] }, { temperature: 0.2 }]) {
      const r = await postToFake(`${up.fake.url}/chat/completions`, { ...base, ...extra }, auth);
      assert.equal(r.status, 400, JSON.stringify(extra));
      const error = (r.json as { error: { code: string; param: string } }).error;
      assert.match(error.code, /^unsupported_(parameter|value)$/);
      assert.equal(error.param, Object.keys(extra)[0]);
    }
    const gpt4o = await postToFake(
      `${up.fake.url}/chat/completions`,
      { model: "gpt-4o", messages: base.messages, reasoning_effort: "low" },
      auth,
    );
    assert.equal(gpt4o.status, 400);
  });

  it("o3 gets max_completion_tokens and no stop, temperature or top_p", async () => {
    const { client } = via({ BIG_MODEL: "o3" });
    up.respond = () => ({ content: "Paris." });
    const refused = up.fake.rejections.length;
    const { events, final } = await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 64_000,
      temperature: 0.2,
      top_p: 0.9,
      stop_sequences: ["END"],
    });
    assertGrammar(events.map((e) => ({ event: e.type, data: e })));
    assert.deepEqual(final.content.map((b) => (b.type === "text" ? b.text : b.type)), ["Paris."]);
    const body = lastBody();
    assert.equal(body.max_completion_tokens, 64_000);
    for (const key of ["max_tokens", "stop", "temperature", "top_p"]) {
      assert.ok(!(key in body), key);
    }
    assert.equal(up.fake.rejections.length, refused);
  });

  it("disable_parallel_tool_use reaches gpt-5 as parallel_tool_calls, and is left out for o-series", async () => {
    up.respond = () => ({ content: "ok" });
    const tools = [{
      name: "Bash",
      input_schema: { type: "object", properties: { command: { type: "string" } } },
    }];
    const tool_choice = { type: "auto", disable_parallel_tool_use: true };
    const refused = up.fake.rejections.length;
    for (const [model, expected] of [["gpt-5", false], ["o4-mini", undefined], ["o3", undefined]]) {
      const { client } = via({ BIG_MODEL: String(model) });
      await sdkStream(client, { model: "claude-opus-4-8", tools, tool_choice });
      assert.equal(lastBody().parallel_tool_calls, expected, String(model));
    }
    assert.equal(up.fake.rejections.length, refused, "OpenAI accepted every request");
  });

  it("gpt-5 with thinking gets reasoning_effort from the budget, and no sampling", async () => {
    const { client } = via({ BIG_MODEL: "gpt-5" });
    up.respond = () => ({ content: "ok" });
    await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 32_000,
      temperature: 1,
      thinking: { type: "enabled", budget_tokens: 10_000 },
    });
    const body = lastBody();
    assert.equal(body.reasoning_effort, "medium", "4096 < 10000 ≤ 16384");
    assert.equal(body.max_completion_tokens, 32_000);
    assert.ok(!("temperature" in body));
  });

  it("the budget thresholds come from THINKING_LOW_MAX_BUDGET and THINKING_MEDIUM_MAX_BUDGET", async () => {
    const { client } = via({
      BIG_MODEL: "gpt-5",
      THINKING_LOW_MAX_BUDGET: "12000",
      THINKING_MEDIUM_MAX_BUDGET: "20000",
    });
    up.respond = () => ({ content: "ok" });
    const cases: [number, string][] = [[10_000, "low"], [12_001, "medium"], [20_001, "high"]];
    for (const [budget, effort] of cases) {
      await sdkStream(client, {
        model: "claude-opus-4-8",
        max_tokens: 32_000,
        thinking: { type: "enabled", budget_tokens: budget },
      });
      assert.equal(lastBody().reasoning_effort, effort, `budget ${budget}`);
    }
  });

  it("Anthropic's max and xhigh efforts become high, which OpenAI accepts", async () => {
    const { client } = via({ BIG_MODEL: "gpt-5" });
    up.respond = () => ({ content: "ok" });
    for (const effort of ["max", "xhigh"]) {
      await sdkCreate(client, {
        model: "claude-opus-4-8",
        thinking: { type: "adaptive" },
        output_config: { effort },
      });
      assert.equal(lastBody().reasoning_effort, "high", effort);
    }
  });

  it("thinking disabled together with an effort sends no reasoning control", async () => {
    const { client } = via({ BIG_MODEL: "gpt-5" });
    up.respond = () => ({ content: "ok" });
    await sdkCreate(client, {
      model: "claude-opus-4-8",
      thinking: { type: "disabled" },
      output_config: { effort: "high" },
    });
    assert.ok(!("reasoning_effort" in lastBody()));
  });

  it("gpt-5.1 keeps temperature while it does not reason, and drops it once it does", async () => {
    const { client } = via({ BIG_MODEL: "gpt-5.1" });
    up.respond = () => ({ content: "ok" });
    await sdkCreate(client, { model: "claude-opus-4-8", temperature: 0.3 });
    assert.equal(lastBody().temperature, 0.3);
    assert.ok(!("reasoning_effort" in lastBody()));
    await sdkCreate(client, {
      model: "claude-opus-4-8",
      temperature: 0.3,
      thinking: { type: "enabled", budget_tokens: 2_000 },
    });
    assert.equal(lastBody().reasoning_effort, "low");
    assert.ok(!("temperature" in lastBody()));
  });

  it("gpt-4o never gets reasoning_effort, whatever thinking says, and keeps its sampling", async () => {
    const { client } = via({ BIG_MODEL: "gpt-4o" });
    up.respond = () => ({ content: "ok" });
    const before = up.fake.rejections.length;
    await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 4_000,
      temperature: 0.5,
      stop_sequences: ["END"],
      thinking: { type: "enabled", budget_tokens: 2_048 },
    });
    const body = lastBody();
    assert.ok(!("reasoning_effort" in body));
    assert.equal(body.max_tokens, 4_000);
    assert.equal(body.temperature, 0.5);
    assert.deepEqual(body.stop, ["END"]);
    assert.equal(up.fake.rejections.length, before);
  });

  it("a tool call id carrying a Gemini thought signature goes back without extra_content", async () => {
    // OpenAI rejects unknown fields in messages; the fake answers them with its 400.
    const { client } = via({ BIG_MODEL: "gpt-4o" });
    up.respond = () => ({ content: "ok" });
    const signedId = "call_1__xeyJnb29nbGUiOnsidGhvdWdodF9zaWduYXR1cmUiOiJzaWcifX0";
    await sdkCreate(client, {
      model: "claude-opus-4-8",
      tools: [{ name: "Bash", input_schema: { type: "object", properties: {} } }],
      messages: [
        { role: "user", content: "run it" },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: signedId, name: "Bash", input: {} }],
        },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: signedId, content: "done" }],
        },
      ],
    });
    const call = lastBody().messages?.find((m) => m.role === "assistant")?.tool_calls?.[0];
    assert.equal(call?.id, "call_1");
    assert.ok(!("extra_content" in (call ?? {})));
  });

  it("a fine-tuned o4-mini follows the reasoning-model rules of its base model", async () => {
    const { client } = via({ BIG_MODEL: "ft:o4-mini-2025-04-16:acme::B1x2" });
    up.respond = () => ({ content: "ok" });
    await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 40_000,
      temperature: 0.2,
      thinking: { type: "enabled", budget_tokens: 30_000 },
    });
    const body = lastBody();
    assert.equal(body.reasoning_effort, "high");
    assert.ok("max_completion_tokens" in body && !("max_tokens" in body));
    assert.ok(!("temperature" in body));
  });
});
