/**
 * DeepSeek: `reasoning_content` deltas become thinking; the thinking switch is
 * `thinking: {type}` plus `reasoning_effort`; and in thinking mode every assistant message of a
 * span (user message to user message) with a tool call must carry its `reasoning_content` in later
 * requests, which the proxy restores from the thinking block the client echoes (an empty string
 * when the client dropped it).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import {
  bodyOf,
  postToFake,
  type Responder,
  sdkCreate,
  sdkStream,
  startDeepSeekFake,
} from "./helpers/provider_fakes.ts";
import { providerHarness } from "./helpers/provider_harness.ts";
import { assertGrammar } from "./api_support.ts";

const BASH = {
  name: "Bash",
  input_schema: {
    type: "object",
    properties: { command: { type: "string" } },
    required: ["command"],
  },
};
const THINKING = { type: "enabled", budget_tokens: 4_000 };

describe("DeepSeek", () => {
  const up = providerHarness({
    start: (respond) => startDeepSeekFake({ key: TEST_UPSTREAM_KEY }, respond),
    env: (fake) => ({
      OPENAI_BASE_URL: fake.url,
      PROVIDER: "deepseek",
      BIG_MODEL: "deepseek-reasoner",
      MIDDLE_MODEL: "deepseek-v4-flash",
      SMALL_MODEL: "deepseek-chat",
    }),
  });
  const { via, lastBody } = up;
  const toolRounds = (req: Parameters<Responder>[0]) =>
    (bodyOf(req).messages ?? []).filter((m) => m.role === "tool").length;

  it("the fake refuses a tool-call message without reasoning_content in thinking mode, as DeepSeek does", async () => {
    const r = await postToFake(`${up.fake.url}/chat/completions`, {
      model: "deepseek-reasoner",
      messages: [
        { role: "user", content: "ls" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c1", type: "function", function: { name: "Bash", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "c1", content: "a" },
      ],
    }, { authorization: `Bearer ${TEST_UPSTREAM_KEY}` });
    assert.equal(r.status, 400);
    assert.match(
      JSON.stringify(r.json),
      /Missing `reasoning_content` field in the assistant message at message index 1/,
    );
  });

  it("thinking on sends thinking: enabled and reasoning_effort; max stays max", async () => {
    const { client } = via();
    await sdkStream(client, { model: "claude-opus-4-8", max_tokens: 16_000, thinking: THINKING });
    assert.deepEqual(lastBody().thinking, { type: "enabled" });
    assert.equal(lastBody().reasoning_effort, "low");
    await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 16_000,
      thinking: { type: "adaptive" },
      output_config: { effort: "max" },
    });
    assert.equal(lastBody().reasoning_effort, "max", "DeepSeek has a max effort of its own");
  });

  it("thinking disabled is said out loud to V4, which thinks by default; absent says nothing", async () => {
    const { client } = via();
    await sdkCreate(client, { model: "claude-sonnet-4-6", thinking: { type: "disabled" } });
    assert.equal(lastBody().model, "deepseek-v4-flash");
    assert.deepEqual(lastBody().thinking, { type: "disabled" });
    assert.ok(!("reasoning_effort" in lastBody()));
    await sdkCreate(client, { model: "claude-sonnet-4-6" });
    assert.ok(!("thinking" in lastBody()));
  });

  it("a forced tool call says thinking: disabled, which V4 needs to accept it", async () => {
    const { client } = via();
    up.respond = () => ({ calls: [{ name: "Bash", args: { command: "ls" } }] });
    for (const tool_choice of [{ type: "any" }, { type: "tool", name: "Bash" }]) {
      const refused = up.fake.rejections.length;
      const msg = await sdkCreate(client, {
        model: "claude-sonnet-4-6",
        tools: [BASH],
        tool_choice,
      });
      assert.equal(up.fake.rejections.length, refused, JSON.stringify(up.fake.rejections.at(-1)));
      assert.deepEqual(lastBody().thinking, { type: "disabled" });
      assert.equal(msg.stop_reason, "tool_use");
    }
    // auto leaves the default alone.
    await sdkCreate(client, {
      model: "claude-sonnet-4-6",
      tools: [BASH],
      tool_choice: { type: "auto" },
    });
    assert.ok(!("thinking" in lastBody()));
  });

  it("deepseek-chat gets no reasoning control, and its max_tokens stays within 8192", async () => {
    const { client } = via();
    const refused = up.fake.rejections.length;
    await sdkStream(client, { model: "claude-haiku-4-5", max_tokens: 32_000, thinking: THINKING });
    const body = lastBody();
    assert.equal(up.fake.rejections.length, refused);
    assert.ok(!("thinking" in body) && !("reasoning_effort" in body));
    assert.equal(body.max_tokens, 8_192);
  });

  it("reasoning_content streams as a thinking block, the tool loop echoes it back, DeepSeek accepts", async () => {
    const { client } = via();
    up.respond = (req) =>
      toolRounds(req) === 0
        ? {
          reasoning: "I should list the directory.",
          calls: [{ name: "Bash", args: { command: "ls" } }],
        }
        : toolRounds(req) === 1
        ? {
          reasoning: "Now count them.",
          calls: [{ name: "Bash", args: { command: "ls | wc -l" } }],
        }
        : { reasoning: "Two files.", content: "There are 2 files." };
    const params = {
      model: "claude-opus-4-8",
      max_tokens: 16_000,
      thinking: THINKING,
      tools: [BASH],
    };
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "how many files?" }];
    const refused = up.fake.rejections.length;
    let final: Anthropic.Message | undefined;
    for (let round = 0; round < 3; round++) {
      const turn = await sdkStream(client, { ...params, messages });
      assertGrammar(turn.events.map((e) => ({ event: e.type, data: e })));
      final = turn.final;
      if (final.stop_reason !== "tool_use") break;
      assert.equal(final.content[0]?.type, "thinking", "thinking comes first");
      const call = final.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use")!;
      messages.push({ role: "assistant", content: final.content });
      messages.push({
        role: "user",
        content: [{ type: "tool_result", tool_use_id: call.id, content: "a\nb" }],
      });
    }
    assert.equal(up.fake.rejections.length, refused, "every request was accepted");
    assert.deepEqual(final?.content.map((b) => b.type), ["thinking", "text"]);
    const assistants = (lastBody().messages ?? []).filter((m) => m.role === "assistant");
    assert.deepEqual(assistants.map((m) => m.reasoning_content), [
      "I should list the directory.",
      "Now count them.",
    ]);
  });

  it("the answer that ends a tool loop keeps its reasoning_content in the next turn too", async () => {
    const { client } = via();
    up.respond = (req) =>
      toolRounds(req) === 0
        ? { reasoning: "List it.", calls: [{ name: "Bash", args: { command: "ls" } }] }
        : { reasoning: "Two files.", content: "There are 2 files." };
    const params = {
      model: "claude-opus-4-8",
      max_tokens: 16_000,
      thinking: THINKING,
      tools: [BASH],
    };
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "how many files?" }];
    const first = await sdkStream(client, { ...params, messages });
    const call = first.final.content.find((b): b is Anthropic.ToolUseBlock =>
      b.type === "tool_use"
    )!;
    messages.push({ role: "assistant", content: first.final.content });
    messages.push({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: call.id, content: "a\nb" }],
    });
    const second = await sdkStream(client, { ...params, messages });
    assert.deepEqual(second.final.content.map((b) => b.type), ["thinking", "text"]);
    messages.push({ role: "assistant", content: second.final.content });
    messages.push({ role: "user", content: "and hidden ones?" });
    // Claude Code also sends plain-string assistant turns (e.g. after compaction).
    messages.push({ role: "assistant", content: "Let me check." }, { role: "user", content: "go" });
    const refused = up.fake.rejections.length;
    await sdkStream(client, { ...params, messages });
    assert.equal(up.fake.rejections.length, refused, "DeepSeek accepts the third request");
    const assistants = (lastBody().messages ?? []).filter((m) => m.role === "assistant");
    assert.deepEqual(assistants.map((m) => m.reasoning_content), ["List it.", "Two files.", ""]);
  });

  it("a tool-call turn whose thinking block the client dropped gets an empty reasoning_content", async () => {
    const { client } = via();
    up.respond = () => ({ content: "done" });
    const refused = up.fake.rejections.length;
    await sdkCreate(client, {
      model: "claude-opus-4-8",
      max_tokens: 8_000,
      thinking: THINKING,
      tools: [BASH],
      messages: [
        { role: "user", content: "ls" },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "call_00_x", name: "Bash", input: { command: "ls" } }],
        },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "call_00_x", content: "a" }],
        },
      ],
    });
    assert.equal(up.fake.rejections.length, refused);
    const assistant = lastBody().messages?.find((m) => m.role === "assistant");
    assert.equal(assistant?.reasoning_content, "");
  });

  it("a JSON-schema output format becomes json_object with the schema in the prompt", async () => {
    const { client } = via();
    up.respond = () => ({ content: '{"title":"Files"}' });
    const refused = up.fake.rejections.length;
    await sdkCreate(client, {
      model: "claude-haiku-4-5",
      output_config: {
        format: {
          type: "json_schema",
          schema: { type: "object", properties: { title: { type: "string" } } },
        },
      },
    });
    assert.equal(up.fake.rejections.length, refused);
    assert.deepEqual(lastBody().response_format, { type: "json_object" });
    assert.match(String(lastBody().messages?.[0]?.content), /"title"/);
  });
});
