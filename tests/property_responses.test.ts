/**
 * Property: every valid Anthropic Messages request converts to a Responses API request the API
 * would accept. The Responses side is a strict zod schema written here from the API reference
 * (https://platform.openai.com/docs/api-reference/responses/create), independent of lib/, plus
 * the rules a schema cannot say: each function_call is answered by exactly one
 * function_call_output after it, no output answers an unknown call, and thinking that is not
 * this upstream's never reaches it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "zod";
import { MessagesRequest } from "../lib/anthropic/schema.ts";
import { encodeSignature } from "../lib/anthropic/signature.ts";
import { modelInfo } from "../lib/upstreams/model_info.ts";
import { type ProviderName, resolveProfile } from "../lib/upstreams/openai/profiles.ts";
import { convertRequest } from "../lib/upstreams/responses/request.ts";

const RUNS = 1_500;
const TAG = "this-upstream";

const JsonObjectString = z.string().refine((s) => {
  try {
    const v: unknown = JSON.parse(s);
    return v !== null && typeof v === "object" && !Array.isArray(v);
  } catch {
    return false;
  }
}, "arguments must be a JSON object in a string");

const InputContent = z.union([
  z.strictObject({ type: z.literal("input_text"), text: z.string() }),
  z.strictObject({
    type: z.literal("input_image"),
    image_url: z.string().regex(
      /^(https?:\/\/\S+|data:[\w.+-]+\/[\w.+-]+;base64,[A-Za-z0-9+/=]*)$/,
    ),
    detail: z.enum(["auto", "low", "high"]),
  }),
  z.strictObject({
    type: z.literal("input_file"),
    filename: z.string().min(1),
    file_data: z.string().startsWith("data:"),
  }),
]);

const Item = z.union([
  z.strictObject({
    type: z.literal("message"),
    role: z.literal("user"),
    content: z.array(InputContent).min(1),
  }),
  z.strictObject({
    type: z.literal("message"),
    role: z.enum(["assistant", "developer"]),
    content: z.string().min(1),
  }),
  z.strictObject({
    type: z.literal("function_call"),
    call_id: z.string().min(1),
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
    arguments: JsonObjectString,
  }),
  z.strictObject({
    type: z.literal("function_call_output"),
    call_id: z.string().min(1),
    output: z.string().min(1),
  }),
  z.strictObject({
    type: z.literal("reasoning"),
    summary: z.array(z.strictObject({ type: z.literal("summary_text"), text: z.string() })),
    encrypted_content: z.string().min(1),
  }),
]);

const ResponsesRequest = z.strictObject({
  model: z.string().min(1),
  input: z.array(Item).min(1),
  instructions: z.string().min(1).optional(),
  max_output_tokens: z.number().int().min(16),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  stream: z.literal(true).optional(),
  store: z.literal(false),
  include: z.tuple([z.literal("reasoning.encrypted_content")]).optional(),
  tools: z.array(z.strictObject({
    type: z.literal("function"),
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()),
    strict: z.boolean(),
  })).min(1).optional(),
  tool_choice: z.union([
    z.enum(["auto", "required", "none"]),
    z.strictObject({ type: z.literal("function"), name: z.string() }),
  ]).optional(),
  parallel_tool_calls: z.boolean().optional(),
  reasoning: z.strictObject({
    effort: z.enum(["minimal", "low", "medium", "high"]),
    summary: z.literal("auto"),
  }).optional(),
  text: z.strictObject({
    format: z.strictObject({
      type: z.literal("json_schema"),
      name: z.string(),
      schema: z.record(z.string(), z.unknown()),
      strict: z.boolean(),
    }),
  }).optional(),
  safety_identifier: z.string().max(64).optional(),
  prompt_cache_key: z.string().max(64).optional(),
});

type Req = z.infer<typeof ResponsesRequest>;

function crossFieldProblem(body: Req): string | undefined {
  const open = new Set<string>();
  const answered = new Set<string>();
  for (const item of body.input) {
    if (item.type === "function_call") {
      if (open.has(item.call_id) || answered.has(item.call_id)) return `call ${item.call_id} twice`;
      open.add(item.call_id);
    }
    if (item.type === "function_call_output") {
      if (!open.has(item.call_id)) return `output for unknown or answered call ${item.call_id}`;
      open.delete(item.call_id);
      answered.add(item.call_id);
    }
  }
  if (open.size > 0) return `calls without output: ${[...open].join(", ")}`;
  if (body.tool_choice && typeof body.tool_choice === "object") {
    const name = body.tool_choice.name;
    if (!body.tools?.some((t) => t.name === name)) return `tool_choice names missing ${name}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Anthropic requests.

const text = fc.string({ maxLength: 12 });
const FOREIGN = "FOREIGN-THINKING";
const id = fc.stringMatching(/^(call|toolu)_[A-Za-z0-9]{1,8}$/);
const toolName = fc.constantFrom("Read", "Bash", "mcp__server__" + "x".repeat(70), "Write");
const image = fc.record({
  type: fc.constant("image"),
  source: fc.oneof(
    fc.record({
      type: fc.constant("base64"),
      media_type: fc.constant("image/png"),
      data: fc.base64String({ maxLength: 16 }),
    }),
    fc.record({ type: fc.constant("url"), url: fc.constant("https://example.com/i.png") }),
  ),
});
const userBlock = fc.oneof(
  fc.record({ type: fc.constant("text"), text }),
  image,
  fc.record({
    type: fc.constant("document"),
    source: fc.record({
      type: fc.constant("base64"),
      media_type: fc.constantFrom("application/pdf", "text/plain", "image/jpeg"),
      data: fc.base64String({ maxLength: 16 }),
    }),
  }),
  fc.record({ type: fc.constant("future_block"), x: text }),
);
const thinking = fc.oneof(
  fc.record({
    type: fc.constant("thinking"),
    thinking: text,
    signature: fc.string({ minLength: 1, maxLength: 8 }).map((c) =>
      encodeSignature({ encrypted_reasoning: { content: c, upstream: TAG } })
    ),
  }),
  fc.record({
    type: fc.constant("thinking"),
    thinking: fc.constant(FOREIGN),
    signature: fc.oneof(
      fc.constant("EqQBCkYIBxgC"),
      fc.constant(
        encodeSignature({ encrypted_reasoning: { content: FOREIGN, upstream: "other" } }),
      ),
      fc.constant(encodeSignature({})),
    ),
  }),
  fc.record({ type: fc.constant("redacted_thinking"), data: fc.constant(FOREIGN) }),
);
const assistantBlock = fc.oneof(
  fc.record({ type: fc.constant("text"), text }),
  fc.record({
    type: fc.constant("tool_use"),
    id,
    name: toolName,
    input: fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  }),
  thinking,
);
const toolResult = fc.record({
  type: fc.constant("tool_result"),
  tool_use_id: id,
  content: fc.oneof(
    fc.constant(undefined),
    text,
    fc.array(fc.oneof(fc.record({ type: fc.constant("text"), text }), image), { maxLength: 3 }),
  ),
  is_error: fc.option(fc.boolean(), { nil: undefined }),
});
const message = fc.oneof(
  fc.record({
    role: fc.constant("user"),
    content: fc.oneof(text, fc.array(fc.oneof(userBlock, toolResult), { maxLength: 4 })),
  }),
  fc.record({
    role: fc.constant("assistant"),
    content: fc.oneof(text, fc.array(assistantBlock, { maxLength: 4 })),
  }),
  fc.record({ role: fc.constant("system"), content: text }),
);
const anthropicRequest = fc.record({
  model: fc.constant("claude-sonnet-4-6"),
  max_tokens: fc.integer({ min: 1, max: 300_000 }),
  messages: fc.array(message, { minLength: 1, maxLength: 8 }),
  system: fc.option(
    fc.oneof(text, fc.array(fc.record({ type: fc.constant("text"), text }), { maxLength: 3 })),
    { nil: undefined },
  ),
  temperature: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  stream: fc.option(fc.boolean(), { nil: undefined }),
  stop_sequences: fc.option(fc.array(text, { maxLength: 2 }), { nil: undefined }),
  metadata: fc.option(fc.record({ user_id: text }), { nil: undefined }),
  thinking: fc.option(
    fc.oneof(
      fc.record({
        type: fc.constant("enabled"),
        budget_tokens: fc.integer({ min: 1024, max: 64_000 }),
      }),
      fc.record({ type: fc.constantFrom("adaptive", "disabled") }),
    ),
    { nil: undefined },
  ),
  tools: fc.option(
    fc.array(
      fc.oneof(
        fc.record({
          name: toolName,
          description: fc.option(text, { nil: undefined }),
          input_schema: fc.constantFrom(
            { type: "object", properties: { a: { type: "string" } } },
            {
              type: "object",
              properties: { a: { type: "string" } },
              required: ["a"],
              additionalProperties: false,
            },
          ),
        }),
        fc.record({ type: fc.constant("web_search_20250305"), name: fc.constant("web_search") }),
      ),
      { maxLength: 3 },
    ),
    { nil: undefined },
  ),
  tool_choice: fc.option(
    fc.record({
      type: fc.constantFrom("auto", "any", "tool", "none"),
      name: fc.option(toolName, { nil: undefined }),
      disable_parallel_tool_use: fc.option(fc.boolean(), { nil: undefined }),
    }),
    { nil: undefined },
  ),
});

const PROVIDERS: ProviderName[] = ["openai", "azure", "generic"];
const MODELS = ["gpt-5-codex", "gpt-5.1-codex-max", "o3-pro", "gpt-4.1", "gpt-5-pro", "my-model"];

describe("property: Anthropic requests → valid Responses API requests", () => {
  it(`holds for ${RUNS} random requests × provider × model`, () => {
    let checkedCount = 0;
    let withCalls = 0;
    let withReasoning = 0;
    fc.assert(
      fc.property(
        anthropicRequest,
        fc.constantFrom(...PROVIDERS),
        fc.constantFrom(...MODELS),
        fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
        (raw, provider, model, sessionId) => {
          const parsed = MessagesRequest.safeParse(raw);
          if (!parsed.success) return;
          const { body } = convertRequest(parsed.data, {
            upstreamModel: model,
            info: modelInfo(model, { reasoningModels: [], nonReasoningModels: [] }),
            profile: resolveProfile(provider, ""),
            upstreamTag: TAG,
            sessionId,
          });
          // The protocol refuses a request with no input (a 400 to the client) before sending.
          if (body.input.length === 0) return;
          checkedCount++;
          if (body.input.some((i) => i.type === "function_call")) withCalls++;
          if (body.input.some((i) => i.type === "reasoning")) withReasoning++;
          const checked = ResponsesRequest.safeParse(body);
          assert.ok(
            checked.success,
            `${JSON.stringify(checked.error?.issues.slice(0, 3))}\n${JSON.stringify(body)}`,
          );
          const problem = crossFieldProblem(checked.data);
          assert.equal(problem, undefined, `${problem}\n${JSON.stringify(body)}`);
          assert.ok(
            !JSON.stringify(body).includes(FOREIGN),
            "foreign thinking never goes upstream",
          );
        },
      ),
      { numRuns: RUNS },
    );
    assert.ok(checkedCount > RUNS / 2, `only ${checkedCount} requests were valid and checked`);
    assert.ok(
      withCalls > RUNS / 10 && withReasoning > RUNS / 20,
      `${withCalls} with calls, ${withReasoning} with reasoning`,
    );
  });
});
