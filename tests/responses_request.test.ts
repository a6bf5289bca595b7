/**
 * Anthropic Messages request → Responses API request (pure), the Azure and OpenAI addresses,
 * and the `auto` choice of protocol.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MessagesRequest } from "../lib/anthropic/schema.ts";
import { helpText, parseArgs } from "../lib/cli/args.ts";
import { encodeSignature } from "../lib/anthropic/signature.ts";
import { configFromEnv } from "../lib/ops/config.ts";
import { envProvider } from "../lib/routing/env_provider.ts";
import {
  asksForResponsesApi,
  chooseApi,
  knownResponsesOnly,
  ResponsesModels,
} from "../lib/upstreams/api_choice.ts";
import { modelInfo } from "../lib/upstreams/model_info.ts";
import { resolveProfile } from "../lib/upstreams/openai/profiles.ts";
import { responsesEndpoint } from "../lib/upstreams/responses/endpoint.ts";
import { convertRequest } from "../lib/upstreams/responses/request.ts";

const openai = resolveProfile("openai", "https://api.openai.com/v1");
const NO_OVERRIDES = { reasoningModels: [], nonReasoningModels: [] };

function convert(raw: Record<string, unknown>, model = "gpt-5-codex", sessionId?: string) {
  const req = MessagesRequest.parse({
    model: "claude-sonnet-4-6",
    max_tokens: 1024,
    messages: [{ role: "user", content: "Hi" }],
    ...raw,
  });
  return convertRequest(req, {
    upstreamModel: model,
    info: modelInfo(model, NO_OVERRIDES),
    profile: openai,
    upstreamTag: "tag-1",
    sessionId,
  });
}

const ours = (content: string, upstream = "tag-1") =>
  encodeSignature({ encrypted_reasoning: { content, upstream } });

describe("Messages → Responses request", () => {
  it("system → instructions (billing line left out); store false; encrypted reasoning asked", () => {
    const { body } = convert({
      thinking: { type: "adaptive" },
      system: [
        { type: "text", text: "x-anthropic-billing-header: cc_version=2" },
        { type: "text", text: "You are Claude Code." },
        { type: "text", text: "Be brief." },
      ],
    });
    assert.equal(body.instructions, "You are Claude Code.\n\nBe brief.");
    assert.equal(body.store, false);
    assert.deepEqual(body.include, ["reasoning.encrypted_content"]);
    assert.deepEqual(body.input, [{
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "Hi" }],
    }]);
    assert.equal(body.model, "gpt-5-codex");
  });

  it("a tool loop: function_call items, outputs right after, tool-result images as input_image", () => {
    const { body } = convert({
      messages: [
        { role: "user", content: "Read two files" },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Reading both." },
            { type: "tool_use", id: "call_1", name: "Read", input: { file_path: "a" } },
            { type: "tool_use", id: "call_2", name: "Read", input: { file_path: "b" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "call_1", content: "A" },
            {
              type: "tool_result",
              tool_use_id: "call_2",
              content: [
                { type: "text", text: "B" },
                {
                  type: "image",
                  source: { type: "base64", media_type: "image/png", data: "iVBO" },
                },
              ],
              is_error: false,
            },
            { type: "text", text: "Now compare." },
          ],
        },
      ],
    });
    assert.deepEqual(body.input, [
      { type: "message", role: "user", content: [{ type: "input_text", text: "Read two files" }] },
      { type: "message", role: "assistant", content: "Reading both." },
      { type: "function_call", call_id: "call_1", name: "Read", arguments: '{"file_path":"a"}' },
      { type: "function_call", call_id: "call_2", name: "Read", arguments: '{"file_path":"b"}' },
      { type: "function_call_output", call_id: "call_1", output: "A" },
      {
        type: "function_call_output",
        call_id: "call_2",
        output: "B\n[image attached in the next message]",
      },
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: "Images returned by tool call call_2:" },
          { type: "input_image", image_url: "data:image/png;base64,iVBO", detail: "auto" },
          { type: "input_text", text: "Now compare." },
        ],
      },
    ]);
  });

  it("a call id used twice in an edited history is made unique, its output following it", () => {
    const call = { type: "tool_use", id: "call_5", name: "Read", input: {} };
    const result = { type: "tool_result", tool_use_id: "call_5", content: "r" };
    const { body } = convert({
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: [call] },
        { role: "user", content: [result] },
        { role: "assistant", content: [call, { ...call, id: "call_5" }] },
        { role: "user", content: [result] },
      ],
    });
    assert.deepEqual(
      body.input.filter((i) => i.type !== "message").map((
        i,
      ) => [i.type, "call_id" in i && i.call_id]),
      [
        ["function_call", "call_5"],
        ["function_call_output", "call_5"],
        ["function_call", "call_5_2"],
        ["function_call", "call_5_3"],
        ["function_call_output", "call_5_2"],
        ["function_call_output", "call_5_3"],
      ],
    );
  });

  it("a call left without a result gets an output saying so", () => {
    const { body } = convert({
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: [{ type: "tool_use", id: "c1", name: "Bash", input: {} }] },
        { role: "user", content: "never mind" },
      ],
    });
    assert.deepEqual(body.input[2], {
      type: "function_call_output",
      call_id: "c1",
      output: "(no result: the tool call was interrupted)",
    });
  });

  it("user images by URL and data URL; PDFs as input_file", () => {
    const { body } = convert({
      messages: [{
        role: "user",
        content: [
          { type: "image", source: { type: "url", url: "https://example.com/a.png" } },
          {
            type: "document",
            title: "spec.pdf",
            source: { type: "base64", media_type: "application/pdf", data: "JVBE" },
          },
        ],
      }],
    });
    assert.deepEqual(body.input[0], {
      type: "message",
      role: "user",
      content: [
        { type: "input_image", image_url: "https://example.com/a.png", detail: "auto" },
        { type: "input_file", filename: "spec.pdf", file_data: "data:application/pdf;base64,JVBE" },
      ],
    });
  });

  it("thinking with this upstream's signature → its reasoning item; any other thinking dropped", () => {
    const converted = convert({
      messages: [
        { role: "user", content: "q" },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Mine.", signature: ours("enc-A") },
            { type: "thinking", thinking: "Other upstream.", signature: ours("enc-B", "tag-2") },
            { type: "thinking", thinking: "Anthropic's.", signature: "EqQBCkYIBxgCKkBreal" },
            { type: "redacted_thinking", data: "xyz" },
            { type: "text", text: "Answer." },
          ],
        },
        { role: "user", content: "more" },
      ],
    });
    assert.deepEqual(converted.body.input.slice(1, 3), [
      {
        type: "reasoning",
        summary: [{ type: "summary_text", text: "Mine." }],
        encrypted_content: "enc-A",
      },
      { type: "message", role: "assistant", content: "Answer." },
    ]);
    assert.ok(!JSON.stringify(converted.body).includes("Other upstream."));
    assert.ok(!JSON.stringify(converted.body).includes("Anthropic's."));
    assert.ok(converted.dropped.includes("assistant:thinking"));
  });

  it("tools: parameters from input_schema, strict only where the schema fits strict mode", () => {
    const strictSchema = {
      type: "object",
      properties: { a: { type: "string" } },
      required: ["a"],
      additionalProperties: false,
    };
    const looseSchema = { type: "object", properties: { a: { type: "string" } } };
    const { body, dropped } = convert({
      tools: [
        { name: "Strict", description: "s", input_schema: strictSchema },
        { name: "Loose", input_schema: looseSchema },
        { type: "web_search_20250305", name: "web_search" },
      ],
      tool_choice: { type: "tool", name: "Loose", disable_parallel_tool_use: true },
    });
    assert.deepEqual(body.tools, [
      {
        type: "function",
        name: "Strict",
        description: "s",
        parameters: strictSchema,
        strict: true,
      },
      { type: "function", name: "Loose", parameters: looseSchema, strict: false },
    ]);
    assert.deepEqual(body.tool_choice, { type: "function", name: "Loose" });
    assert.equal(body.parallel_tool_calls, false);
    assert.ok(dropped.includes("tool:web_search_20250305"));
  });

  for (
    const [choice, expected] of [
      [{ type: "auto" }, "auto"],
      [{ type: "any" }, "required"],
      [{ type: "none" }, "none"],
      [{ type: "tool", name: "web_search" }, "auto"],
    ] as const
  ) {
    it(`tool_choice ${JSON.stringify(choice)} → ${JSON.stringify(expected)}`, () => {
      const { body } = convert({
        tools: [{ name: "Read", input_schema: { type: "object" } }],
        tool_choice: choice,
      });
      assert.deepEqual(body.tool_choice, expected);
    });
  }

  it("max_tokens → max_output_tokens, clamped to the model and to the API's minimum of 16", () => {
    assert.equal(convert({ max_tokens: 500_000 }).body.max_output_tokens, 128_000);
    assert.equal(convert({ max_tokens: 1 }).body.max_output_tokens, 16);
  });

  it("thinking → reasoning effort with a summary; sampling dropped for reasoning models", () => {
    const { body } = convert({
      thinking: { type: "enabled", budget_tokens: 2_000 },
      temperature: 0.2,
      top_p: 0.9,
      stop_sequences: ["END"],
    });
    assert.deepEqual(body.reasoning, { effort: "low", summary: "auto" });
    assert.equal(body.temperature, undefined);
    assert.equal(body.top_p, undefined);
    const adaptive = convert({ thinking: { type: "adaptive" }, output_config: { effort: "max" } });
    assert.deepEqual(adaptive.body.reasoning, { effort: "high", summary: "auto" });
    const pro = convert(
      { thinking: { type: "adaptive" }, output_config: { effort: "low" } },
      "gpt-5-pro",
    );
    assert.deepEqual(pro.body.reasoning, { effort: "high", summary: "auto" });
  });

  it("thinking not asked for: no reasoning fields, so no thinking blocks come back", () => {
    for (const thinking of [undefined, { type: "disabled" }]) {
      const converted = convert(thinking ? { thinking } : {});
      assert.equal(converted.body.reasoning, undefined);
      assert.equal(converted.body.include, undefined);
      assert.equal(converted.thinking, false);
    }
  });

  it("a model that does not reason gets no reasoning fields, and keeps its sampling", () => {
    const { body } = convert({ thinking: { type: "adaptive" }, temperature: 0.3 }, "gpt-4.1");
    assert.equal(body.reasoning, undefined);
    assert.equal(body.include, undefined);
    assert.equal(body.temperature, 0.3);
  });

  it("output_config.format → text.format json_schema", () => {
    const schema = {
      type: "object",
      properties: { title: { type: "string" } },
      required: ["title"],
      additionalProperties: false,
    };
    const { body } = convert({ output_config: { format: { type: "json_schema", schema } } });
    assert.deepEqual(body.text, {
      format: { type: "json_schema", name: "output", schema, strict: true },
    });
  });

  it("metadata.user_id → a short stable safety_identifier; the session id → prompt_cache_key", () => {
    const userId = JSON.stringify({ device_id: "d".repeat(64), session_id: "s" });
    const a = convert({ metadata: { user_id: userId } }, "gpt-5-codex", "480e4ae4-cbda-420f");
    const b = convert({ metadata: { user_id: userId } }, "gpt-5-codex", "480e4ae4-cbda-420f");
    assert.match(a.body.safety_identifier ?? "", /^u_[0-9a-z]+$/);
    assert.ok(a.body.safety_identifier!.length <= 64);
    assert.equal(a.body.safety_identifier, b.body.safety_identifier);
    assert.equal(a.body.prompt_cache_key, "480e4ae4-cbda-420f");
    assert.ok(!JSON.stringify(a.body).includes("d".repeat(64)));
  });
});

describe("Responses API address", () => {
  const azure = (baseUrl: string, azureApiVersion?: string) => ({
    baseUrl,
    profile: resolveProfile("azure", baseUrl),
    azureApiVersion,
  });
  const cases: [string, ReturnType<typeof azure>, string, { url: string; model: string }][] = [
    [
      "OpenAI",
      { baseUrl: "https://api.openai.com/v1", profile: openai, azureApiVersion: undefined },
      "gpt-5-codex",
      { url: "https://api.openai.com/v1/responses", model: "gpt-5-codex" },
    ],
    [
      "a pasted /chat/completions",
      {
        baseUrl: "http://127.0.0.1:8000/v1/chat/completions",
        profile: resolveProfile("generic", ""),
        azureApiVersion: undefined,
      },
      "m",
      { url: "http://127.0.0.1:8000/v1/responses", model: "m" },
    ],
    [
      "Azure v1",
      azure("https://r.openai.azure.com/openai/v1"),
      "codex-deploy",
      { url: "https://r.openai.azure.com/openai/v1/responses", model: "codex-deploy" },
    ],
    [
      "Azure resource root, no version set: the v1 API",
      azure("https://r.openai.azure.com"),
      "gpt-5-codex",
      { url: "https://r.openai.azure.com/openai/v1/responses", model: "gpt-5-codex" },
    ],
    [
      "Azure deployment URL: the deployment becomes the model",
      azure("https://r.openai.azure.com/openai/deployments/my-codex"),
      "ignored",
      { url: "https://r.openai.azure.com/openai/v1/responses", model: "my-codex" },
    ],
    [
      "Azure with a version from before the Responses API: the v1 API",
      azure("https://r.openai.azure.com/openai/deployments/d", "2024-10-21"),
      "x",
      { url: "https://r.openai.azure.com/openai/v1/responses", model: "d" },
    ],
    [
      "Azure with a version that serves it: the dated form",
      azure("https://r.openai.azure.com/openai/deployments/d", "2025-04-01-preview"),
      "x",
      {
        url: "https://r.openai.azure.com/openai/responses?api-version=2025-04-01-preview",
        model: "d",
      },
    ],
    [
      "Azure v1 stays on v1 whatever dated version is set",
      azure("https://r.openai.azure.com/openai/v1", "2025-04-01-preview"),
      "x",
      { url: "https://r.openai.azure.com/openai/v1/responses", model: "x" },
    ],
    [
      "Azure v1 with an undated version",
      azure("https://r.openai.azure.com/openai/v1?api-version=preview"),
      "x",
      { url: "https://r.openai.azure.com/openai/v1/responses?api-version=preview", model: "x" },
    ],
  ];
  for (const [name, endpoint, model, expected] of cases) {
    it(name, () => assert.deepEqual(responsesEndpoint(endpoint, model), expected));
  }
});

describe("auto: which protocol", () => {
  const provider = (env: Record<string, string>) =>
    envProvider(configFromEnv({ OPENAI_API_KEY: "k", ...env }));

  it("OPENAI_API defaults to auto", () => assert.equal(provider({}).api, "auto"));

  it("Responses-only models of the table go to Responses on OpenAI and Azure, only there", () => {
    const remembered = new ResponsesModels();
    const onOpenAI = provider({});
    const onAzure = provider({ OPENAI_BASE_URL: "https://r.openai.azure.com/openai/v1" });
    const onRouter = provider({ OPENAI_BASE_URL: "https://openrouter.ai/api/v1" });
    for (
      const model of [
        "gpt-5-codex",
        "gpt-5.1-codex-max",
        "codex-mini-latest",
        "o3-pro",
        "gpt-5-pro",
        "gpt-5.2-pro",
      ]
    ) {
      assert.ok(knownResponsesOnly(onOpenAI, model), model);
      assert.equal(chooseApi(onOpenAI, model, remembered), "responses", model);
      assert.equal(chooseApi(onAzure, model, remembered), "responses", model);
    }
    assert.equal(chooseApi(onRouter, "openai/gpt-5-codex", remembered), "chat");
    for (const model of ["gpt-5", "gpt-5.1", "gpt-4o", "o3", "o4-mini", "gpt-5-chat-latest"]) {
      assert.equal(chooseApi(onOpenAI, model, remembered), "chat", model);
    }
  });

  it("--api sets OPENAI_API, and --help lists it", () => {
    const parsed = parseArgs(["--api", "responses"]);
    assert.equal(parsed.kind, "run");
    assert.equal(parsed.kind === "run" ? parsed.overrides.OPENAI_API : "", "responses");
    assert.match(helpText("0"), /--api API\s+OPENAI_API\s+chat\|responses\|auto/);
  });

  it("OPENAI_API=chat and =responses are taken as they are", () => {
    const remembered = new ResponsesModels();
    assert.equal(chooseApi(provider({ OPENAI_API: "chat" }), "gpt-5-codex", remembered), "chat");
    assert.equal(
      chooseApi(provider({ OPENAI_API: "Responses" }), "gpt-4o", remembered),
      "responses",
    );
    assert.throws(() => provider({ OPENAI_API: "completions" }), /OPENAI_API/);
  });

  it("a remembered model goes to Responses; the memory is bounded", () => {
    const remembered = new ResponsesModels(3);
    const p = provider({ OPENAI_BASE_URL: "http://127.0.0.1:1/v1" });
    assert.equal(chooseApi(p, "my-model", remembered), "chat");
    remembered.remember(p, "my-model");
    assert.equal(chooseApi(p, "my-model", remembered), "responses");
    for (const m of ["a", "b", "c"]) remembered.remember(p, m);
    assert.equal(remembered.size, 3);
    assert.equal(chooseApi(p, "my-model", remembered), "chat", "the oldest was forgotten");
  });

  it("the upstream wordings that ask for the Responses API", () => {
    const openaiBody = JSON.stringify({
      error: {
        message: "This model is only supported in v1/responses and not in v1/chat/completions.",
        type: "invalid_request_error",
        param: "model",
        code: null,
      },
    });
    const azureBody = JSON.stringify({
      error: {
        code: "OperationNotSupported",
        message: "The chatCompletion operation does not work with the specified model, " +
          "gpt-5-codex. Please choose different model and try again. You can learn more about " +
          "which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.",
      },
    });
    assert.ok(asksForResponsesApi(404, openaiBody));
    assert.ok(asksForResponsesApi(400, openaiBody));
    assert.ok(asksForResponsesApi(400, azureBody));
    const gateway = JSON.stringify({
      error: {
        type: "invalid_request_error",
        message: "Unsupported legacy protocol: /v1/chat/completions is not supported. " +
          "Please use /v1/responses.",
      },
    });
    assert.ok(asksForResponsesApi(400, gateway));
    assert.ok(!asksForResponsesApi(500, openaiBody));
    assert.ok(!asksForResponsesApi(400, '{"error":{"message":"Unsupported parameter: stop"}}'));
    assert.ok(!asksForResponsesApi(404, '{"error":{"message":"The model `x` does not exist"}}'));
  });
});
