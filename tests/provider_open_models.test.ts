/**
 * The providers open models are served from, each against a fake that refuses what the provider
 * documents it refuses (tests/helpers/open_model_fakes.ts): Moonshot (Kimi), Z.AI (GLM),
 * DashScope (Qwen), Groq, Cerebras, MiniMax, xAI; and the local servers' reasoning switches
 * (vLLM, llama.cpp). A request over a documented limit is a clear 400 from the proxy, never the
 * upstream's.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import { postToFake, sdkCreate, sdkStream } from "./helpers/provider_fakes.ts";
import { providerHarness } from "./helpers/provider_harness.ts";
import {
  CEREBRAS_REFUSED,
  KIMI_MAX_TOOLS,
  startCerebrasFake,
  startDashScopeFake,
  startGroqFake,
  startLocalServerFake,
  startMiniMaxFake,
  startMoonshotFake,
  startXaiFake,
  startZaiFake,
} from "./helpers/open_model_fakes.ts";
import { assertGrammar } from "./api_support.ts";

const key = { key: TEST_UPSTREAM_KEY };
const auth = { authorization: `Bearer ${TEST_UPSTREAM_KEY}` };
const BASH = {
  name: "Bash",
  input_schema: {
    type: "object",
    properties: { command: { type: "string" } },
    required: ["command"],
  },
};
const THINKING = { type: "enabled", budget_tokens: 4_000 };
const manyTools = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ ...BASH, name: `mcp__tool_${i}` }));

/** Runs a tool loop of `rounds` calls through the proxy; returns the last answer. */
async function toolLoop(client: Anthropic, params: Record<string, unknown>, rounds: number) {
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: "go" }];
  let final: Anthropic.Message | undefined;
  for (let round = 0; round <= rounds; round++) {
    const turn = await sdkStream(client, { ...params, messages });
    assertGrammar(turn.events.map((e) => ({ event: e.type, data: e })));
    final = turn.final;
    if (final.stop_reason !== "tool_use") break;
    const call = final.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use")!;
    messages.push({ role: "assistant", content: final.content });
    messages.push({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: call.id, content: "ok" }],
    });
  }
  return final!;
}

const toolRounds = (req: { body: unknown }) =>
  ((req.body as { messages?: { role?: unknown }[] }).messages ?? [])
    .filter((m) => m.role === "tool").length;

describe("Moonshot (Kimi)", () => {
  const up = providerHarness({
    start: (respond) => startMoonshotFake(key, respond),
    env: (fake) => ({
      OPENAI_BASE_URL: `${new URL(fake.url).origin}/v1`,
      PROVIDER: "moonshot",
      BIG_MODEL: "kimi-k2.5",
      SMALL_MODEL: "kimi-k2-thinking",
    }),
  });

  it(`more than ${KIMI_MAX_TOOLS} tools: the fake refuses them, the proxy answers a 400 naming the limit first`, async () => {
    const direct = await postToFake(`${new URL(up.fake.url).origin}/v1/chat/completions`, {
      model: "kimi-k2.5",
      messages: [{ role: "user", content: "hi" }],
      tools: manyTools(KIMI_MAX_TOOLS + 1).map((t) => ({
        type: "function",
        function: { name: t.name, parameters: t.input_schema },
      })),
    }, auth);
    assert.equal(direct.status, 400);
    const { client } = up.via();
    const before = up.fake.requests.length;
    await assert.rejects(
      sdkCreate(client, { tools: manyTools(KIMI_MAX_TOOLS + 1) }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.BadRequestError);
        assert.match(JSON.stringify(err.error), /"type":"invalid_request_error"/);
        assert.match(err.message, /129 tools.*moonshot accepts at most 128 tools/);
        return true;
      },
    );
    assert.equal(up.fake.requests.length, before, "nothing was sent upstream");
    up.respond = () => ({ content: "ok" });
    await sdkCreate(client, { tools: manyTools(KIMI_MAX_TOOLS) });
    assert.equal(up.fake.requests.length, before + 1, "128 tools go through");
  });

  it("a thinking tool loop sends reasoning_content back on every tool-call message", async () => {
    const { client } = up.via();
    up.respond = (req) =>
      toolRounds(req) < 2
        ? {
          reasoning: `step ${toolRounds(req)}`,
          calls: [{ name: "Bash", args: { command: "ls" } }],
        }
        : { reasoning: "done", content: "Two files." };
    const refused = up.fake.rejections.length;
    const final = await toolLoop(client, {
      model: "claude-opus-4-8",
      max_tokens: 8_000,
      thinking: THINKING,
      tools: [BASH],
    }, 3);
    assert.equal(up.fake.rejections.length, refused, "Kimi accepted every request");
    assert.deepEqual(final.content.map((b) => b.type), ["thinking", "text"]);
    assert.deepEqual(up.lastBody().thinking, { type: "enabled" });
    const assistants = (up.lastBody().messages ?? []).filter((m) => m.role === "assistant");
    assert.deepEqual(assistants.map((m) => m.reasoning_content), ["step 0", "step 1"]);
  });

  it("thinking disabled is said out loud to kimi-k2.5; kimi-k2-thinking gets no switch", async () => {
    const { client } = up.via();
    up.respond = () => ({ content: "ok" });
    await sdkCreate(client, { model: "claude-opus-4-8", thinking: { type: "disabled" } });
    assert.deepEqual(up.lastBody().thinking, { type: "disabled" });
    await sdkCreate(client, { model: "claude-haiku-4-5", thinking: THINKING });
    assert.equal(up.lastBody().model, "kimi-k2-thinking");
    assert.ok(!("thinking" in up.lastBody()));
  });
});

