/**
 * Ollama: no key needed on a local base URL (any key works), tool calls that arrive whole in a
 * single chunk (arguments as a string or as an object), `reasoning` deltas, and its 404 for a
 * model that was never pulled.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { configFromEnv } from "../lib/ops/config.ts";
import {
  bodyOf,
  type ProviderFake,
  sdkCreate,
  sdkStream,
  startOllamaFake,
} from "./helpers/provider_fakes.ts";
import { providerHarness } from "./helpers/provider_harness.ts";
import { assertGrammar } from "./api_support.ts";

const TOOLS = [
  {
    name: "Read",
    input_schema: {
      type: "object",
      properties: { file_path: { type: "string" } },
      required: ["file_path"],
    },
  },
  {
    name: "Bash",
    input_schema: {
      type: "object",
      properties: { command: { type: "string" } },
      required: ["command"],
    },
  },
];

describe("Ollama", () => {
  const models = ["qwen3:8b", "llama3.2:3b", "qwen3-coder:30b"];
  const noThinking = ["llama3.2:3b", "qwen3-coder:30b"];
  const env = (f: ProviderFake) => ({
    OPENAI_BASE_URL: f.url,
    PROVIDER: "ollama",
    OPENAI_API_KEY: "",
    BIG_MODEL: "qwen3:8b",
    SMALL_MODEL: "llama3.2:3b",
  });
  const up = providerHarness({
    start: (respond) => startOllamaFake({ models, noThinking }, respond),
    env,
  });
  const { via, last } = up;
  // An Ollama that sends tool arguments as objects; it answers with the same script as `up`.
  const objectArgs = providerHarness({
    start: () =>
      startOllamaFake({ models, noThinking, argsAsObject: true }, (r, i) => up.respond(r, i)),
    env,
  });

  it("OPENAI_API_KEY is optional for a loopback base URL and for Ollama anywhere", () => {
    for (
      const base of [
        "http://127.0.0.1:11434/v1",
        "http://localhost:11434/v1",
        "http://ollama:11434/v1",
      ]
    ) {
      assert.doesNotThrow(() => configFromEnv({ OPENAI_BASE_URL: base }), base);
    }
    assert.throws(
      () => configFromEnv({ OPENAI_BASE_URL: "https://api.example.com/v1" }),
      /OPENAI_API_KEY/,
    );
  });

  it("works without a key (no Authorization header) and with any key", async () => {
    up.respond = () => ({ content: "Hello from Ollama." });
    const keyless = via();
    const message = await sdkCreate(keyless.client, { model: "claude-haiku-4-5" });
    assert.deepEqual(message.content.map((b) => (b.type === "text" ? b.text : b.type)), [
      "Hello from Ollama.",
    ]);
    assert.equal(last().headers["authorization"], undefined);
    const anyKey = via({ OPENAI_API_KEY: "ollama" });
    await sdkCreate(anyKey.client, { model: "claude-haiku-4-5" });
    assert.equal(last().headers["authorization"], "Bearer ollama");
  });

  it("parallel tool calls that arrive whole in one chunk become tool_use blocks", async () => {
    const { client } = via();
    up.respond = () => ({
      calls: [
        { name: "Read", args: { file_path: "/tmp/a.txt" } },
        { name: "Bash", args: { command: "ls -la" } },
      ],
    });
    const { events, final } = await sdkStream(client, { tools: TOOLS });
    assertGrammar(events.map((e) => ({ event: e.type, data: e })));
    const calls = final.content.filter((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
    assert.deepEqual(calls.map((c) => [c.name, c.input]), [
      ["Read", { file_path: "/tmp/a.txt" }],
      ["Bash", { command: "ls -la" }],
    ]);
    assert.equal(new Set(calls.map((c) => c.id)).size, 2);
    assert.equal(final.stop_reason, "tool_use");
  });

  it("arguments sent as an object instead of a JSON string are accepted, streamed and not", async () => {
    const { client } = objectArgs.via();
    up.respond = () => ({ calls: [{ name: "Bash", args: { command: "pwd" } }] });
    const { final } = await sdkStream(client, { tools: TOOLS });
    assert.deepEqual((final.content[0] as Anthropic.ToolUseBlock).input, { command: "pwd" });
    const message = await sdkCreate(client, { tools: TOOLS });
    assert.deepEqual((message.content[0] as Anthropic.ToolUseBlock).input, { command: "pwd" });
  });

  it("reasoning deltas become a thinking block before the text", async () => {
    const { client } = via();
    up.respond = () => ({ reasoning: "Simple greeting; answer briefly.", content: "Hi!" });
    const { final } = await sdkStream(client, {
      model: "claude-opus-4-8",
      thinking: { type: "enabled", budget_tokens: 2_048 },
      max_tokens: 4_096,
    });
    assert.deepEqual(final.content.map((b) => b.type), ["thinking", "text"]);
    assert.equal(
      (final.content[0] as Anthropic.ThinkingBlock).thinking,
      "Simple greeting; answer briefly.",
    );
    assert.equal(bodyOf(last()).reasoning_effort, "low", "qwen3 reasons: the effort is sent");
  });

  it("models without thinking (qwen3-coder, llama) get no reasoning_effort, which Ollama refuses", async () => {
    up.respond = () => ({ content: "ok" });
    const refused = up.fake.rejections.length;
    for (const model of ["qwen3-coder:30b", "llama3.2:3b"]) {
      const { client } = via({ BIG_MODEL: model });
      await sdkStream(client, { model: "claude-opus-4-8", thinking: { type: "adaptive" } });
      assert.ok(!("reasoning_effort" in bodyOf(last())), model);
    }
    assert.equal(up.fake.rejections.length, refused, "Ollama accepted every request");
  });

  it("usage reported at the end of the stream reaches message_delta", async () => {
    const { client } = via();
    up.respond = () => ({
      content: "Counted.",
      usage: { prompt_tokens: 321, completion_tokens: 12 },
    });
    const { final } = await sdkStream(client, {});
    assert.equal(final.usage.input_tokens, 321);
    assert.equal(final.usage.output_tokens, 12);
  });

  it("a model that was never pulled is a 404 not_found_error with Ollama's message", async () => {
    const { client } = via({ BIG_MODEL: "mistral-nemo" });
    await assert.rejects(
      sdkCreate(client, { model: "claude-opus-4-8" }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.NotFoundError);
        const message = (err.error as { error?: { message?: string } }).error?.message ?? "";
        assert.match(message, /model "mistral-nemo" not found, try pulling it first/);
        return true;
      },
    );
  });
});
