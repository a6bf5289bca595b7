/**
 * Property: every valid Anthropic Messages request converts to an OpenAI Chat Completions
 * request that the Chat Completions API would accept, for every provider profile and model
 * family. The OpenAI side is a zod schema written here from the API reference
 * (https://platform.openai.com/docs/api-reference/chat/create), independent of lib/, plus the
 * cross-field rules a schema cannot say (tool messages answer the assistant's tool_calls, …).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "zod";
import { MessagesRequest } from "../lib/anthropic/schema.ts";
import { convertRequest } from "../lib/upstreams/chat/request.ts";
import { modelInfo } from "../lib/upstreams/model_info.ts";
import {
  type ProviderName,
  resolveProfile,
  usesOpenAIReasoningRules,
} from "../lib/upstreams/openai/profiles.ts";

const RUNS = 4_000;

// ---------------------------------------------------------------------------------------------
// The OpenAI request, as the API reference describes it.

const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const JsonObjectString = z.string().refine((s) => {
  try {
    const v: unknown = JSON.parse(s);
    return v !== null && typeof v === "object" && !Array.isArray(v);
  } catch {
    return false;
  }
}, "arguments must be a JSON object in a string");

const TextPart = z.strictObject({ type: z.literal("text"), text: z.string() });
const ImagePart = z.strictObject({
  type: z.literal("image_url"),
  image_url: z.strictObject({
    url: z.string().regex(/^(https?:\/\/\S+|data:[\w.+-]+\/[\w.+-]+;base64,[A-Za-z0-9+/=]*)$/),
    detail: z.enum(["auto", "low", "high"]).optional(),
  }),
});
const FilePart = z.strictObject({
  type: z.literal("file"),
  file: z.strictObject({ filename: z.string().min(1), file_data: z.string().startsWith("data:") }),
});

const ToolCall = z.strictObject({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.strictObject({ name: z.string().regex(FUNCTION_NAME), arguments: JsonObjectString }),
  extra_content: z.unknown().optional(),
});

const SystemMessage = z.strictObject({ role: z.literal("system"), content: z.string().min(1) });
const UserMessage = z.strictObject({
  role: z.literal("user"),
  content: z.union([z.string(), z.array(z.union([TextPart, ImagePart, FilePart])).min(1)]),
});
const AssistantMessage = z.strictObject({
  role: z.literal("assistant"),
  content: z.string().nullable(),
  tool_calls: z.array(ToolCall).min(1).optional(),
  // Provider extensions (DeepSeek, OpenRouter) the profiles opt into.
  reasoning_content: z.string().optional(),
  reasoning_details: z.array(z.unknown()).optional(),
}).refine(
  (m) => m.content !== null || m.tool_calls !== undefined,
  "assistant needs content or tool_calls",
);
const ToolMessage = z.strictObject({
  role: z.literal("tool"),
  tool_call_id: z.string().min(1),
  content: z.string().min(1),
});

const Message = z.union([SystemMessage, UserMessage, AssistantMessage, ToolMessage]);

const FunctionTool = z.strictObject({
  type: z.literal("function"),
  function: z.strictObject({
    name: z.string().regex(FUNCTION_NAME),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()),
    strict: z.boolean().optional(),
  }),
});

const OpenAIChatRequest = z.strictObject({
  model: z.string().min(1),
  messages: z.array(Message).min(1),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  stop: z.array(z.string().min(1)).min(1).max(4).optional(),
  stream: z.literal(true).optional(),
  stream_options: z.strictObject({ include_usage: z.boolean() }).optional(),
  tools: z.array(FunctionTool).min(1).max(128).optional(),
  tool_choice: z.union([
    z.enum(["auto", "required", "none"]),
    z.strictObject({ type: z.literal("function"), function: z.strictObject({ name: z.string() }) }),
  ]).optional(),
  parallel_tool_calls: z.boolean().optional(),
  user: z.string().min(1).max(64).optional(),
  response_format: z.union([
    z.strictObject({ type: z.literal("json_object") }),
    z.strictObject({
      type: z.literal("json_schema"),
      json_schema: z.strictObject({
        name: z.string().regex(FUNCTION_NAME),
        schema: z.record(z.string(), z.unknown()),
        strict: z.boolean().optional(),
      }),
    }),
  ]).optional(),
  reasoning_effort: z.enum(["none", "minimal", "low", "medium", "high", "max"]).optional(),
  // OpenRouter's and DeepSeek's reasoning controls.
  reasoning: z.strictObject({
    effort: z.string().optional(),
    max_tokens: z.number().int().positive().optional(),
  })
    .optional(),
  thinking: z.strictObject({ type: z.enum(["enabled", "disabled"]) }).optional(),
});
type OpenAIChatRequest = z.infer<typeof OpenAIChatRequest>;

/** The rules between fields and between messages. Returns the first broken one. */
function crossFieldProblem(
  body: OpenAIChatRequest,
  ctx: { shortIds: boolean; openaiReasoning: boolean },
): string | undefined {
  if ((body.max_tokens === undefined) === (body.max_completion_tokens === undefined)) {
    return "exactly one of max_tokens / max_completion_tokens";
  }
  if (body.stream_options && !body.stream) return "stream_options without stream";
  if (!body.tools && (body.tool_choice !== undefined || body.parallel_tool_calls !== undefined)) {
    return "tool_choice / parallel_tool_calls without tools";
  }
  if (body.tools) {
    const names = body.tools.map((t) => t.function.name);
    if (new Set(names).size !== names.length) return `duplicate tool names ${names}`;
    const choice = body.tool_choice;
    if (choice && typeof choice === "object" && !names.includes(choice.function.name)) {
      return `tool_choice names ${choice.function.name}, not among the tools ${names}`;
    }
  }
  if (
    ctx.openaiReasoning &&
    (body.stop || body.temperature !== undefined && body.reasoning_effort !== undefined)
  ) {
    return "sampling parameters / stop on a reasoning model";
  }
  // Every assistant tool call is answered by tool messages right after it, once each, and every
  // tool message answers a call of the assistant message before it.
  let pending: string[] = [];
  for (const [i, m] of body.messages.entries()) {
    if (
      m.role === "system" && i > 0 && body.messages[i - 1]!.role === "assistant" && pending.length
    ) {
      return `system message at ${i} between tool calls and their results`;
    }
    if (m.role === "tool") {
      const at = pending.indexOf(m.tool_call_id);
      if (at < 0) {
        return `tool message ${i} answers ${m.tool_call_id}, which no preceding assistant call has open`;
      }
      pending.splice(at, 1);
      continue;
    }
    if (pending.length > 0) {
      return `tool calls ${pending} not answered before message ${i} (${m.role})`;
    }
    if (m.role === "assistant" && m.tool_calls) {
      const ids = m.tool_calls.map((c) => c.id);
      if (new Set(ids).size !== ids.length) return `duplicate tool call ids in message ${i}`;
      if (ctx.shortIds && !ids.every((id) => /^[A-Za-z0-9]{9}$/.test(id))) {
        return `Mistral tool ids: ${ids}`;
      }
      pending = ids;
    }
  }
  if (pending.length > 0) return `tool calls ${pending} never answered`;
  if (ctx.shortIds) {
    for (const m of body.messages) {
      if (m.role === "tool" && !/^[A-Za-z0-9]{9}$/.test(m.tool_call_id)) {
        return `Mistral tool id ${m.tool_call_id}`;
      }
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Valid Anthropic requests (https://docs.anthropic.com/en/api/messages).

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "x-anthropic-billing-header: cc_version=1",
      "héllo 👋 世界",
      " ",
      "\n",
    ),
  },
);
const toolNameChars = fc.constantFrom(
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-".split(""),
);
const toolName = fc.oneof(
  fc.string({ unit: toolNameChars, minLength: 1, maxLength: 20 }),
  // MCP tools: longer than OpenAI's 64 characters.
  fc.string({ unit: toolNameChars, minLength: 1, maxLength: 60 }).map((s) =>
    `mcp__some_server_with_a_long_name__${s}`
  ),
);
const jsonObject = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), {
  maxKeys: 4,
});
const schemaLeaf = fc.constantFrom(
  { type: "string" },
  { type: "number", minimum: 0 },
  { type: "boolean" },
  {
    type: "string",
    enum: ["a", "b"],
  },
  { const: 3 },
  { type: "string", format: "uri" },
);
const inputSchema = fc.letrec((tie) => ({
  schema: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    schemaLeaf,
    fc.record({
      type: fc.constant("object"),
      properties: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), tie("schema"), {
        maxKeys: 3,
      }),
      required: fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }),
      additionalProperties: fc.boolean(),
    }, { requiredKeys: ["type", "properties"] }),
    fc.record({ type: fc.constant("array"), items: tie("schema") }),
  ),
})).schema.map((s) => ({
  type: "object",
  properties: { root: s },
  $schema: "http://json-schema.org/draft-07/schema#",
}));

