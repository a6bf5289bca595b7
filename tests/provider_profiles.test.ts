/**
 * The pure tables behind provider support: which provider a base URL means (PROVIDER
 * overrides it), the chat completions URL for each, what a model is known to do, how the
 * client's thinking settings become each provider's reasoning control, and how streamed
 * reasoning_details are merged.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { configFromEnv } from "../lib/ops/config.ts";
import { modelInfo } from "../lib/upstreams/model_info.ts";
import { chatCompletionsUrl, modelsUrl, resolveProfile } from "../lib/upstreams/openai/profiles.ts";
import { detectProvider, type ProviderName } from "../lib/upstreams/openai/detect_provider.ts";
import { reasoningFields } from "../lib/upstreams/chat/reasoning.ts";
import { DEFAULT_THRESHOLDS, thinkingAsk } from "../lib/upstreams/thinking.ts";
import { envProvider } from "../lib/routing/env_provider.ts";
import { mergeReasoningDetails } from "../lib/anthropic/signature.ts";

const NO_OVERRIDES = { reasoningModels: [], nonReasoningModels: [] };

describe("provider profiles", () => {
  it("recognises each provider by its documented base URL", () => {
    const table: [string, ProviderName][] = [
      ["https://api.openai.com/v1", "openai"],
      ["https://my-res.openai.azure.com/openai/deployments/gpt-4o", "azure"],
      ["https://my-res.cognitiveservices.azure.com/openai/v1", "azure"],
      ["https://my-proj.services.ai.azure.com/openai/v1", "azure"],
      ["https://gateway.example.com/openai/deployments/x", "azure"],
      ["https://openrouter.ai/api/v1", "openrouter"],
      ["https://api.deepseek.com", "deepseek"],
      ["https://api.deepseek.com/v1", "deepseek"],
      ["https://generativelanguage.googleapis.com/v1beta/openai", "gemini"],
      ["https://api.mistral.ai/v1", "mistral"],
      ["http://localhost:11434/v1", "ollama"],
      ["http://ollama:11434/v1", "ollama"],
      ["https://ollama.com/v1", "ollama"],
      ["https://api.moonshot.ai/v1", "moonshot"],
      ["https://api.moonshot.cn/v1", "moonshot"],
      ["https://api.z.ai/api/paas/v4", "zhipu"],
      ["https://api.z.ai/api/coding/paas/v4", "zhipu"],
      ["https://open.bigmodel.cn/api/paas/v4", "zhipu"],
      ["https://api.minimax.io/v1", "minimax"],
      ["https://api.minimaxi.com/v1", "minimax"],
      ["https://dashscope.aliyuncs.com/compatible-mode/v1", "dashscope"],
      ["https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "dashscope"],
      ["https://api.x.ai/v1", "xai"],
      ["https://api.groq.com/openai/v1", "groq"],
      ["https://api.cerebras.ai/v1", "cerebras"],
      ["https://api.together.xyz/v1", "together"],
      ["https://api.fireworks.ai/inference/v1", "fireworks"],
      ["http://localhost:1234/v1", "lmstudio"],
      ["http://localhost:8000/v1", "vllm"],
      ["http://gpu-box:8080/v1", "llamacpp"],
      ["http://localhost:9999/v1", "generic"],
      ["https://llm.example.com/v1", "generic"],
      // Look-alikes are not the provider.
      ["https://api.x.ai.example.com/v1", "generic"],
      ["https://notmoonshot.ai/v1", "generic"],
    ];
    for (const [url, name] of table) assert.equal(detectProvider(url), name, url);
  });

  it("local servers need no key wherever they run; hosted providers do", () => {
    for (const url of ["http://gpu-box:8000/v1", "http://lab:1234/v1", "http://lab:8080/v1"]) {
      assert.doesNotThrow(() => configFromEnv({ OPENAI_BASE_URL: url }), url);
    }
    for (const url of ["https://api.moonshot.ai/v1", "https://api.groq.com/openai/v1"]) {
      assert.throws(() => configFromEnv({ OPENAI_BASE_URL: url }), /OPENAI_API_KEY/, url);
    }
  });

  it("PROVIDER overrides what the URL says", () => {
    const env = { OPENAI_API_KEY: "k", OPENAI_BASE_URL: "https://api.openai.com/v1" };
    assert.equal(envProvider(configFromEnv(env)).profile.name, "openai");
    assert.equal(
      envProvider(configFromEnv({ ...env, PROVIDER: "mistral" })).profile.name,
      "mistral",
    );
    assert.throws(() => configFromEnv({ ...env, PROVIDER: "anthropic" }), /PROVIDER/);
  });

  it("builds the chat completions URL for each URL shape", () => {
    const table: [string, ProviderName, string | undefined, string][] = [
      [
        "https://api.openai.com/v1",
        "openai",
        undefined,
        "https://api.openai.com/v1/chat/completions",
      ],
      [
        "https://api.deepseek.com",
        "deepseek",
        undefined,
        "https://api.deepseek.com/chat/completions",
      ],
      ["http://h/v1/chat/completions", "generic", undefined, "http://h/v1/chat/completions"],
      [
        "https://r.openai.azure.com",
        "azure",
        "2024-10-21",
        "https://r.openai.azure.com/openai/deployments/m%201/chat/completions?api-version=2024-10-21",
      ],
      [
        "https://r.openai.azure.com/openai",
        "azure",
        "v",
        "https://r.openai.azure.com/openai/deployments/m%201/chat/completions?api-version=v",
      ],
      [
        "https://r.openai.azure.com/openai/deployments/dep",
        "azure",
        "v",
        "https://r.openai.azure.com/openai/deployments/dep/chat/completions?api-version=v",
      ],
      [
        "https://r.openai.azure.com/openai/deployments/dep?api-version=x",
        "azure",
        "v",
        "https://r.openai.azure.com/openai/deployments/dep/chat/completions?api-version=x",
      ],
      [
        "https://r.openai.azure.com/openai/v1",
        "azure",
        "2024-10-21",
        "https://r.openai.azure.com/openai/v1/chat/completions",
      ],
    ];
    for (const [base, name, version, expected] of table) {
      const profile = resolveProfile(name, base);
      assert.equal(
        chatCompletionsUrl({ baseUrl: base, azureApiVersion: version, profile }, "m 1"),
        expected,
        base,
      );
    }
  });

  it("lists Azure models at the resource, not under a deployment", () => {
    const azure = (baseUrl: string) =>
      modelsUrl({ baseUrl, profile: resolveProfile("azure", baseUrl), azureApiVersion: "v" });
    assert.equal(
      azure("https://r.openai.azure.com/openai/deployments/dep"),
      "https://r.openai.azure.com/openai/models?api-version=v",
    );
    assert.equal(
      azure("https://r.openai.azure.com/openai/v1"),
      "https://r.openai.azure.com/openai/v1/models",
    );
  });

  it("knows which models reason and which follow OpenAI's reasoning-model rules", () => {
    const table: [string, boolean, boolean][] = [
      // name, accepts a reasoning control, OpenAI reasoning-model rules
      ["gpt-4o", false, false],
      ["gpt-4.1-mini", false, false],
      ["gpt-5", true, true],
      ["gpt-5-mini", true, true],
      ["gpt-5-chat-latest", false, false],
      ["gpt-5.1", true, true],
      ["o3", true, true],
      ["o1-mini", false, true],
      ["openai/o4-mini", true, true],
      ["ft:gpt-4o-mini:acme::x", false, false],
      ["anthropic/claude-sonnet-4.5", true, false],
      ["anthropic/claude-3.5-haiku", false, false],
      ["deepseek-chat", false, false],
      ["deepseek-reasoner", true, false],
      ["deepseek-v4-flash", true, false],
      ["gemini-2.5-pro", true, false],
      ["gemini-2.0-flash", false, false],
      ["qwen3:8b", true, false],
      ["qwen3-coder:30b", false, false],
      ["qwen/qwen3-coder", false, false],
      ["qwen3:30b-a3b-instruct-2507-q4_K_M", false, false],
      ["qwen3:30b-a3b-thinking-2507-q4_K_M", true, false],
      ["deepseek-r1:14b", true, false],
      ["gpt-oss:20b", true, false],
      ["llama3.2:3b", false, false],
      ["mistral-large-latest", false, false],
    ];
    for (const [name, reasoning, openai] of table) {
      const info = modelInfo(name, NO_OVERRIDES);
      assert.equal(info.reasoning, reasoning, `${name} reasoning`);
      assert.equal(info.openaiReasoning, openai, `${name} OpenAI rules`);
    }
  });

  it("REASONING_MODELS and NON_REASONING_MODELS override the table", () => {
    assert.equal(
      modelInfo("my-deployment", { reasoningModels: ["My-Deployment"], nonReasoningModels: [] })
        .reasoning,
      true,
    );
    const o3 = modelInfo("o3", { reasoningModels: [], nonReasoningModels: ["o3"] });
    assert.equal(o3.reasoning, false, "no reasoning control");
    assert.equal(o3.openaiReasoning, true, "still max_completion_tokens");
  });

  it("maps the client's thinking settings to each provider's reasoning control", () => {
    type Case = [string, Record<string, unknown>, ProviderName, string, Record<string, unknown>];
    const table: Case[] = [
      ["absent", {}, "openai", "gpt-5", {}],
      ["disabled", { thinking: { type: "disabled" } }, "openai", "gpt-5", {}],
      [
        "disabled + effort",
        { thinking: { type: "disabled" }, output_config: { effort: "high" } },
        "openai",
        "gpt-5",
        {},
      ],
      ["budget 1024", { thinking: { type: "enabled", budget_tokens: 1_024 } }, "openai", "gpt-5", {
        reasoning_effort: "low",
      }],
      ["budget 4096", { thinking: { type: "enabled", budget_tokens: 4_096 } }, "openai", "gpt-5", {
        reasoning_effort: "low",
      }],
      ["budget 4097", { thinking: { type: "enabled", budget_tokens: 4_097 } }, "openai", "gpt-5", {
        reasoning_effort: "medium",
      }],
      [
        "budget 16385",
        { thinking: { type: "enabled", budget_tokens: 16_385 } },
        "openai",
        "gpt-5",
        { reasoning_effort: "high" },
      ],
      [
        "effort beats budget",
        { thinking: { type: "enabled", budget_tokens: 30_000 }, output_config: { effort: "low" } },
        "openai",
        "gpt-5",
        { reasoning_effort: "low" },
      ],
      ["adaptive, no effort", { thinking: { type: "adaptive" } }, "openai", "gpt-5", {
        reasoning_effort: "high",
      }],
      [
        "adaptive + medium",
        { thinking: { type: "adaptive" }, output_config: { effort: "medium" } },
        "openai",
        "gpt-5",
        { reasoning_effort: "medium" },
      ],
      [
        "adaptive + xhigh",
        { thinking: { type: "adaptive" }, output_config: { effort: "xhigh" } },
        "azure",
        "o3",
        { reasoning_effort: "high" },
      ],
      [
        "unknown effort",
        { thinking: { type: "adaptive" }, output_config: { effort: "ludicrous" } },
        "openai",
        "gpt-5",
        { reasoning_effort: "high" },
      ],
      [
        "non-reasoning model",
        { thinking: { type: "enabled", budget_tokens: 8_000 } },
        "openai",
        "gpt-4o",
        {},
      ],
      [
        "openrouter budget",
        { thinking: { type: "enabled", budget_tokens: 8_000 } },
        "openrouter",
        "anthropic/claude-opus-4.1",
        { reasoning: { max_tokens: 8_000 } },
      ],
      [
        "openrouter budget over max_tokens",
        { thinking: { type: "enabled", budget_tokens: 50_000 } },
        "openrouter",
        "anthropic/claude-opus-4.1",
        { reasoning: { max_tokens: 9_999 } },
      ],
      [
        "openrouter effort",
        { thinking: { type: "adaptive" }, output_config: { effort: "low" } },
        "openrouter",
        "openai/gpt-5",
        { reasoning: { effort: "low" } },
      ],
      [
        "deepseek on",
        { thinking: { type: "enabled", budget_tokens: 20_000 } },
        "deepseek",
        "deepseek-reasoner",
        { thinking: { type: "enabled" }, reasoning_effort: "high" },
      ],
      [
        "deepseek max",
        { thinking: { type: "adaptive" }, output_config: { effort: "max" } },
        "deepseek",
        "deepseek-v4-pro",
        { thinking: { type: "enabled" }, reasoning_effort: "max" },
      ],
      ["deepseek disabled", { thinking: { type: "disabled" } }, "deepseek", "deepseek-v4-pro", {
        thinking: { type: "disabled" },
      }],
      ["deepseek absent", {}, "deepseek", "deepseek-v4-pro", {}],
      [
        "gemini",
        { thinking: { type: "enabled", budget_tokens: 2_000 } },
        "gemini",
        "gemini-2.5-flash",
        { reasoning_effort: "low" },
      ],
      [
        "mistral",
        { thinking: { type: "enabled", budget_tokens: 2_000 } },
        "mistral",
        "magistral-medium-latest",
        {},
      ],
    ];
    for (const [name, req, provider, model, expected] of table) {
      const profile = resolveProfile(provider, "http://x");
      const ask = thinkingAsk(req as Parameters<typeof thinkingAsk>[0], DEFAULT_THRESHOLDS);
      assert.deepEqual(
        reasoningFields(ask, modelInfo(model, NO_OVERRIDES), profile, 10_000),
        expected,
        name,
      );
    }
  });

  it("merges streamed reasoning_details the way OpenRouter's own SDK does", () => {
    const collected: unknown[] = [];
    mergeReasoningDetails(collected, [{
      type: "reasoning.text",
      text: "Let ",
      signature: null,
      index: 0,
      format: "f",
    }]);
    mergeReasoningDetails(collected, [{ type: "reasoning.text", text: "me think.", index: 0 }]);
    mergeReasoningDetails(collected, [{
      type: "reasoning.text",
      text: "",
      signature: "S",
      index: 0,
    }]);
    mergeReasoningDetails(collected, [{ type: "reasoning.encrypted", data: "E", index: 1 }]);
    mergeReasoningDetails(collected, [{ type: "reasoning.text", text: "Again.", index: 2 }]);
    assert.deepEqual(collected, [
      { type: "reasoning.text", text: "Let me think.", signature: "S", index: 0, format: "f" },
      { type: "reasoning.encrypted", data: "E", index: 1 },
      { type: "reasoning.text", text: "Again.", index: 2 },
    ]);
    // OpenAI models behind OpenRouter stream their summary a few words at a time.
    const summary: unknown[] = [];
    const piece = (text: string) => ({
      type: "reasoning.summary",
      summary: text,
      format: "openai-responses-v1",
      index: 0,
    });
    for (const text of ["**Fetching", " weather", " info**"]) {
      mergeReasoningDetails(summary, [piece(text)]);
    }
    mergeReasoningDetails(summary, [{ type: "reasoning.encrypted", data: "gAAA", index: 0 }]);
    assert.deepEqual(summary, [
      piece("**Fetching weather info**"),
      { type: "reasoning.encrypted", data: "gAAA", index: 0 },
    ]);
  });
});
