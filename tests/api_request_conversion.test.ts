/**
 * What the upstream receives: Anthropic requests sent to the real proxy, and the OpenAI Chat
 * Completions body the fake upstream recorded.
 * Contracts: https://docs.anthropic.com/en/api/messages and
 * https://platform.openai.com/docs/api-reference/chat/create
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { body, type Harness, postJson, startHarness } from "./api_support.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** Sends a request through the proxy and returns the body the upstream received. */
async function upstreamBodyFor(h: Harness, extra: Record<string, unknown>): Promise<Json> {
  const before = h.upstream.requests.length;
  const res = await postJson(`${h.proxy.url}/v1/messages`, body(extra));
  const text = await res.text();
  assert.equal(res.status, 200, `proxy answered ${res.status}: ${text}`);
  assert.equal(h.upstream.requests.length, before + 1, "exactly one upstream call");
  return h.lastBody();
}

/** A message's text, whether sent as a string or as text parts (both are valid OpenAI). */
const textOf = (content: Json): string =>
  typeof content === "string" ? content : content.map((p: Json) => p.text ?? "").join("\n\n");

const contents = (messages: Json[]) =>
  messages.map((m) => JSON.stringify(m.content ?? "")).join("\n");

describe("request conversion", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  describe("system prompt", () => {
    it("a system string becomes one leading system message", async () => {
      const up = await upstreamBodyFor(h, { system: "You are terse." });
      assert.deepEqual(up.messages, [
        { role: "system", content: "You are terse." },
        { role: "user", content: "Hello" },
      ]);
    });

    it("an array of text blocks becomes one system message; cache_control is not sent", async () => {
      const up = await upstreamBodyFor(h, {
        system: [
          { type: "text", text: "You are Claude Code." },
          { type: "text", text: "Be careful.", cache_control: { type: "ephemeral" } },
        ],
      });
      const systems = up.messages.filter((m: Json) => m.role === "system");
      assert.equal(systems.length, 1);
      assert.equal(up.messages[0].role, "system");
      assert.match(systems[0].content, /You are Claude Code\.[\s\S]*Be careful\./);
      assert.ok(!h.lastRequest().rawBody.includes("cache_control"));
      assert.ok(!h.lastRequest().rawBody.includes("ephemeral"));
    });

    it("drops Claude Code's x-anthropic-billing-header first block", async () => {
      const up = await upstreamBodyFor(h, {
        system: [
          { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.0; cc_entrypoint=cli" },
          { type: "text", text: "You are Claude Code." },
        ],
      });
      assert.deepEqual(up.messages[0], { role: "system", content: "You are Claude Code." });
      assert.ok(!h.lastRequest().rawBody.includes("x-anthropic-billing-header"));
    });
  });

  describe("message content", () => {
    it("text blocks and strings become user and assistant text", async () => {
      const up = await upstreamBodyFor(h, {
        messages: [
          { role: "user", content: [{ type: "text", text: "Hi" }] },
          { role: "assistant", content: [{ type: "text", text: "Hello!" }] },
          { role: "user", content: "Bye" },
        ],
      });
      assert.deepEqual(up.messages, [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!" },
        { role: "user", content: "Bye" },
      ]);
    });

    it("a base64 image becomes an image_url part with a data URL", async () => {
      const up = await upstreamBodyFor(h, {
        messages: [{
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            {
              type: "image",
              source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" },
            },
          ],
        }],
      });
      assert.deepEqual(up.messages, [{
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
        ],
      }]);
    });

    it("a URL image becomes an image_url part with that URL", async () => {
      const up = await upstreamBodyFor(h, {
        messages: [{
          role: "user",
          content: [{ type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } }],
        }],
      });
      const parts = up.messages[0].content;
      assert.ok(Array.isArray(parts));
      assert.deepEqual(parts.filter((p: Json) => p.type === "image_url"), [
        { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
      ]);
    });

    it("assistant tool_use becomes tool_calls with JSON-string arguments", async () => {
      const input = { path: "/tmp/a.txt", lines: [1, 2], opts: { deep: true } };
      const up = await upstreamBodyFor(h, {
        messages: [
          { role: "user", content: "read it" },
          {
            role: "assistant",
            content: [
              { type: "text", text: "Reading." },
              { type: "tool_use", id: "toolu_01", name: "read_file", input },
            ],
          },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: "toolu_01", content: "data" }],
          },
        ],
      });
      const assistant = up.messages[1];
      assert.equal(assistant.role, "assistant");
      assert.equal(assistant.content, "Reading.");
      assert.equal(assistant.tool_calls.length, 1);
      const call = assistant.tool_calls[0];
      assert.equal(call.id, "toolu_01");
      assert.equal(call.type, "function");
      assert.equal(call.function.name, "read_file");
      assert.equal(typeof call.function.arguments, "string");
      assert.deepEqual(JSON.parse(call.function.arguments), input);
    });

    it("tool_results become tool messages right after the assistant, before the turn's other user content", async () => {
      const up = await upstreamBodyFor(h, {
        messages: [
          { role: "user", content: "do two things" },
          {
            role: "assistant",
            content: [
              { type: "tool_use", id: "toolu_A", name: "ls", input: {} },
              { type: "tool_use", id: "toolu_B", name: "cat", input: { f: "x" } },
            ],
          },
          {
            role: "user",
            content: [
              { type: "text", text: "Also, here is more context." },
              {
                type: "tool_result",
                tool_use_id: "toolu_B",
                content: [{ type: "text", text: "line one" }, { type: "text", text: "line two" }],
              },
              {
                type: "tool_result",
                tool_use_id: "toolu_A",
                content: "permission denied",
                is_error: true,
              },
            ],
          },
        ],
      });
      const roles = up.messages.map((m: Json) => m.role);
      assert.deepEqual(roles, ["user", "assistant", "tool", "tool", "user"]);
      const tools = new Map(up.messages.slice(2, 4).map((m: Json) => [m.tool_call_id, m.content]));
      assert.deepEqual([...tools.keys()].sort(), ["toolu_A", "toolu_B"]);
      assert.match(tools.get("toolu_B") as string, /line one[\s\S]*line two/);
      const errorText = tools.get("toolu_A") as string;
      assert.match(errorText, /permission denied/);
      assert.match(errorText, /error/i, "an is_error result says it is an error");
      assert.equal(textOf(up.messages[4].content), "Also, here is more context.");
    });

    it("images inside a tool_result travel in a user message right after the tool messages", async () => {
      const up = await upstreamBodyFor(h, {
        messages: [
          { role: "user", content: "screenshot please" },
          {
            role: "assistant",
            content: [{ type: "tool_use", id: "toolu_S", name: "screenshot", input: {} }],
          },
          {
            role: "user",
            content: [{
              type: "tool_result",
              tool_use_id: "toolu_S",
              content: [
                { type: "text", text: "captured" },
                {
                  type: "image",
                  source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" },
                },
              ],
            }],
          },
        ],
      });
      assert.deepEqual(up.messages.map((m: Json) => m.role), ["user", "assistant", "tool", "user"]);
      assert.equal(up.messages[2].tool_call_id, "toolu_S");
      assert.equal(typeof up.messages[2].content, "string", "tool messages carry text");
      assert.match(up.messages[2].content, /captured/);
      const parts = up.messages[3].content;
      assert.ok(Array.isArray(parts));
      assert.ok(
        parts.some((p: Json) =>
          p.type === "image_url" && p.image_url.url === "data:image/jpeg;base64,/9j/4AAQ"
        ),
      );
    });

    it("thinking and redacted_thinking in history are not sent as text", async () => {
      const up = await upstreamBodyFor(h, {
        messages: [
          { role: "user", content: "think" },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "SECRET-REASONING", signature: "sig" },
              { type: "redacted_thinking", data: "OPAQUE-REDACTED" },
              { type: "text", text: "The answer is 4." },
            ],
          },
          { role: "user", content: "thanks" },
        ],
      });
      assert.deepEqual(up.messages[1], { role: "assistant", content: "The answer is 4." });
      const text = contents(up.messages);
      assert.ok(!text.includes("SECRET-REASONING"));
      assert.ok(!text.includes("OPAQUE-REDACTED"));
    });
  });

  describe("tools", () => {
    const weather = {
      name: "get_weather",
      description: "Weather for a city",
      input_schema: {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
      },
    };

    it("tools become OpenAI function tools (input_schema → parameters), never `functions`", async () => {
      const up = await upstreamBodyFor(h, { tools: [weather] });
      assert.deepEqual(up.tools, [{
        type: "function",
        function: {
          name: "get_weather",
          description: "Weather for a city",
          parameters: weather.input_schema,
        },
      }]);
      assert.equal("functions" in up, false);
      assert.equal("function_call" in up, false);
    });

    const choices: [string, Record<string, unknown>, unknown][] = [
      ["auto", { type: "auto" }, "auto"],
      ["any", { type: "any" }, "required"],
      ["tool", { type: "tool", name: "get_weather" }, {
        type: "function",
        function: { name: "get_weather" },
      }],
      ["none", { type: "none" }, "none"],
    ];
    for (const [name, choice, expected] of choices) {
      it(`tool_choice ${name} → ${JSON.stringify(expected)}`, async () => {
        const up = await upstreamBodyFor(h, { tools: [weather], tool_choice: choice });
        assert.deepEqual(up.tool_choice, expected);
        assert.equal("parallel_tool_calls" in up, false, "parallel calls stay allowed by default");
      });
    }

    it("disable_parallel_tool_use → parallel_tool_calls: false", async () => {
      const up = await upstreamBodyFor(h, {
        tools: [weather],
        tool_choice: { type: "auto", disable_parallel_tool_use: true },
      });
      assert.equal(up.parallel_tool_calls, false);
      assert.equal(up.tool_choice, "auto");
    });

    it("no tools → no tools, tool_choice or parallel_tool_calls keys at all", async () => {
      for (
        const extra of [{}, { tools: [] }, {
          tool_choice: { type: "auto", disable_parallel_tool_use: true },
        }]
      ) {
        const up = await upstreamBodyFor(h, extra);
        for (const key of ["tools", "tool_choice", "parallel_tool_calls", "functions"]) {
          assert.equal(key in up, false, `${key} sent for ${JSON.stringify(extra)}`);
        }
      }
    });

    it("server tools without input_schema are left out, the rest is kept", async () => {
      const up = await upstreamBodyFor(h, {
        tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 5 }, weather],
      });
      assert.deepEqual(up.tools.map((t: Json) => t.function.name), ["get_weather"]);
      const only = await upstreamBodyFor(h, {
        tools: [{ type: "web_search_20250305", name: "web_search" }],
        tool_choice: { type: "auto" },
      });
      assert.equal("tools" in only, false);
      assert.equal("tool_choice" in only, false);
    });
  });

  describe("parameters", () => {
    it("max_tokens is clamped to the model's output limit (gpt-4o: 16384)", async () => {
      const up = await upstreamBodyFor(h, { model: "claude-opus-4-7", max_tokens: 64000 });
      assert.equal(up.model, "gpt-4o");
      assert.equal(up.max_tokens, 16384);
      const small = await upstreamBodyFor(h, { model: "claude-opus-4-7", max_tokens: 300 });
      assert.equal(small.max_tokens, 300);
    });

    it("temperature and top_p pass through", async () => {
      const up = await upstreamBodyFor(h, { temperature: 0.3, top_p: 0.9 });
      assert.equal(up.temperature, 0.3);
      assert.equal(up.top_p, 0.9);
      const none = await upstreamBodyFor(h, {});
      assert.equal("temperature" in none, false);
      assert.equal("top_p" in none, false);
    });

    it("stop_sequences → stop, at most 4", async () => {
      const up = await upstreamBodyFor(h, { stop_sequences: ["a", "b", "c", "d", "e", "f"] });
      assert.deepEqual(up.stop, ["a", "b", "c", "d"]);
      const two = await upstreamBodyFor(h, { stop_sequences: ["END", "\n\nHuman:"] });
      assert.deepEqual(two.stop, ["END", "\n\nHuman:"]);
    });

    it("metadata.user_id → user, unchanged when short", async () => {
      const up = await upstreamBodyFor(h, { metadata: { user_id: "user-42" } });
      assert.equal(up.user, "user-42");
    });

    it("a long user_id becomes a stable short hash (≤ 64 chars)", async () => {
      const long = `user_${
        "a1".repeat(32)
      }_account_0d5e6f70-1111-2222-3333-444455556666_session_abc`;
      const other = long.replace("abc", "abd");
      const first = (await upstreamBodyFor(h, { metadata: { user_id: long } })).user;
      const again = (await upstreamBodyFor(h, { metadata: { user_id: long } })).user;
      const different = (await upstreamBodyFor(h, { metadata: { user_id: other } })).user;
      assert.equal(typeof first, "string");
      assert.ok(first.length > 0 && first.length <= 64, `user is ${first.length} chars`);
      assert.equal(again, first, "same id → same value");
      assert.notEqual(different, first, "different ids → different values");
      assert.ok(!first.includes("session"));
    });

    it("stream → stream: true with stream_options.include_usage", async () => {
      const before = h.upstream.requests.length;
      const res = await postJson(`${h.proxy.url}/v1/messages`, body({ stream: true }));
      await res.text();
      assert.equal(h.upstream.requests.length, before + 1);
      const up = h.lastBody();
      assert.equal(up.stream, true);
      assert.deepEqual(up.stream_options, { include_usage: true });
      const plain = await upstreamBodyFor(h, {});
      assert.notEqual(plain.stream, true);
      assert.equal("stream_options" in plain, false);
    });
  });
});

describe("MAX_TOKENS_LIMIT", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ MAX_TOKENS_LIMIT: "4000" });
  });
  after(() => h.close());

  it("caps max_tokens below the model's own limit", async () => {
    const up = await upstreamBodyFor(h, { model: "claude-opus-4-7", max_tokens: 64000 });
    assert.equal(up.max_tokens, 4000);
  });

  it("caps models the proxy knows nothing about", async () => {
    const up = await upstreamBodyFor(h, { model: "some-local-model", max_tokens: 64000 });
    assert.equal(up.model, "some-local-model");
    assert.equal(up.max_tokens, 4000);
  });

  it("leaves smaller asks alone", async () => {
    const up = await upstreamBodyFor(h, { max_tokens: 123 });
    assert.equal(up.max_tokens, 123);
  });
});