describe("Z.AI (GLM)", () => {
  const up = providerHarness({
    start: (respond) => startZaiFake(key, respond),
    env: (fake) => ({
      OPENAI_BASE_URL: `${new URL(fake.url).origin}/api/paas/v4`,
      PROVIDER: "zhipu",
      BIG_MODEL: "glm-4.6",
    }),
  });

  it("tool arguments stream in pieces because tool_stream is asked for; no stream_options", async () => {
    const { client } = up.via();
    up.respond = () => ({ calls: [{ name: "Bash", args: { command: "ls -la /tmp" } }] });
    const { events, final } = await sdkStream(client, { tools: [BASH] });
    assert.equal(up.lastBody().tool_stream, true);
    assert.ok(!("stream_options" in up.lastBody()));
    const pieces = events.filter((e) => e.delta?.type === "input_json_delta");
    assert.ok(pieces.length > 1, `arguments arrived in ${pieces.length} piece(s)`);
    assert.equal(final.stop_reason, "tool_use");
  });

  it("a forced tool choice goes as auto, the only one GLM takes", async () => {
    const direct = await postToFake(`${new URL(up.fake.url).origin}/api/paas/v4/chat/completions`, {
      model: "glm-4.6",
      messages: [{ role: "user", content: "hi" }],
      tool_choice: "required",
    }, auth);
    assert.equal(direct.status, 400);
    const { client } = up.via();
    up.respond = () => ({ calls: [{ name: "Bash", args: { command: "ls" } }] });
    const refused = up.fake.rejections.length;
    await sdkCreate(client, { tools: [BASH], tool_choice: { type: "tool", name: "Bash" } });
    assert.equal(up.fake.rejections.length, refused);
    assert.equal(up.lastBody().tool_choice, "auto");
    // "none" cannot be said either: the tools are left out instead.
    up.respond = () => ({ content: "no tools" });
    await sdkCreate(client, { tools: [BASH], tool_choice: { type: "none" } });
    assert.equal(up.fake.rejections.length, refused);
    assert.ok(!("tools" in up.lastBody()) && !("tool_choice" in up.lastBody()));
  });

  it("thinking becomes thinking: enabled, its reasoning a thinking block that goes back", async () => {
    const { client } = up.via();
    up.respond = (req) =>
      toolRounds(req) === 0
        ? { reasoning: "look first", calls: [{ name: "Bash", args: { command: "ls" } }] }
        : { reasoning: "seen", content: "done" };
    await toolLoop(client, { max_tokens: 8_000, thinking: THINKING, tools: [BASH] }, 2);
    assert.deepEqual(up.lastBody().thinking, { type: "enabled" });
    const assistants = (up.lastBody().messages ?? []).filter((m) => m.role === "assistant");
    assert.deepEqual(assistants.map((m) => m.reasoning_content), ["look first"]);
  });
});

