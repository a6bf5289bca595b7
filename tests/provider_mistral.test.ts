/**
 * Mistral: a strict schema (422 `extra_forbidden` for any field it does not know, at the top
 * level and inside messages) and tool call ids of exactly 9 alphanumerics, which Claude Code's
 * `toolu_…` ids are not: they are rewritten, the same way in every request of a conversation.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import Anthropic from "@anthropic-ai/sdk";
import { TEST_CLIENT_KEY, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import {
  bodyOf,
  postToFake,
  type Responder,
  sdkCreate,
  sdkStream,
  startMistralFake,
} from "./helpers/provider_fakes.ts";
import { providerHarness } from "./helpers/provider_harness.ts";
import { assertGrammar, parseSse } from "./api_support.ts";

const BASH = {
  name: "Bash",
  input_schema: {
    type: "object",
    properties: { command: { type: "string" } },
    required: ["command"],
  },
};
const NINE = /^[a-zA-Z0-9]{9}$/;

describe("Mistral", () => {
  const up = providerHarness({
    start: (respond) => startMistralFake({ key: TEST_UPSTREAM_KEY }, respond),
    env: (fake) => ({
      OPENAI_BASE_URL: fake.url,
      PROVIDER: "mistral",
      BIG_MODEL: "mistral-large-latest",
      SMALL_MODEL: "magistral-small-latest",
    }),
  });
  const { via, lastBody } = up;
  const toolRounds = (req: Parameters<Responder>[0]) =>
    (bodyOf(req).messages ?? []).filter((m) => m.role === "tool").length;

  it("the fake answers unknown fields with 422 extra_forbidden and bad tool ids with 400, as Mistral does", async () => {
    const auth = { authorization: `Bearer ${TEST_UPSTREAM_KEY}` };
    const url = `${up.fake.url}/chat/completions`;
    const extra = await postToFake(url, {
      model: "mistral-large-latest",
      max_completion_tokens: 10,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "hi" }, {
        role: "assistant",
        content: "yo",
        reasoning_content: "",
      }],
    }, auth);
    assert.equal(extra.status, 422);
    const locs = (extra.json as { message: { detail: { type: string; loc: unknown[] }[] } }).message
      .detail
      .map((d) => [d.type, d.loc.join(".")]);
    assert.deepEqual(locs, [
      ["extra_forbidden", "body.max_completion_tokens"],
      ["extra_forbidden", "body.stream_options"],
      ["extra_forbidden", "body.messages.1.assistant.reasoning_content"],
    ]);
    const badId = await postToFake(url, {
      model: "mistral-large-latest",
      messages: [
        { role: "user", content: "ls" },
        {
          role: "assistant",
          content: "",
          tool_calls: [{
            id: "toolu_01",
            type: "function",
            function: { name: "Bash", arguments: "{}" },
          }],
        },
        { role: "tool", tool_call_id: "toolu_01", content: "a" },
      ],
    }, auth);
    assert.equal(badId.status, 400);
    assert.match(
      JSON.stringify(badId.json),
      /Tool call id was toolu_01 but must be a-z, A-Z, 0-9, with a length of 9/,
    );
  });

  it("Claude Code's first request passes the field allow-list", async () => {
    const { proxy } = via();
    up.respond = () => ({ content: "Ready." });
    const refused = up.fake.rejections.length;
    const fixture = JSON.parse(
      readFileSync(
        new URL("./fixtures/claude-code/01-main-first-turn-stream.json", import.meta.url),
        "utf8",
      ),
    ) as { body: unknown };
    const res = await fetch(`${proxy.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
      body: JSON.stringify(fixture.body),
    });
    assert.equal(res.status, 200);
    assertGrammar(parseSse(await res.text()));
    assert.equal(up.fake.rejections.length, refused);
    for (
      const key of [
        "stream_options",
        "user",
        "max_completion_tokens",
        "reasoning_effort",
        "metadata",
      ]
    ) {
      assert.ok(!(key in lastBody()), key);
    }
  });

  it("a multi-turn tool conversation works, with Claude Code's ids rewritten the same way every time", async () => {
    const { client } = via();
    // The history below already holds two tool results; two more rounds of calls follow.
    up.respond = (req) =>
      toolRounds(req) < 4
        ? { calls: [{ name: "Bash", args: { command: toolRounds(req) === 2 ? "ls" : "pwd" } }] }
        : { content: "All done." };
    // The conversation started on Anthropic's API: its tool ids are toolu_… and must be rewritten.
    const messages: Anthropic.MessageParam[] = [
      { role: "user", content: "look around" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "Check first.", signature: "anthropic-sig" },
          {
            type: "tool_use",
            id: "toolu_01A09q90qw90lq917835lq9",
            name: "Bash",
            input: { command: "whoami" },
          },
          {
            type: "tool_use",
            id: "toolu_01B12x45rt67yu890123op4",
            name: "Bash",
            input: { command: "id" },
          },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_01A09q90qw90lq917835lq9", content: "me" },
          { type: "tool_result", tool_use_id: "toolu_01B12x45rt67yu890123op4", content: "uid=1" },
        ],
      },
    ];
    const refused = up.fake.rejections.length;
    const rewritten: string[][] = [];
    for (let round = 0; round < 3; round++) {
      const { final, events } = await sdkStream(client, {
        model: "claude-opus-4-8",
        thinking: { type: "enabled", budget_tokens: 2_000 },
        max_tokens: 4_000,
        tools: [BASH],
        messages,
      });
      assertGrammar(events.map((e) => ({ event: e.type, data: e })));
      const history = lastBody().messages ?? [];
      rewritten.push(
        history.flatMap((m) =>
          m.role === "assistant" ? (m.tool_calls ?? []).map((c) => String(c.id)) : []
        ),
      );
      if (final.stop_reason !== "tool_use") {
        assert.deepEqual(final.content.map((b) => (b.type === "text" ? b.text : b.type)), [
          "All done.",
        ]);
        break;
      }
      const call = final.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use")!;
      assert.match(call.id, NINE, "Mistral's own ids reach the client unchanged");
      messages.push({ role: "assistant", content: final.content });
      messages.push({
        role: "user",
        content: [{ type: "tool_result", tool_use_id: call.id, content: "ok" }],
      });
    }
    assert.equal(up.fake.rejections.length, refused, "Mistral accepted every request");
    assert.equal(rewritten.length, 3);
    const [firstIds] = rewritten;
    assert.equal(firstIds!.length, 2);
    assert.ok(firstIds!.every((id) => NINE.test(id)));
    assert.notEqual(firstIds![0], firstIds![1], "two ids stay two ids");
    for (const ids of rewritten) {
      assert.deepEqual(ids.slice(0, 2), firstIds, "the same rewrite in every request");
    }
    const tools = (lastBody().messages ?? []).filter((m) => m.role === "tool").map((m) =>
      m.tool_call_id
    );
    const calls = rewritten.at(-1)!;
    assert.deepEqual(tools, calls, "each tool message answers its call by the rewritten id");
  });

  it("no reasoning fields, thought signatures or reasoning_content reach Mistral", async () => {
    const { client } = via();
    up.respond = () => ({ content: "ok" });
    const refused = up.fake.rejections.length;
    const signed = "call_7__xeyJnb29nbGUiOnsidGhvdWdodF9zaWduYXR1cmUiOiJzaWcifX0";
    await sdkCreate(client, {
      model: "claude-haiku-4-5",
      thinking: { type: "enabled", budget_tokens: 2_000 },
      max_tokens: 4_000,
      tools: [BASH],
      messages: [
        { role: "user", content: "date" },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Use date.", signature: "ccp1.e30" },
            { type: "tool_use", id: signed, name: "Bash", input: { command: "date" } },
          ],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: signed, content: "today" }] },
      ],
    });
    assert.equal(up.fake.rejections.length, refused);
    assert.equal(lastBody().model, "magistral-small-latest");
  });

  it("Magistral's thinking chunks inside content become a thinking block, streamed and not", async () => {
    const { client } = via();
    up.respond = () => ({ reasoning: "A greeting; reply in kind.", content: "Hello!" });
    const { events, final } = await sdkStream(client, { model: "claude-haiku-4-5" });
    assertGrammar(events.map((e) => ({ event: e.type, data: e })));
    assert.deepEqual(final.content.map((b) => b.type), ["thinking", "text"]);
    assert.equal(
      (final.content[0] as Anthropic.ThinkingBlock).thinking,
      "A greeting; reply in kind.",
    );
    assert.equal((final.content[1] as Anthropic.TextBlock).text, "Hello!");
    const message = await sdkCreate(client, { model: "claude-haiku-4-5" });
    assert.deepEqual(
      message.content.map((
        b,
      ) => (b.type === "thinking" ? b.thinking : b.type === "text" ? b.text : b.type)),
      ["A greeting; reply in kind.", "Hello!"],
    );
  });

  it("EXTRA_BODY reaches Mistral as given, past its field list, and CUSTOM_HEADER_* goes along", async () => {
    const { client } = via({
      EXTRA_BODY: '{"n": 1, "random_seed": 7}',
      CUSTOM_HEADER_X_TEAM: "search",
    });
    up.respond = () => ({ content: "ok" });
    const refused = up.fake.rejections.length;
    await sdkStream(client, { model: "claude-opus-4-8" });
    assert.equal(up.fake.rejections.length, refused);
    assert.equal(lastBody().n, 1, "the operator's field is not filtered away");
    assert.equal(lastBody().random_seed, 7);
    assert.equal(up.last().headers["x-team"], "search");
  });
});
