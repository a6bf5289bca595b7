/**
 * The response side of thinking, for every provider that shows its model's reasoning: one turn
 * of reasoning, text and a tool call becomes thinking → text → tool_use, assembled by the
 * official SDK from the stream (thinking_delta, signature_delta) and from a non-streamed answer
 * alike; the turn echoed back with its thinking block is accepted by the same provider.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import {
  bodyOf,
  type Connected,
  type ProviderFake,
  type Responder,
  sdkCreate,
  sdkStream,
  startDeepSeekFake,
  startMistralFake,
  startOllamaFake,
  startOpenRouterFake,
  type Turn,
} from "./helpers/provider_fakes.ts";
import { providerHarness } from "./helpers/provider_harness.ts";
import { assertGrammar } from "./api_support.ts";

const READ = {
  name: "Read",
  input_schema: {
    type: "object",
    properties: { file_path: { type: "string" } },
    required: ["file_path"],
  },
};
const TURN: Turn = {
  reasoning: "The user asked about the config; I should read it before answering.",
  content: "Let me look at the config.",
  calls: [{ name: "Read", args: { file_path: "/etc/app.conf" } }],
};

type Case = {
  name: string;
  start: (respond: Responder) => Promise<ProviderFake>;
  env: (fake: ProviderFake) => Record<string, string>;
};

const CASES: Case[] = [
  {
    name: "OpenRouter (Anthropic model)",
    start: (r) => startOpenRouterFake({ key: TEST_UPSTREAM_KEY }, r),
    env: (f) => ({
      OPENAI_BASE_URL: f.url,
      PROVIDER: "openrouter",
      BIG_MODEL: "anthropic/claude-sonnet-4.5",
    }),
  },
  {
    name: "DeepSeek",
    start: (r) => startDeepSeekFake({ key: TEST_UPSTREAM_KEY }, r),
    env: (f) => ({ OPENAI_BASE_URL: f.url, PROVIDER: "deepseek", BIG_MODEL: "deepseek-reasoner" }),
  },
  {
    name: "Ollama",
    start: (r) => startOllamaFake({ models: ["qwen3:32b"] }, r),
    env: (f) => ({
      OPENAI_BASE_URL: f.url,
      PROVIDER: "ollama",
      OPENAI_API_KEY: "",
      BIG_MODEL: "qwen3:32b",
    }),
  },
  {
    name: "Mistral (Magistral)",
    start: (r) => startMistralFake({ key: TEST_UPSTREAM_KEY }, r),
    env: (f) => ({
      OPENAI_BASE_URL: f.url,
      PROVIDER: "mistral",
      BIG_MODEL: "magistral-medium-latest",
    }),
  },
];

for (const c of CASES) {
  describe(`thinking through ${c.name}`, () => {
    const up = providerHarness({
      start: c.start,
      env: c.env,
      respond: (req) =>
        bodyOf(req).messages?.some((m) => m.role === "tool")
          ? { content: "It sets port 8080." }
          : TURN,
    });
    let conn: Connected;
    const params = {
      model: "claude-opus-4-8",
      max_tokens: 8_000,
      thinking: { type: "enabled", budget_tokens: 4_000 },
      tools: [READ],
    };

    before(() => {
      conn = up.via();
    });

    const check = (message: Anthropic.Message) => {
      assert.deepEqual(message.content.map((b) => b.type), ["thinking", "text", "tool_use"]);
      const [thinking, text, toolUse] = message.content as [
        Anthropic.ThinkingBlock,
        Anthropic.TextBlock,
        Anthropic.ToolUseBlock,
      ];
      assert.equal(thinking.thinking, TURN.reasoning);
      assert.ok(thinking.signature.length > 0, "a signature, as clients expect of thinking blocks");
      assert.equal(text.text, TURN.content);
      assert.deepEqual(toolUse.input, { file_path: "/etc/app.conf" });
      assert.equal(message.stop_reason, "tool_use");
      return toolUse;
    };

    const echo = async (message: Anthropic.Message, toolUse: Anthropic.ToolUseBlock) => {
      const refused = up.fake.rejections.length;
      const { final } = await sdkStream(conn.client, {
        ...params,
        messages: [
          { role: "user", content: "what port does the app use?" },
          { role: "assistant", content: message.content },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "port=8080" }],
          },
        ],
      });
      assert.equal(up.fake.rejections.length, refused, "the echoed thinking turn was accepted");
      assert.equal(final.stop_reason, "end_turn");
      const sent = up.lastBody().messages ?? [];
      const thinkingAsText = sent.some((m) =>
        typeof m.content === "string" && m.content.includes(TURN.reasoning!)
      );
      assert.ok(!thinkingAsText, "the reasoning is not replayed as visible text");
    };

    it("streams thinking, text and tool_use that the SDK's finalMessage() assembles", async () => {
      const { events, final } = await sdkStream(conn.client, params);
      assertGrammar(events.map((e) => ({ event: e.type, data: e })));
      const thinkingDeltas = events.filter((e) =>
        e.type === "content_block_delta" && e.index === 0
      );
      assert.equal(
        thinkingDeltas.at(-1)?.delta.type,
        "signature_delta",
        "the signature closes the block",
      );
      await echo(final, check(final));
    });

    it("answers the same without streaming", async () => {
      const message = await sdkCreate(conn.client, params);
      await echo(message, check(message));
    });
  });
}