const base64 = fc.base64String({ maxLength: 24 });
const imageSource = fc.oneof(
  fc.record({
    type: fc.constant("base64"),
    media_type: fc.constantFrom("image/png", "image/jpeg", "image/webp"),
    data: base64,
  }),
  fc.record({ type: fc.constant("url"), url: fc.webUrl() }),
  fc.record({ type: fc.constant("file"), file_id: fc.string({ minLength: 1, maxLength: 10 }) }),
);
const imageBlock = fc.record({ type: fc.constant("image"), source: imageSource });
const documentBlock = fc.record({
  type: fc.constant("document"),
  source: fc.oneof(
    fc.record({ type: fc.constant("text"), media_type: fc.constant("text/plain"), data: text }),
    fc.record({
      type: fc.constant("base64"),
      media_type: fc.constantFrom("application/pdf", "text/plain", "image/png"),
      data: base64,
    }),
    fc.record({ type: fc.constant("url"), url: fc.webUrl() }),
    fc.record({
      type: fc.constant("content"),
      content: fc.oneof(
        text,
        fc.array(fc.record({ type: fc.constant("text"), text }), { maxLength: 2 }),
      ),
    }),
  ),
  title: fc.option(text, { nil: undefined }),
}, { requiredKeys: ["type", "source"] });
const textBlock = fc.record({
  type: fc.constant("text"),
  text,
  cache_control: fc.constant({ type: "ephemeral" }),
}, {
  requiredKeys: ["type", "text"],
});
const searchResult = fc.record({
  type: fc.constant("search_result"),
  source: fc.webUrl(),
  title: text,
  content: fc.array(fc.record({ type: fc.constant("text"), text }), { minLength: 1, maxLength: 2 }),
});
const unknownBlock = fc.record({
  type: fc.constantFrom("server_tool_use", "web_search_tool_result", "container_upload"),
  id: fc.string(),
});
const userBlock = fc.oneof(
  { weight: 6, arbitrary: textBlock },
  { weight: 2, arbitrary: imageBlock },
  { weight: 1, arbitrary: documentBlock },
  { weight: 1, arbitrary: searchResult },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("tool_reference"),
      tool_name: fc.string({ minLength: 1 }),
    }),
  },
  { weight: 1, arbitrary: unknownBlock },
);
const thinkingBlock = fc.oneof(
  fc.record({
    type: fc.constant("thinking"),
    thinking: text,
    signature: fc.option(fc.string(), { nil: undefined }),
  }, {
    requiredKeys: ["type", "thinking"],
  }),
  fc.record({ type: fc.constant("redacted_thinking"), data: fc.string() }),
);