describe("DashScope (Qwen)", () => {
  const up = providerHarness({
    start: (respond) => startDashScopeFake(key, respond),
    env: (fake) => ({
      OPENAI_BASE_URL: `${new URL(fake.url).origin}/compatible-mode/v1`,
      PROVIDER: "dashscope",
      BIG_MODEL: "qwen3-32b",
    }),
  });

  it("a non-streamed call to an open Qwen3 model says enable_thinking: false, as DashScope requires", async () => {
    const direct = await postToFake(
      `${new URL(up.fake.url).origin}/compatible-mode/v1/chat/completions`,
      {
        model: "qwen3-32b",
        messages: [{ role: "user", content: "hi" }],
      },
      auth,
    );
    assert.equal(direct.status, 400);
    const { client } = up.via();
    up.respond = () => ({ content: "ok" });
    const refused = up.fake.rejections.length;
    await sdkCreate(client, { thinking: THINKING });
    await sdkCreate(client, {});
    assert.equal(up.fake.rejections.length, refused);
    assert.equal(up.lastBody().enable_thinking, false);
  });

  it("streamed thinking sends enable_thinking with the budget; reasoning becomes thinking", async () => {
    const { client } = up.via();
    up.respond = () => ({ reasoning: "hmm", content: "ok" });
    const { final } = await sdkStream(client, { max_tokens: 8_000, thinking: THINKING });
    assert.equal(up.lastBody().enable_thinking, true);
    assert.equal(up.lastBody().thinking_budget, 4_000);
    assert.deepEqual(final.content.map((b) => b.type), ["thinking", "text"]);
  });
});

describe("Groq", () => {
  const up = providerHarness({
    start: (respond) => startGroqFake(key, respond),
    env: (fake) => ({
      OPENAI_BASE_URL: `${new URL(fake.url).origin}/openai/v1`,
      PROVIDER: "groq",
      BIG_MODEL: "openai/gpt-oss-120b",
    }),
  });

  it("max_completion_tokens instead of the deprecated max_tokens; reasoning streams as thinking", async () => {
    const { client } = up.via();
    up.respond = () => ({ reasoning: "think", content: "ok" });
    const { final } = await sdkStream(client, { max_tokens: 2_000, thinking: THINKING });
    assert.equal(up.lastBody().max_completion_tokens, 2_000);
    assert.ok(!("max_tokens" in up.lastBody()));
    assert.equal(up.lastBody().reasoning_effort, "low");
    assert.deepEqual(final.content.map((b) => b.type), ["thinking", "text"]);
  });

  it("Qwen3 on Groq gets the only effort it takes, default", async () => {
    const { client } = up.via({ BIG_MODEL: "qwen/qwen3-32b" });
    up.respond = () => ({ reasoning: "think", content: "ok" });
    await sdkStream(client, { max_tokens: 2_000, thinking: THINKING });
    assert.equal(up.lastBody().reasoning_effort, "default");
  });

  it("the fake refuses the fields Groq documents as unsupported; the proxy sends none", async () => {
    for (const field of ["logprobs", "logit_bias", "top_logprobs"]) {
      const r = await postToFake(`${new URL(up.fake.url).origin}/openai/v1/chat/completions`, {
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        [field]: true,
      }, auth);
      assert.equal(r.status, 400, field);
    }
    const { client } = up.via({ EXTRA_BODY: '{"service_tier":"auto"}' });
    up.respond = () => ({ content: "ok" });
    const refused = up.fake.rejections.length;
    await sdkCreate(client, { metadata: { user_id: "u1" } });
    assert.equal(up.fake.rejections.length, refused);
  });
});

describe("Cerebras", () => {
  const up = providerHarness({
    start: (respond) => startCerebrasFake(key, respond),
    env: (fake) => ({
      OPENAI_BASE_URL: `${new URL(fake.url).origin}/v1`,
      PROVIDER: "cerebras",
      BIG_MODEL: "qwen-3-coder-480b",
    }),
  });

  it("parallel tool calls switched off: parallel_tool_calls, a 400 there, is left out", async () => {
    for (const field of CEREBRAS_REFUSED) {
      const r = await postToFake(`${new URL(up.fake.url).origin}/v1/chat/completions`, {
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        [field]: false,
      }, auth);
      assert.equal(r.status, 400, field);
    }
    const { client } = up.via();
    up.respond = () => ({ calls: [{ name: "Bash", args: { command: "ls" } }] });
    const refused = up.fake.rejections.length;
    const message = await sdkCreate(client, {
      tools: [BASH],
      tool_choice: { type: "auto", disable_parallel_tool_use: true },
    });
    assert.equal(up.fake.rejections.length, refused);
    assert.ok(!("parallel_tool_calls" in up.lastBody()));
    assert.equal(up.lastBody().max_completion_tokens, 1_024);
    assert.equal(message.stop_reason, "tool_use");
  });
});

