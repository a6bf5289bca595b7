/**
 * Everything today's Claude Code sends, replayed from recorded requests (tests/fixtures/claude-code,
 * CLI 2.1.197) through the real proxy to a recording fake upstream.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import Anthropic from "@anthropic-ai/sdk";
import {
  chunk,
  completion,
  type FakeUpstream,
  type Recorded,
  startFakeUpstream,
  textStream,
  toolCallStream,
  usageChunk,
} from "./helpers/fake_upstream.ts";
import { startProxy, TEST_CLIENT_KEY, type TestProxy } from "./helpers/proxy.ts";

type Fixture = {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Record<string, unknown>;
};

const FIXTURE_DIR = new URL("./fixtures/claude-code/", import.meta.url);
const fixtures: [string, Fixture][] = readdirSync(FIXTURE_DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(new URL(f, FIXTURE_DIR), "utf8")) as Fixture]);

function fixture(prefix: string): Fixture {
  const found = fixtures.find(([name]) => name.startsWith(prefix));
  assert.ok(found, `fixture ${prefix}`);
  return structuredClone(found[1]);
}

/** Sends a recorded request as Claude Code did: same path, query and headers, our test key. */
async function replay(proxy: TestProxy, fx: Fixture, body = fx.body) {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(fx.headers)) {
    if (["host", "content-length", "connection", "accept-encoding"].includes(k)) continue;
    headers[k] = k === "x-api-key" ? TEST_CLIENT_KEY : v;
  }
  const query = new URLSearchParams(fx.query).toString();
  return await fetch(`${proxy.url}${fx.path}${query ? `?${query}` : ""}`, {
    method: fx.method,
    headers,
    body: JSON.stringify(body),
  });
}

type Event = { event: string; data: Record<string, unknown> };

/** The smallest request: "hi" to Claude Haiku, streamed or not. */
function sayHi(url: string, stream = false): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-haiku-4-5",
      max_tokens: 10,
      ...(stream ? { stream: true } : {}),
      messages: [{ role: "user", content: "hi" }],
    }),
  });
}

function parseSse(text: string): Event[] {
  return text.split("\n\n").filter((b) => b.trim()).map((block) => {
    const event = block.match(/^event: (.*)$/m)?.[1] ?? "";
    const data = block.match(/^data: (.*)$/m)?.[1] ?? "{}";
    return { event, data: JSON.parse(data) as Record<string, unknown> };
  });
}