type Turn = { role: string; content: unknown };

/**
 * A conversation: user turns, assistant turns that may call tools, user turns that answer them
 * (all, some, none, or with ids that match nothing, as after compaction).
 */
const conversation = fc.record({
  turns: fc.array(
    fc.record({
      userContent: fc.oneof(text, fc.array(userBlock, { minLength: 1, maxLength: 3 })),
      assistant: fc.option(
        fc.record({
          thinking: fc.array(thinkingBlock, { maxLength: 2 }),
          texts: fc.array(textBlock, { maxLength: 2 }),
          calls: fc.array(fc.record({ name: toolName, input: jsonObject, gemini: fc.boolean() }), {
            maxLength: 3,
          }),
          answered: fc.constantFrom("all", "some", "none", "orphan"),
          resultContent: fc.oneof(
            text,
            fc.array(fc.oneof(textBlock, imageBlock, documentBlock, unknownBlock), {
              minLength: 1,
              maxLength: 3,
            }),
            fc.constant(undefined),
          ),
          isError: fc.boolean(),
          asString: fc.boolean(),
        }),
        { nil: undefined },
      ),
      systemAfter: fc.option(text, { freq: 8, nil: undefined }),
      systemAfterAssistant: fc.option(text, { freq: 8, nil: undefined }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  trailingAssistantPrefill: fc.option(text, { freq: 5, nil: undefined }),
}).map(({ turns, trailingAssistantPrefill }) => {
  const messages: Turn[] = [];
  let id = 0;
  let pendingResults: unknown[] = [];
  for (const turn of turns) {
    const userBlocks: unknown[] = [...pendingResults];
    pendingResults = [];
    if (typeof turn.userContent === "string" && userBlocks.length === 0) {
      messages.push({ role: "user", content: turn.userContent });
    } else {
      const extra = typeof turn.userContent === "string"
        ? [{ type: "text", text: turn.userContent }]
        : turn.userContent;
      messages.push({ role: "user", content: [...userBlocks, ...extra] });
    }
    if (turn.systemAfter !== undefined) {
      messages.push({ role: "system", content: turn.systemAfter });
    }
    const a = turn.assistant;
    if (!a) continue;
    const calls = a.calls.map((c) => {
      const callId = `toolu_${String(id++).padStart(4, "0")}${
        c.gemini ? "__xeyJ0aG91Z2h0X3NpZ25hdHVyZSI6InNpZyJ9" : ""
      }`;
      return { type: "tool_use", id: callId, name: c.name, input: c.input };
    });
    const content = [...a.thinking, ...a.texts, ...calls];
    if (content.length === 0 && a.asString) messages.push({ role: "assistant", content: "ok" });
    else if (content.length > 0) messages.push({ role: "assistant", content });
    // Claude Code's mid-conversation system reminders can land between a call and its result.
    if (turn.systemAfterAssistant !== undefined) {
      messages.push({ role: "system", content: turn.systemAfterAssistant });
    }
    const answered = a.answered === "all"
      ? calls
      : a.answered === "some"
      ? calls.slice(0, 1)
      : a.answered === "orphan"
      ? [{ id: "toolu_gone" }]
      : [];
    pendingResults = answered.map((c) => ({
      type: "tool_result",
      tool_use_id: c.id,
      ...(a.resultContent === undefined ? {} : { content: a.resultContent }),
      is_error: a.isError,
    }));
  }
  if (pendingResults.length > 0) messages.push({ role: "user", content: pendingResults });
  if (trailingAssistantPrefill !== undefined) {
    messages.push({ role: "assistant", content: trailingAssistantPrefill });
  }
  return messages;
});

const tools = fc.array(
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        name: toolName,
        description: fc.option(text, { nil: undefined }),
        input_schema: inputSchema,
      }, { requiredKeys: ["name", "input_schema"] }),
    },
    {
      weight: 1,
      arbitrary: fc.constant({ type: "web_search_20250305", name: "web_search", max_uses: 3 }),
    },
  ),
  { maxLength: 5 },
).map((list) => {
  // Tool names are unique within a request (the API rejects duplicates).
  const seen = new Set<string>();
  return list.filter((t) => !seen.has(t.name) && seen.add(t.name));
});