describe("MiniMax", () => {
  const up = providerHarness({
    start: (respond) => startMiniMaxFake(key, respond),
    env: (fake) => ({
      OPENAI_BASE_URL: `${new URL(fake.url).origin}/v1`,
      PROVIDER: "minimax",
      BIG_MODEL: "MiniMax-M2",
    }),
  });

  it("temperature 0 is raised into MiniMax's (0, 1]; system messages go as one", async () => {
    const { client } = up.via();
    up.respond = () => ({ content: "ok" });
    const refused = up.fake.rejections.length;
    await sdkCreate(client, {
      temperature: 0,
      system: "You are terse.",
      messages: [
        { role: "user", content: "a" },
        { role: "assistant", content: "b" },
        { role: "system", content: "Mind the date." },
        { role: "user", content: "c" },
      ],
    });
    assert.equal(up.fake.rejections.length, refused);
    assert.ok(Number(up.lastBody().temperature) > 0);
    assert.equal((up.lastBody().messages ?? []).filter((m) => m.role === "system").length, 1);
    assert.ok(!("max_tokens" in up.lastBody()) && up.lastBody().max_completion_tokens === 1_024);
  });

  it("M2's <think> text reaches the client and goes back as written, as MiniMax asks", async () => {
    const { client } = up.via();
    up.respond = (req) =>
      toolRounds(req) === 0
        ? {
          reasoning: "plan",
          content: "Listing.",
          calls: [{ name: "Bash", args: { command: "ls" } }],
        }
        : { content: "done" };
    await toolLoop(client, { tools: [BASH] }, 2);
    const assistant = (up.lastBody().messages ?? []).find((m) => m.role === "assistant");
    assert.match(String(assistant?.content), /^<think>\nplan\n<\/think>\n\nListing\.$/);
  });
});

describe("xAI", () => {
  const up = providerHarness({
    start: (respond) => startXaiFake(key, respond),
    env: (fake) => ({
      OPENAI_BASE_URL: `${new URL(fake.url).origin}/v1`,
      PROVIDER: "xai",
      BIG_MODEL: "grok-4",
      SMALL_MODEL: "grok-3-mini",
    }),
  });

  it("grok-4 gets no reasoning_effort (a 400 there); grok-3-mini gets low or high only", async () => {
    const direct = await postToFake(`${new URL(up.fake.url).origin}/v1/chat/completions`, {
      model: "grok-4",
      messages: [{ role: "user", content: "hi" }],
      reasoning_effort: "high",
    }, auth);
    assert.equal(direct.status, 400);
    const { client } = up.via();
    up.respond = () => ({ content: "ok" });
    const refused = up.fake.rejections.length;
    await sdkCreate(client, { model: "claude-opus-4-8", max_tokens: 8_000, thinking: THINKING });
    assert.ok(!("reasoning_effort" in up.lastBody()));
    await sdkCreate(client, {
      model: "claude-haiku-4-5",
      max_tokens: 16_000,
      thinking: { type: "adaptive" },
      output_config: { effort: "medium" },
    });
    assert.equal(up.lastBody().reasoning_effort, "high", "medium rounds up to high");
    assert.equal(up.fake.rejections.length, refused);
  });
});

describe("vLLM and llama.cpp", () => {
  const up = providerHarness({
    start: (respond) => startLocalServerFake(key, respond),
    env: (fake) => ({ OPENAI_BASE_URL: `${new URL(fake.url).origin}/v1` }),
  });

  for (const provider of ["vllm", "llamacpp"]) {
    it(`${provider}: Qwen3's thinking switch goes through chat_template_kwargs`, async () => {
      const { client } = up.via({ PROVIDER: provider, BIG_MODEL: "Qwen/Qwen3-32B" });
      up.respond = () => ({ reasoning: "hmm", content: "ok" });
      const { final } = await sdkStream(client, { max_tokens: 8_000, thinking: THINKING });
      // Both names: Qwen3's template reads enable_thinking, DeepSeek-V3.1's thinking.
      assert.deepEqual(up.lastBody().chat_template_kwargs, {
        enable_thinking: true,
        thinking: true,
      });
      assert.ok(!("reasoning_effort" in up.lastBody()));
      assert.deepEqual(final.content.map((b) => b.type), ["thinking", "text"]);
      await sdkCreate(client, { thinking: { type: "disabled" } });
      assert.deepEqual(up.lastBody().chat_template_kwargs, {
        enable_thinking: false,
        thinking: false,
      });
      // No thinking asked: the server's default stands.
      await sdkCreate(client, {});
      assert.ok(!("chat_template_kwargs" in up.lastBody()));
    });
  }
});