/** Every string leaf of a JSON value. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) { for (const v of value) strings(v, out); }
  else if (value && typeof value === "object") {
    for (const v of Object.values(value)) strings(v, out);
  }
  return out;
}

describe("Claude Code requests (recorded fixtures)", () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  const last = (): Recorded => upstream.requests[upstream.requests.length - 1]!;

  before(async () => {
    upstream = await startFakeUpstream((req) => {
      const body = req.body;
      if (body.response_format) {
        const json = JSON.stringify({ title: "Create hello file" });
        return body.stream ? { sse: textStream(json) } : { json: completion({ content: json }) };
      }
      if (body.stream) {
        return {
          sse: [
            chunk({ role: "assistant", content: "" }),
            chunk({ content: "Done" }),
            chunk({}, "stop"),
            usageChunk({ prompt_tokens: 17_000, completion_tokens: 3, cached_tokens: 16_000 }),
          ],
        };
      }
      return {
        json: completion({
          content: "Done",
          usage: { prompt_tokens: 17_000, completion_tokens: 3, cached_tokens: 16_000 },
        }),
      };
    });
    proxy = startProxy({
      OPENAI_BASE_URL: upstream.url,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      BIG_MODEL: "gpt-4o",
      SMALL_MODEL: "gpt-4o-mini",
    });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  for (const [name, fx] of fixtures) {
    it(`${name}: accepted with its real headers, ?beta=true and anthropic-beta list`, async () => {
      const res = await replay(proxy, fx);
      assert.equal(res.status, 200, await res.clone().text());
      const text = await res.text();
      const req = last();
      assert.equal(req.path, "/v1/chat/completions");
      assert.equal(req.body.model, "gpt-4o", "opus → BIG_MODEL");
      if (fx.body.stream) {
        const events = parseSse(text);
        assert.equal(events[0]?.event, "message_start");
        assert.equal(events.at(-1)?.event, "message_stop");
        const start = events[0]!.data.message as { usage: { input_tokens: number }; model: string };
        assert.equal(start.model, fx.body.model, "client's model name");
        if (name.startsWith("03")) assert.ok(start.usage.input_tokens > 50);
        else {assert.ok(
            start.usage.input_tokens > 10_000,
            `real estimate, got ${start.usage.input_tokens}`,
          );}
        const delta = events.find((e) => e.event === "message_delta")!.data as {
          usage: Record<string, number>;
        };
        if (!name.startsWith("03")) {
          assert.equal(delta.usage.input_tokens, 1_000, "prompt − cached");
          assert.equal(delta.usage.cache_read_input_tokens, 16_000);
          assert.equal(delta.usage.output_tokens, 3);
        }
      }
    });

    it(`${name}: converted without loss`, async () => {
      const res = await replay(proxy, fx);
      await res.text();
      const sent = JSON.stringify(last().body);
      const body = fx.body as {
        system: { text: string }[];
        messages: { content: unknown }[];
        tools: { name: string }[];
      };
      const expected = [
        ...body.system.map((b) => b.text).filter((t) =>
          !t.startsWith("x-anthropic-billing-header:")
        ),
        ...strings(body.messages.map((m) => m.content)).filter((s) =>
          s.length > 20 && !s.startsWith("toolu_") &&
          !["text", "tool_use", "tool_result", "ephemeral"].includes(s)
        ),
      ];
      for (const text of expected) {
        assert.ok(
          sent.includes(JSON.stringify(text).slice(1, -1)),
          `upstream request carries: ${text.slice(0, 60)}`,
        );
      }
      assert.equal(last().body.tools?.length ?? 0, body.tools.length, "every tool sent");
    });
  }

  it("strips the per-request billing header and merges mid-conversation system messages into the first", async () => {
    const fx = fixture("01");
    await (await replay(proxy, fx)).text();
    const messages = last().body.messages as { role: string; content: unknown }[];
    assert.equal(messages[0]!.role, "system");
    assert.ok(!JSON.stringify(messages).includes("x-anthropic-billing-header"));
    assert.equal(
      messages.filter((m) => m.role === "system").length,
      1,
      "one system message, first",
    );
    assert.match(String(messages[0]!.content), /Available agent types for the Agent tool/);
    // The leading system text is identical across turns, so upstream prefix caching can hit.
    const first = messages[0]!.content;
    await (await replay(proxy, fixture("02"))).text();
    assert.equal(last().body.messages[0].content, first);
  });

  it("keeps mid-conversation system messages in place for OpenAI, which accepts them", async () => {
    const openai = startProxy({ OPENAI_BASE_URL: upstream.url, PROVIDER: "openai" });
    try {
      await (await replay(openai, fixture("01"))).text();
      const roles = (last().body.messages as { role: string }[]).map((m) => m.role);
      assert.deepEqual(roles, ["system", "user", "system"]);
    } finally {
      await openai.close();
    }
  });

  it("sends no reasoning parameters to a model that does not reason, whatever thinking says", async () => {
    await (await replay(proxy, fixture("01"))).text();
    const body = last().body;
    for (const key of ["reasoning_effort", "reasoning", "thinking"]) assert.ok(!(key in body), key);
    assert.equal(body.max_tokens, 16_384, "64000 clamped to gpt-4o's limit");
    assert.ok(String(body.user).length <= 64, "metadata.user_id hashed to ≤ 64 chars");
    for (const key of ["context_management", "output_config", "metadata"]) {
      assert.ok(!(key in body), key);
    }
  });

  it("answers the tool results of a parallel-tool turn as tool messages right after the calls", async () => {
    await (await replay(proxy, fixture("06"))).text();
    const messages = last().body.messages as {
      role: string;
      tool_calls?: { id: string }[];
      tool_call_id?: string;
    }[];
    const i = messages.findIndex((m) => m.role === "assistant");
    assert.equal(messages[i]!.tool_calls!.length, 2);
    assert.equal(messages[i + 1]!.role, "tool");
    assert.equal(messages[i + 2]!.role, "tool");
    assert.deepEqual(
      [messages[i + 1]!.tool_call_id, messages[i + 2]!.tool_call_id],
      messages[i]!.tool_calls!.map((c) => c.id),
    );
  });

  it("maps output_config.format to response_format json_schema (name, strict) and returns the JSON as text", async () => {
    const res = await replay(proxy, fixture("03"));
    const events = parseSse(await res.text());
    const format = last().body.response_format;
    assert.equal(format.type, "json_schema");
    assert.equal(typeof format.json_schema.name, "string");
    assert.equal(format.json_schema.strict, true, "the title schema meets strict mode");
    assert.deepEqual(format.json_schema.schema.required, ["title"]);
    const text = events
      .filter((e) => e.event === "content_block_delta")
      .map((e) => (e.data.delta as { text?: string }).text ?? "")
      .join("");
    assert.deepEqual(JSON.parse(text), { title: "Create hello file" });
  });

  describe("strict only for schemas that meet OpenAI's strict mode (else a 400 upstream)", () => {
    const title = { type: "string" };
    const obj = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      type: "object",
      properties,
      required: Object.keys(properties),
      additionalProperties: false,
      ...extra,
    });
    const table: [string, Record<string, unknown>, boolean][] = [
      ["the title schema", obj({ title }), true],
      ["nested objects, arrays, anyOf, enum, $defs", {
        ...obj({
          tags: { type: "array", items: obj({ name: { type: "string", pattern: "^a" } }) },
          kind: { anyOf: [{ type: "string", enum: ["a", "b"] }, { type: "null" }] },
          ref: { $ref: "#/$defs/n" },
        }),
        $defs: { n: { type: "number", minimum: 0 } },
      }, true],
      ["an optional property", { ...obj({ title, extra: title }), required: ["title"] }, false],
      ["no additionalProperties: false", { ...obj({ title }), additionalProperties: true }, false],
      [
        "a nested object without additionalProperties: false",
        obj({
          inner: { type: "object", properties: { a: title }, required: ["a"] },
        }),
        false,
      ],
      ["a default", obj({ title: { type: "string", default: "x" } }), false],
      ["minLength", obj({ title: { type: "string", minLength: 1 } }), false],
      ["allOf", obj({ title: { allOf: [title] } }), false],
      [
        "$schema (as zod emits it)",
        obj({ title }, {
          $schema: "https://json-schema.org/draft/2020-12/schema",
        }),
        false,
      ],
      ["a root that is not an object", { type: "array", items: title }, false],
      ["a root anyOf", { anyOf: [obj({ title })] }, false],
    ];
    for (const [name, schema, strict] of table) {
      it(`${name}: ${strict ? "strict" : "no strict"}`, async () => {
        const fx = fixture("03");
        (fx.body.output_config as { format: { schema: unknown } }).format.schema = schema;
        await (await replay(proxy, fx)).text();
        const format = last().body.response_format;
        assert.equal(format.type, "json_schema");
        assert.equal(typeof format.json_schema.name, "string");
        assert.deepEqual(format.json_schema.schema, schema, "the schema itself is sent as it is");
        assert.equal(format.json_schema.strict, strict ? true : undefined);
      });
    }
  });

  it("works identically as the non-streaming fallback request", async () => {
    const fx = fixture("02");
    const streamed = await replay(proxy, fx);
    await streamed.text();
    const streamedBody = last().body;
    const res = await replay(proxy, fx, { ...fx.body, stream: false });
    assert.equal(res.status, 200);
    const message = await res.json() as {
      content: { type: string; text: string }[];
      usage: Record<string, number>;
    };
    assert.deepEqual(message.content, [{ type: "text", text: "Done" }]);
    assert.equal(message.usage.input_tokens, 1_000);
    const { stream: _s, stream_options: _o, ...rest } = streamedBody;
    const { stream: _s2, stream_options: _o2, ...restFallback } = last().body;
    assert.deepEqual(restFallback, rest, "same upstream request apart from streaming");
  });

  it("answers HEAD / without a key (Claude Code's start-up probe)", async () => {
    const res = await fetch(`${proxy.url}/`, { method: "HEAD" });
    assert.equal(res.status, 200);
  });

  it("accepts Bearer auth (ANTHROPIC_AUTH_TOKEN) as well as x-api-key", async () => {
    const fx = fixture("03");
    delete fx.headers["x-api-key"];
    fx.headers["authorization"] = `Bearer ${TEST_CLIENT_KEY}`;
    const headers = { ...fx.headers };
    const res = await fetch(`${proxy.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: headers.authorization!,
        "anthropic-beta": "future-beta-2099-01-01",
      },
      body: JSON.stringify(fx.body),
    });
    assert.equal(res.status, 200);
    await res.text();
  });
});

describe("shapes Claude Code may send back", () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  before(async () => {
    upstream = await startFakeUpstream((req) =>
      req.body.stream ? { sse: textStream("ok") } : { json: completion({ content: "ok" }) }
    );
    proxy = startProxy({ OPENAI_BASE_URL: upstream.url });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  const history = {
    model: "claude-sonnet-4-6",
    max_tokens: 1000,
    thinking: { type: "enabled", budget_tokens: 2048 },
    context_management: { edits: [{ type: "clear_tool_uses_20250919" }] },
    some_future_field: { anything: true },
    messages: [
      {
        role: "user",
        content: [{
          type: "text",
          text: "search and read",
          cache_control: { type: "ephemeral" },
          citations: null,
        }],
      },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "I should search.", signature: "sig-from-anthropic" },
          { type: "redacted_thinking", data: "opaque" },
          { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "x" } },
          { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [] },
          { type: "text", text: "Found it." },
          { type: "tool_use", id: "toolu_1", name: "Read", input: { file_path: "/a" } },
        ],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "toolu_1",
            cache_control: { type: "ephemeral" },
            content: [
              { type: "text", text: "file body" },
              { type: "tool_reference", tool_name: "WebFetch" },
              { type: "some_new_block", foo: 1 },
            ],
          },
          {
            type: "document",
            source: { type: "text", media_type: "text/plain", data: "doc text" },
            title: "Doc",
          },
          {
            type: "search_result",
            source: "https://example.com",
            title: "Example",
            content: [{ type: "text", text: "result text" }],
          },
          { type: "container_upload", file_id: "file_1" },
        ],
      },
    ],
  };

  it("accepts thinking, redacted thinking, server tool blocks, tool_reference, document, search_result and unknown blocks", async () => {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(history),
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.text();
    const sent = JSON.stringify(upstream.requests.at(-1)!.body);
    assert.ok(!sent.includes("I should search."), "thinking is not sent as text");
    assert.ok(!sent.includes("opaque"));
    for (const text of ["file body", "WebFetch", "doc text", "result text", "Found it."]) {
      assert.ok(sent.includes(text), text);
    }
    assert.ok(!sent.includes("srvtoolu_1"), "server tool blocks are dropped");
  });

  it("logs each dropped block type once, at debug level", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(history),
      });
      await res.text();
    }
    const lines = proxy.logs.filter((l) =>
      l.includes("dropped content") && l.includes("container_upload")
    );
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /DEBUG/);
  });

  it("accepts what a newer API version may add: nameless server tools, new source, thinking and format types", async () => {
    const post = async (extra: Record<string, unknown>) => {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...history, ...extra }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      await res.text();
      return upstream.requests.at(-1)!.body;
    };
    const readTool = { name: "Read", input_schema: { type: "object", properties: {} } };
    const sent = await post({
      tools: [{ type: "mcp_toolset", mcp_server_name: "remote" }, readTool],
      output_config: { format: { type: "some_new_format" } },
      messages: [
        ...history.messages,
        {
          role: "user",
          content: [
            { type: "text", text: "and this picture" },
            { type: "image", source: { type: "some_new_source", ref: "x" } },
          ],
        },
      ],
    });
    assert.deepEqual(sent.tools.map((t: { function: { name: string } }) => t.function.name), [
      "Read",
    ]);
    assert.equal(sent.response_format, undefined);
    assert.ok(JSON.stringify(sent.messages).includes("and this picture"));
    assert.ok(!JSON.stringify(sent.messages).includes("some_new_source"));

    // A thinking mode newer than the proxy still asks for thinking, with the client's effort.
    const reasoning = await post({
      model: "o4-mini",
      thinking: { type: "some_new_mode" },
      output_config: { effort: "low" },
    });
    assert.equal(reasoning.reasoning_effort, "low");

    const logged = proxy.logs.filter((l) => l.includes("dropped content"));
    for (const type of ["tool:mcp_toolset", "image:some_new_source", "field:some_future_field"]) {
      assert.ok(logged.some((l) => l.includes(type)), `${type} logged`);
    }
  });

  it("shortens tool names over 64 characters for the upstream and maps them back exactly", async () => {
    const longName =
      "mcp__my-very-long-server-name-for-testing__Some_Tool_With_A_Really_Long_Name_V2";
    assert.ok(longName.length > 64);
    const up = await startFakeUpstream((req) => {
      const name = req.body.tools.find((t: { function: { name: string } }) =>
        t.function.name.startsWith("mcp__")
      )
        .function.name;
      return {
        sse: toolCallStream([{ id: "call_a", name, args: '{"q":"x"}' }, {
          id: "call_b",
          name: "Read",
          args: "{}",
        }]),
      };
    });
    const p = startProxy({ OPENAI_BASE_URL: up.url });
    try {
      const client = new Anthropic({ baseURL: p.url, apiKey: "k", maxRetries: 0 });
      const message = await client.messages.stream({
        model: "claude-sonnet-4-6",
        max_tokens: 100,
        tools: [
          {
            name: longName,
            input_schema: { type: "object", properties: { q: { type: "string" } } },
          },
          { name: "Read", input_schema: { type: "object" } },
        ],
        messages: [{ role: "user", content: "go" }],
      }).finalMessage();
      const sentNames = up.requests[0]!.body.tools.map((t: { function: { name: string } }) =>
        t.function.name
      );
      assert.ok(sentNames.every((n: string) => n.length <= 64));
      assert.ok(sentNames.includes("Read"), "short names unchanged, case kept");
      const names = message.content.filter((b) => b.type === "tool_use").map((b) =>
        b.type === "tool_use" ? b.name : ""
      );
      assert.deepEqual(names, [longName, "Read"]);
      // The next turn sends the shortened name again, consistently.
      const second = await client.messages.create({
        model: "claude-sonnet-4-6",
        max_tokens: 100,
        tools: [{ name: longName, input_schema: { type: "object" } }],
        messages: [
          { role: "user", content: "go" },
          { role: "assistant", content: message.content },
          {
            role: "user",
            content: message.content.filter((b) => b.type === "tool_use").map((b) => ({
              type: "tool_result" as const,
              tool_use_id: b.type === "tool_use" ? b.id : "",
              content: "done",
            })),
          },
        ],
        stream: false,
      }).catch(() => undefined);
      void second;
      const replayed = up.requests[1]!.body.messages.find((m: { role: string }) =>
        m.role === "assistant"
      );
      assert.equal(
        replayed.tool_calls[0].function.name,
        sentNames.find((n: string) => n.startsWith("mcp__")),
      );
    } finally {
      await p.close();
      await up.close();
    }
  });

  it("sends pings while the upstream is silent after answering", async () => {
    const up = await startFakeUpstream(() => ({
      sse: [
        chunk({ role: "assistant", content: "" }),
        { waitMs: 400 },
        chunk({ content: "late" }),
        chunk({}, "stop"),
      ],
    }));
    const p = startProxy({ OPENAI_BASE_URL: up.url, PING_INTERVAL: "0.05" });
    try {
      const res = await sayHi(p.url, true);
      const events = parseSse(await res.text());
      assert.ok(events.filter((e) => e.event === "ping").length >= 2, "pings during the silence");
      assert.equal(events.at(-1)?.event, "message_stop");
    } finally {
      await p.close();
      await up.close();
    }
  });

  it("serves GET /v1/models with the Claude names and the upstream's models (SDK models.list)", async () => {
    const up = await startFakeUpstream((req) =>
      req.method === "GET"
        ? {
          json: {
            object: "list",
            data: [{ id: "gpt-4o", object: "model", created: 1_700_000_000 }, {
              id: "o3",
              object: "model",
              created: 1_700_000_000,
            }],
          },
        }
        : { json: completion({ content: "x" }) }
    );
    const p = startProxy({ OPENAI_BASE_URL: up.url });
    try {
      const client = new Anthropic({ baseURL: p.url, apiKey: "k", maxRetries: 0 });
      const ids: string[] = [];
      for await (const m of client.models.list()) ids.push(m.id);
      assert.ok(ids.some((id) => id.includes("opus")) && ids.some((id) => id.includes("haiku")));
      // The names today's Claude Code sends for `fable` and `sonnet`.
      assert.ok(ids.includes("claude-fable-5") && ids.includes("claude-sonnet-5"), ids.join());
      assert.ok(ids.includes("gpt-4o") && ids.includes("o3"));
      assert.equal(up.requests[0]!.path, "/v1/models");
      const one = await client.models.retrieve("claude-sonnet-4-6");
      assert.equal(one.id, "claude-sonnet-4-6");
      // Paged both ways, the SDK's auto-pagination sees every model once and stops.
      const forward: string[] = [];
      for await (const m of client.models.list({ limit: 3 })) forward.push(m.id);
      assert.deepEqual(forward, ids);
      const last = ids.at(-1)!;
      const backward: string[] = [];
      for await (const m of client.models.list({ before_id: last, limit: 3 })) {
        backward.push(m.id);
        assert.ok(backward.length <= ids.length, "paging backwards never ends");
      }
      // Each page is in list order; the pages come newest-first.
      assert.deepEqual(new Set(backward), new Set(ids.slice(0, -1)));
      assert.equal(backward.length, ids.length - 1);
      const unknown = await client.models.list({ after_id: "no-such-model" });
      assert.deepEqual(unknown.data, []);
      assert.equal(unknown.has_more, false);
    } finally {
      await p.close();
      await up.close();
    }
  });
});

describe("GET /v1/models with a slow upstream list", () => {
  it("still answers the Claude names within the 3 s Claude Code's model discovery waits", async () => {
    const up = await startFakeUpstream((req) =>
      req.method === "GET" ? { stall: true } : { json: completion({ content: "x" }) }
    );
    const p = startProxy({ OPENAI_BASE_URL: up.url });
    try {
      // As the CLI asks: ?limit=1000, a 3 s timeout, then only ids starting with claude kept.
      const res = await fetch(`${p.url}/v1/models?limit=1000`, {
        headers: { "x-api-key": "k", "anthropic-version": "2023-06-01" },
        signal: AbortSignal.timeout(3_000),
      });
      const list = await res.json() as { data: { id: string; display_name: string }[] };
      assert.ok(list.data.some((m) => m.id === "claude-opus-4-8"), JSON.stringify(list));
    } finally {
      await p.close();
      await up.close();
    }
  });
});

describe("an error object in a 200 non-streaming answer", () => {
  it("keeps its meaning instead of becoming a shape error: a rate limit is a 429", async () => {
    const up = await startFakeUpstream(() => ({
      json: { error: { message: "Provider returned error", code: 429 } },
    }));
    const p = startProxy({ OPENAI_BASE_URL: up.url });
    try {
      const res = await sayHi(p.url);
      assert.equal(res.status, 429);
      const body = await res.json() as { error: { type: string; message: string } };
      assert.equal(body.error.type, "rate_limit_error");
      assert.match(body.error.message, /Provider returned error/);
    } finally {
      await p.close();
      await up.close();
    }
  });
  it("an account out of credit inside a started stream ends it with billing_error, not a retryable error", async () => {
    const quota = { error: { message: "Insufficient credits", type: "insufficient_quota" } };
    const up = await startFakeUpstream(() => ({
      sse: [{ raw: `data: ${JSON.stringify(quota)}\n\n` }],
      done: false,
    }));
    const p = startProxy({ OPENAI_BASE_URL: up.url });
    try {
      const res = await sayHi(p.url, true);
      const text = await res.text();
      assert.match(text, /event: error\ndata: \{"type":"error","error":\{"type":"billing_error"/);
    } finally {
      await p.close();
      await up.close();
    }
  });

  it("a streamed request answered by such a body gets the same 429; a 503 in it stays retryable 529", async () => {
    const replies = [
      { json: { error: { message: "Too many requests", type: "rate_limit_exceeded" } } },
      { json: { error: { message: "Upstream unavailable", code: 503 } } },
      {
        json: { error: { message: "You exceeded your current quota", code: "insufficient_quota" } },
      },
    ];
    const up = await startFakeUpstream((_r, i) => replies[i]!);
    const p = startProxy({ OPENAI_BASE_URL: up.url, MAX_RETRIES: "0" });
    try {
      for (
        const [status, type] of [
          [429, "rate_limit_error"],
          [529, "overloaded_error"],
          [402, "billing_error"],
        ]
      ) {
        const res = await sayHi(p.url, true);
        const body = await res.json() as { error: { type: string } };
        assert.equal(res.status, status);
        assert.equal(body.error.type, type);
      }
    } finally {
      await p.close();
      await up.close();
    }
  });
});