const anthropicRequest = fc.record({
  model: fc.constantFrom(
    "claude-sonnet-4-6",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "gpt-4o",
    "o3-mini",
    "gpt-5.1",
    "deepseek-reasoner",
    "gemini-2.5-pro",
    "mistral-large-latest",
    "qwen3-coder",
    "my-local-model",
  ),
  max_tokens: fc.integer({ min: 1, max: 100_000_000 }),
  messages: conversation,
  system: fc.option(
    fc.oneof(
      text,
      fc.array(
        fc.oneof(
          textBlock,
          fc.constant({ type: "text", text: "x-anthropic-billing-header: cc=1" }),
        ),
        { maxLength: 3 },
      ),
    ),
    { nil: undefined },
  ),
  stop_sequences: fc.option(fc.array(fc.string({ minLength: 1, maxLength: 5 }), { maxLength: 8 }), {
    nil: undefined,
  }),
  stream: fc.option(fc.boolean(), { nil: undefined }),
  temperature: fc.option(fc.double({ min: 0, max: 2, noNaN: true }), { nil: undefined }),
  top_p: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  top_k: fc.option(fc.nat(500), { nil: undefined }),
  metadata: fc.option(
    fc.record({ user_id: fc.option(fc.string({ maxLength: 200 }), { nil: null }) }),
    { nil: undefined },
  ),
  tools,
  tool_choice: fc.option(
    fc.record({
      type: fc.constantFrom("auto", "any", "tool", "none"),
      disable_parallel_tool_use: fc.boolean(),
      pick: fc.nat(),
    }),
    { nil: undefined },
  ),
  thinking: fc.option(
    fc.oneof(
      fc.record({
        type: fc.constant("enabled"),
        budget_tokens: fc.integer({ min: 1024, max: 64_000 }),
      }),
      fc.constant({ type: "disabled" }),
      fc.constant({ type: "adaptive" }),
    ),
    { nil: undefined },
  ),
  output_config: fc.option(
    fc.record({
      effort: fc.option(fc.constantFrom("low", "medium", "high", "xhigh", "max", "weird"), {
        nil: undefined,
      }),
      format: fc.option(fc.record({ type: fc.constant("json_schema"), schema: inputSchema }), {
        nil: undefined,
      }),
    }, { requiredKeys: [] }),
    { nil: undefined },
  ),
}, { requiredKeys: ["model", "max_tokens", "messages"] }).map((r) => {
  // tool_choice "tool" names one of the request's tools, as the API requires.
  const { tool_choice, tools: list, ...rest } = r;
  const out: Record<string, unknown> = { ...rest };
  if (list !== undefined) out.tools = list;
  if (tool_choice && list && list.length > 0) {
    const { pick, ...choice } = tool_choice;
    out.tool_choice = choice.type === "tool"
      ? { ...choice, name: list[pick % list.length]!.name }
      : choice;
  }
  return out;
});

