/**
 * Gemini's OpenAI compatibility endpoint: tool schemas must stay inside its OpenAPI subset
 * (checked with Claude Code's real tool set), tool calls come without ids and without `index`,
 * finish_reason says "stop" after tool calls, and Gemini 3's thought signatures must come back
 * with the calls they were issued with.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import Anthropic from "@anthropic-ai/sdk";
import { simplifySchema } from "../lib/upstreams/openai/json_schema.ts";
import { TEST_CLIENT_KEY, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import {
  bodyOf,
  geminiSchemaProblems,
  postToFake,
  type Responder,
  sdkStream,
  startGeminiFake,
} from "./helpers/provider_fakes.ts";
import { providerHarness } from "./helpers/provider_harness.ts";
import { assertGrammar, parseSse } from "./api_support.ts";

type ClaudeCodeRequest = { tools: { name: string; input_schema: Record<string, unknown> }[] };
const fixture = JSON.parse(
  readFileSync(
    new URL("./fixtures/claude-code/01-main-first-turn-stream.json", import.meta.url),
    "utf8",
  ),
) as { body: ClaudeCodeRequest & Record<string, unknown> };
const CLAUDE_CODE_TOOLS = fixture.body.tools;

const BASH = {
  name: "Bash",
  input_schema: {
    type: "object",
    properties: { command: { type: "string" } },
    required: ["command"],
  },
};

describe("Gemini", () => {
  const up = providerHarness({
    start: (respond) =>
      startGeminiFake({ key: TEST_UPSTREAM_KEY, thoughtSignatures: true }, respond),
    env: (fake) => ({
      OPENAI_BASE_URL: `${fake.origin}/v1beta/openai`,
      PROVIDER: "gemini",
      BIG_MODEL: "gemini-3-pro-preview",
      MIDDLE_MODEL: "gemini-2.5-flash",
      SMALL_MODEL: "gemini-2.5-flash-lite",
    }),
  });
  const { via, lastBody } = up;
  const toolRounds = (req: Parameters<Responder>[0]) =>
    (bodyOf(req).messages ?? []).filter((m) => m.role === "tool").length;

  it("the fake refuses Claude Code's tool schemas as they are, as Gemini does", async () => {
    const r = await postToFake(`${up.fake.origin}/v1beta/openai/chat/completions`, {
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "hi" }],
      tools: CLAUDE_CODE_TOOLS.map((t) => ({
        type: "function",
        function: { name: t.name, parameters: t.input_schema },
      })),
    }, { authorization: `Bearer ${TEST_UPSTREAM_KEY}` });
    assert.equal(r.status, 400);
    const message = (r.json as { error: { message: string } }[])[0]!.error.message;
    for (
      const keyword of [
        "$schema",
        "additionalProperties",
        "propertyNames",
        "exclusiveMinimum",
        "const",
      ]
    ) {
      assert.ok(message.includes(`Unknown name "${keyword}"`), keyword);
    }
  });

  it("Claude Code's first request, with all its tools, is accepted once the schemas are simplified", async () => {
    const { proxy } = via();
    up.respond = () => ({ content: "Ready." });
    const refused = up.fake.rejections.length;
    const res = await fetch(`${proxy.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
      body: JSON.stringify(fixture.body),
    });
    assert.equal(res.status, 200);
    const events = assertGrammar(parseSse(await res.text()));
    assert.equal(events.at(-2)?.data.delta.stop_reason, "end_turn");
    assert.equal(up.fake.rejections.length, refused, "Gemini accepted every schema");
    const tools = lastBody().tools ?? [];
    assert.equal(tools.length, CLAUDE_CODE_TOOLS.length);
    for (const t of tools) {
      assert.deepEqual(geminiSchemaProblems(t.function?.parameters, String(t.function?.name)), []);
    }
    // What the schemas still say: the one-value anyOf branch survives as an enum.
    const update = tools.find((t) => t.function?.name === "TaskUpdate")?.function?.parameters as {
      properties: { status: { anyOf: { enum: string[] }[] } };
    };
    assert.deepEqual(update.properties.status.anyOf.map((b) => b.enum), [[
      "pending",
      "in_progress",
      "completed",
    ], [
      "deleted",
    ]]);
  });

  it("schemas with $ref, $defs and type lists (MCP tools) are inlined and made nullable", () => {
    const schema = {
      type: "object",
      properties: {
        target: { $ref: "#/$defs/Target", description: "where" },
        note: { type: ["string", "null"], format: "uri" },
        tree: { $ref: "#/$defs/Node" },
      },
      required: ["target", "missing"],
      $defs: {
        Target: {
          type: "object",
          properties: { kind: { const: "file" } },
          additionalProperties: false,
        },
        Node: { type: "object", properties: { child: { $ref: "#/$defs/Node" } } },
      },
    };
    const out = simplifySchema(schema);
    assert.deepEqual(geminiSchemaProblems(out, "parameters"), []);
    assert.deepEqual(out, {
      type: "object",
      properties: {
        target: {
          type: "object",
          properties: { kind: { enum: ["file"], type: "string" } },
          description: "where",
        },
        note: { nullable: true, type: "string" },
        tree: { type: "object", properties: { child: { type: "object" } } },
      },
      required: ["target"],
    });
  });

  it("calls without ids or index get ids, stop after calls means tool_use, and thought signatures come back", async () => {
    const { client } = via();
    up.respond = (req) =>
      toolRounds(req) === 0
        ? {
          calls: [
            { name: "Bash", args: { command: "ls" } },
            { name: "Bash", args: { command: "pwd" } },
          ],
        }
        : { content: "Listed." };
    const params = {
      model: "claude-opus-4-8",
      max_tokens: 8_000,
      thinking: { type: "adaptive" },
      tools: [BASH],
    };
    const first = await sdkStream(client, params);
    assertGrammar(first.events.map((e) => ({ event: e.type, data: e })));
    assert.equal(first.final.stop_reason, "tool_use");
    const calls = first.final.content.filter((b): b is Anthropic.ToolUseBlock =>
      b.type === "tool_use"
    );
    assert.deepEqual(calls.map((c) => c.input), [{ command: "ls" }, { command: "pwd" }]);
    assert.ok(calls.every((c) => c.id.length > 0));
    assert.equal(new Set(calls.map((c) => c.id)).size, 2);

    const refused = up.fake.rejections.length;
    const second = await sdkStream(client, {
      ...params,
      messages: [
        { role: "user", content: "where am I?" },
        { role: "assistant", content: first.final.content },
        {
          role: "user",
          content: calls.map((c) => ({ type: "tool_result", tool_use_id: c.id, content: "ok" })),
        },
      ],
    });
    assert.equal(up.fake.rejections.length, refused, "Gemini found its thought signature");
    assert.equal(second.final.stop_reason, "end_turn");
    const sent = lastBody().messages?.find((m) => m.role === "assistant")?.tool_calls ?? [];
    assert.equal(sent.length, 2);
    assert.deepEqual(sent[0]?.extra_content, {
      google: { thought_signature: [...up.fake.signatures.values()].at(-1) },
    });
    const toolIds = (lastBody().messages ?? []).filter((m) => m.role === "tool").map((m) =>
      m.tool_call_id
    );
    assert.deepEqual(
      toolIds,
      sent.map((c) => c.id),
      "tool results answer the calls by the same ids",
    );
  });

  it("a tool call sent back without its thought signature is refused, as Gemini 3 does", async () => {
    const { client } = via();
    up.respond = () => ({ calls: [{ name: "Bash", args: { command: "date" } }] });
    const first = await sdkStream(client, { model: "claude-opus-4-8", tools: [BASH] });
    const call = first.final.content.find((b): b is Anthropic.ToolUseBlock =>
      b.type === "tool_use"
    )!;
    const bareId = call.id.split("__x")[0]!;
    await assert.rejects(
      sdkStream(client, {
        model: "claude-opus-4-8",
        tools: [BASH],
        messages: [
          { role: "user", content: "date?" },
          { role: "assistant", content: [{ ...call, id: bareId }] },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: bareId, content: "today" }],
          },
        ],
      }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.BadRequestError);
        assert.match(JSON.stringify(err.error), /missing a thought_signature/);
        return true;
      },
    );
  });
});