const PROVIDERS: ProviderName[] = [
  "generic",
  "openai",
  "azure",
  "openrouter",
  "ollama",
  "deepseek",
  "gemini",
  "mistral",
];
const UPSTREAM_MODELS = [
  "gpt-4o",
  "gpt-4.1-mini",
  "o3-mini",
  "gpt-5",
  "gpt-5.1",
  "deepseek-reasoner",
  "deepseek-chat",
  "gemini-2.5-pro",
  "mistral-large-latest",
  "magistral-medium",
  "qwen3-coder",
  "llama3.1:8b",
];

describe("property: valid Anthropic requests convert to valid OpenAI requests", () => {
  it(`holds for ${RUNS} random requests × provider × model × settings`, () => {
    fc.assert(
      fc.property(
        anthropicRequest,
        fc.constantFrom(...PROVIDERS),
        fc.constantFrom(...UPSTREAM_MODELS),
        fc.constantFrom<"merge" | "keep" | undefined>(undefined, "merge", "keep"),
        fc.option(fc.integer({ min: 1, max: 200_000 }), { nil: undefined }),
        (raw, provider, upstreamModel, midConversationSystem, maxTokensLimit) => {
          const parsed = MessagesRequest.safeParse(raw);
          if (!parsed.success) {
            throw new Error(`generator made an invalid request: ${parsed.error.message}`);
          }
          const profile = resolveProfile(
            provider,
            "https://example.test/v1",
            midConversationSystem,
          );
          const info = modelInfo(upstreamModel, { reasoningModels: [], nonReasoningModels: [] });
          const { body, dropped } = convertRequest(parsed.data, {
            upstreamModel,
            info,
            profile,
            maxTokensLimit,
          });
          if (body.messages.length === 0) {
            // Nothing had an OpenAI form (file ids, server tool blocks): the server answers 400
            // instead of sending [] (tests/reliability_client.test.ts).
            assert.ok(dropped.length > 0);
            return;
          }

          const check = OpenAIChatRequest.safeParse(JSON.parse(JSON.stringify(body)));
          if (!check.success) {
            throw new Error(
              `invalid OpenAI request: ${JSON.stringify(check.error.issues.slice(0, 3))}\n${
                JSON.stringify(body).slice(0, 1500)
              }`,
            );
          }
          const problem = crossFieldProblem(check.data, {
            shortIds: profile.shortToolIds,
            openaiReasoning: usesOpenAIReasoningRules(info, profile),
          });
          if (problem) throw new Error(`${problem}\n${JSON.stringify(body).slice(0, 1500)}`);
          if (profile.allowedFields) {
            for (const key of Object.keys(body)) {
              assert.ok(profile.allowedFields.has(key), `${profile.name} does not take ${key}`);
            }
          }
          if (!profile.midConversationSystem) {
            assert.ok(
              check.data.messages.slice(1).every((m) => m.role !== "system"),
              "system only first",
            );
          }
          const limit = body.max_tokens ?? body.max_completion_tokens!;
          assert.ok(limit <= parsed.data.max_tokens);
          if (maxTokensLimit !== undefined) assert.ok(limit <= maxTokensLimit);
          if (!info.reasoning) {
            assert.equal(body.reasoning_effort, undefined);
            assert.equal(body.reasoning, undefined);
          }
        },
      ),
      { numRuns: RUNS, seed: Number(process.env.FC_SEED ?? 20260101) },
    );
  });
});
