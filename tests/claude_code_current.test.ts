/**
 * The current Claude Code release through the real proxy: its recorded requests
 * (tests/fixtures/claude-code-<version>/, made with tests/fixtures/record_claude_code.ts), the
 * billing line, its side calls, tool search, regex patterns in tool schemas, and the context
 * window each mapped model reports and enforces.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import {
  chunk,
  completion,
  type FakeUpstream,
  type Recorded,
  startFakeUpstream,
  usageChunk,
} from "./helpers/fake_upstream.ts";
import { startProxy, TEST_CLIENT_KEY, type TestProxy } from "./helpers/proxy.ts";
import { isPortablePattern } from "../lib/upstreams/openai/schema_patterns.ts";
import { configFromEnv } from "../lib/ops/config.ts";
import { modelInfo } from "../lib/upstreams/model_info.ts";

type Fixture = {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Record<string, unknown>;
};

/** The newest recorded release: the directory with the highest version number. */
const FIXTURES = new URL("./fixtures/", import.meta.url);
const versionDir = readdirSync(FIXTURES)
  .filter((d) => /^claude-code-\d+\.\d+\.\d+$/.test(d))
  .sort((a, b) => {
    const v = (d: string) => d.slice("claude-code-".length).split(".").map(Number);
    const [x, y] = [v(a), v(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  })
  .at(-1)!;
const DIR = new URL(`${versionDir}/`, FIXTURES);
const fixtures: [string, Fixture][] = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(new URL(f, DIR), "utf8")) as Fixture]);
const messageFixtures = fixtures.filter(([, fx]) => fx.path === "/v1/messages");
const sideFixtures = fixtures.filter(([, fx]) => fx.path !== "/v1/messages");

function fixture(prefix: string): Fixture {
  const found = fixtures.find(([name]) => name.startsWith(prefix));
  assert.ok(found, `fixture ${prefix}`);
  return structuredClone(found[1]);
}

/** Sends a recorded request as the CLI did: same path, query and headers, our test key. */
async function replay(proxy: TestProxy, fx: Fixture, body: unknown = fx.body) {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(fx.headers)) {
    if (["host", "content-length", "connection", "accept-encoding"].includes(k)) continue;
    headers[k] = k === "x-api-key" ? TEST_CLIENT_KEY : v;
  }
  const query = new URLSearchParams(fx.query).toString();
  const hasBody = fx.method !== "GET" && fx.method !== "HEAD";
  return await fetch(`${proxy.url}${fx.path}${query ? `?${query}` : ""}`, {
    method: fx.method,
    headers,
    body: hasBody ? (typeof body === "string" ? body : JSON.stringify(body)) : undefined,
  });
}

function post(proxy: TestProxy, body: unknown) {
  return fetch(`${proxy.url}/v1/messages`, {
    method: "POST",
    headers: {
      "x-api-key": TEST_CLIENT_KEY,
      "anthropic-version": "2023-06-01",
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
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

type Tool = { name: string; defer_loading?: boolean; input_schema?: unknown };
type UpstreamTool = { function: { name: string; parameters: Record<string, unknown> } };

const BILLING = "x-anthropic-billing-header: cc_version=2.1.332.fa9; cc_entrypoint=sdk-cli;";

describe(`Claude Code ${versionDir.slice("claude-code-".length)} (recorded requests)`, () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  const last = (): Recorded => upstream.requests[upstream.requests.length - 1]!;

  before(async () => {
    upstream = await startFakeUpstream((req) =>
      req.body.stream
        ? {
          sse: [
            chunk({ role: "assistant", content: "" }),
            chunk({ content: "Done" }),
            chunk({}, "stop"),
            usageChunk({ prompt_tokens: 20_000, completion_tokens: 3 }),
          ],
        }
        : { json: completion({ content: "Done" }) }
    );
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

  it("has the five recorded scenarios and the side calls", () => {
    const names = messageFixtures.map(([n]) => n).join(" ");
    const expected = [
      "write-01",
      "write-02",
      "parallel-02",
      "subagent-03",
      "subagent-04",
      "title-01",
    ];
    for (const p of expected) {
      assert.ok(names.includes(p), `${p} in ${names}`);
    }
    assert.ok(sideFixtures.length > 0);
  });

  for (const [name, fx] of messageFixtures) {
    it(`${name}: accepted with its headers and betas, streamed back whole`, async () => {
      const before = upstream.requests.length;
      const res = await replay(proxy, fx);
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.equal(upstream.requests.length, before + 1);
      assert.match(text, /^event: message_start/);
      assert.match(text, /event: message_stop\n/);
      assert.ok(!text.includes("event: error"), text);
    });

    it(`${name}: every text, tool and result reaches the upstream; no billing line`, async () => {
      await (await replay(proxy, fx)).text();
      const sent = JSON.stringify(last().body);
      const body = fx.body as {
        system: { text: string }[];
        messages: { content: unknown }[];
        tools?: Tool[];
      };
      assert.ok(!sent.includes("x-anthropic-billing-header"), "billing line removed");
      const expected = [
        ...body.system.map((b) => b.text).filter((t) => !t.startsWith("x-anthropic-billing")),
        ...strings(body.messages.map((m) => m.content)).filter((s) =>
          s.length > 20 && !s.startsWith("toolu_")
        ),
      ];
      for (const text of expected) {
        assert.ok(
          sent.includes(JSON.stringify(text.trim()).slice(1, -1)),
          `upstream request carries: ${text.slice(0, 60)}`,
        );
      }
      const sentTools = ((last().body.tools ?? []) as UpstreamTool[]).map((t) => t.function.name);
      const offered = (body.tools ?? []).filter((t) => t.defer_loading !== true).map((t) => t.name);
      assert.deepEqual(sentTools, offered, "every tool but the deferred ones");
    });
  }

  it("the title request asks the upstream for JSON in the requested schema", async () => {
    const fx = fixture("title-01");
    await (await replay(proxy, fx)).text();
    const format = last().body.response_format;
    assert.equal(format.type, "json_schema");
    assert.deepEqual(
      format.json_schema.schema,
      (fx.body.output_config as { format: { schema: unknown } }).format.schema,
    );
    assert.equal(last().body.tools, undefined, "an empty tool list is not sent");
  });

  it("the non-streaming fallback of a recorded request is a whole message", async () => {
    const fx = fixture("parallel-02");
    const res = await replay(proxy, fx, { ...fx.body, stream: false });
    assert.equal(res.status, 200);
    const message = await res.json() as { type: string; content: { text: string }[] };
    assert.equal(message.type, "message");
    assert.equal(message.content[0]?.text, "Done");
  });

  for (const [name, fx] of sideFixtures) {
    it(`${name}: the side call is answered 2xx without reaching the upstream`, async () => {
      const before = upstream.requests.length;
      const res = await replay(proxy, fx);
      await res.body?.cancel();
      assert.ok(res.ok, `${fx.method} ${fx.path}: ${res.status}`);
      assert.equal(upstream.requests.length, before);
    });
  }

  describe("the billing line", () => {
    const systemOf = () => {
      const messages = last().body.messages as { role: string; content: string }[];
      return messages.filter((m) => m.role === "system").map((m) => m.content).join("\n---\n");
    };
    const base = { model: "claude-sonnet-4-6", max_tokens: 100 };
    const user = { role: "user", content: "hi" };

    it("goes as a line from a system block, keeping the text after it", async () => {
      const res = await post(proxy, {
        ...base,
        system: [{ type: "text", text: `${BILLING}\nYou are terse.` }, {
          type: "text",
          text: "Second block.",
        }],
        messages: [user],
      });
      assert.equal(res.status, 200, await res.text());
      assert.equal(systemOf(), "You are terse.\n\nSecond block.");
    });

    it("goes from a plain-string system prompt, in any position", async () => {
      const res = await post(proxy, {
        ...base,
        system: `Be brief.\n${BILLING}\nAnd exact.`,
        messages: [user],
      });
      assert.equal(res.status, 200, await res.text());
      assert.equal(systemOf(), "Be brief.\nAnd exact.");
    });

    it("goes from a role: system message, string or blocks", async () => {
      for (
        const content of [`${BILLING}\nMid-conversation note.`, [{
          type: "text",
          text: `${BILLING}\nMid-conversation note.`,
        }]]
      ) {
        const res = await post(proxy, {
          ...base,
          system: "Top.",
          messages: [user, { role: "system", content }],
        });
        assert.equal(res.status, 200, await res.text());
        assert.equal(systemOf(), "Top.\n\nMid-conversation note.");
      }
    });

    it("a block that is only the billing line disappears; other text is untouched", async () => {
      const res = await post(proxy, {
        ...base,
        system: [{ type: "text", text: BILLING }, {
          type: "text",
          text: "Mentions x-anthropic-billing-header: inside a line stay.",
        }],
        messages: [user],
      });
      assert.equal(res.status, 200, await res.text());
      assert.equal(systemOf(), "Mentions x-anthropic-billing-header: inside a line stay.");
    });
  });

  describe("tool search (defer_loading)", () => {
    const tool = (name: string, deferred: boolean) => ({
      name,
      description: name,
      input_schema: { type: "object", properties: { q: { type: "string" } } },
      ...(deferred ? { defer_loading: true } : {}),
    });
    const tools = [tool("ToolSearch", false), tool("mcp__db__query", true), tool("Other", true)];
    const sentNames = () => (last().body.tools as UpstreamTool[]).map((t) => t.function.name);

    it("a deferred tool is not offered until a tool_reference loads it", async () => {
      let res = await post(proxy, {
        model: "claude-sonnet-4-6",
        max_tokens: 100,
        tools,
        messages: [{ role: "user", content: "find the db tool" }],
      });
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(sentNames(), ["ToolSearch"]);

      res = await post(proxy, {
        model: "claude-sonnet-4-6",
        max_tokens: 100,
        tools,
        messages: [
          { role: "user", content: "find the db tool" },
          {
            role: "assistant",
            content: [{ type: "tool_use", id: "toolu_1", name: "ToolSearch", input: { q: "db" } }],
          },
          {
            role: "user",
            content: [{
              type: "tool_result",
              tool_use_id: "toolu_1",
              content: [{ type: "tool_reference", tool_name: "mcp__db__query" }],
            }],
          },
        ],
      });
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(sentNames(), ["ToolSearch", "mcp__db__query"]);
    });

    it("only deferred tools: the request goes without tools rather than with none loaded", async () => {
      const res = await post(proxy, {
        model: "claude-sonnet-4-6",
        max_tokens: 100,
        tools: [tool("Other", true)],
        messages: [{ role: "user", content: "hi" }],
      });
      assert.equal(res.status, 200, await res.text());
      assert.equal(last().body.tools, undefined);
    });
  });

  describe("tool changes inside the conversation", () => {
    const schema = { type: "object", properties: { q: { type: "string" } } };
    const tools = [
      { name: "Read", description: "read", input_schema: schema },
      { name: "mcp__late__ping", description: "ping", input_schema: schema, defer_loading: true },
    ];
    const sentNames = () =>
      ((last().body.tools ?? []) as UpstreamTool[]).map((t) => t.function.name);
    const send = (messages: unknown[]) =>
      post(proxy, { model: "claude-sonnet-4-6", max_tokens: 100, tools, messages });
    const user = { role: "user", content: "go on" };
    const change = (...content: unknown[]) => ({ role: "system", content });

    it("a tool_addition shows a deferred tool by reference, or adds one by definition", async () => {
      const res = await send([
        user,
        change(
          { type: "text", text: "Tools changed." },
          { type: "tool_addition", tool: { type: "tool_reference", name: "mcp__late__ping" } },
          {
            type: "tool_addition",
            tool: {
              type: "tool_definition",
              definition: { name: "mcp__late__echo", description: "echo", input_schema: schema },
            },
          },
        ),
        user,
      ]);
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(sentNames(), ["Read", "mcp__late__ping", "mcp__late__echo"]);
      assert.match(JSON.stringify(last().body.messages), /Tools changed\./);
    });

    it("a later tool_removal hides the tool again; a new addition brings it back", async () => {
      const add = {
        type: "tool_addition",
        tool: {
          type: "tool_definition",
          definition: { name: "mcp__late__echo", input_schema: schema },
        },
      };
      const remove = {
        type: "tool_removal",
        tool: { type: "tool_reference", name: "mcp__late__echo" },
      };
      const removeRead = { type: "tool_removal", tool: { type: "tool_reference", name: "Read" } };
      let res = await send([user, change(add), user, change(remove, removeRead), user]);
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(sentNames(), []);
      res = await send([user, change(add), user, change(remove), user, change(add), user]);
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(sentNames(), ["Read", "mcp__late__echo"]);
    });

    it("a tool change of a shape newer than the proxy is accepted and changes nothing", async () => {
      const res = await send([
        user,
        change({ type: "tool_addition", tool: { type: "tool_group", names: ["x"] } }),
        user,
      ]);
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(sentNames(), ["Read"]);
    });
  });

  describe("regex patterns in tool schemas", () => {
    // Claude Code's Artifact tool, as users reported it failing on OpenAI.
    const ARTIFACT = String.raw`^(?!__.*__$)[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}"\\./[\]]{1,200}$`;
    const table: [string, boolean][] = [
      ["^wf_[a-z0-9-]{6,}$", true],
      [String.raw`^\d{4}-\d{2}$`, true],
      [String.raw`^[\\]p{x}$`, true],
      [ARTIFACT, false],
      [String.raw`\p{L}+`, false],
      [String.raw`\u{1F600}`, false],
      ["(?<year>\\d{4})", false],
      ["^(?=.*@).+$", false],
      ["(?<!x)y", false],
      [String.raw`(a)\1`, false],
    ];
    for (const [pattern, portable] of table) {
      it(`${pattern}: ${portable ? "kept" : "left out"}`, () => {
        assert.equal(isPortablePattern(pattern), portable);
      });
    }

    it("leaves out only the unreadable patterns, wherever they are, and nothing else", async () => {
      const schema = {
        type: "object",
        properties: {
          collection: { type: "string", pattern: "^[a-z]+$" },
          field: { type: "string", pattern: ARTIFACT, maxLength: 200 },
          // A property that is named `pattern` is a name, not the keyword.
          pattern: { type: "string", description: "glob" },
          list: { type: "array", items: { type: "string", pattern: String.raw`\p{L}` } },
          map: {
            type: "object",
            patternProperties: { [String.raw`^\p{L}+$`]: { type: "string" }, "^x-": {} },
          },
        },
        required: ["field"],
      };
      const res = await post(proxy, {
        model: "claude-sonnet-4-6",
        max_tokens: 100,
        tools: [{ name: "Artifact", input_schema: schema }],
        messages: [{ role: "user", content: "hi" }],
      });
      assert.equal(res.status, 200, await res.text());
      const sent = (last().body.tools as UpstreamTool[])[0]!.function.parameters;
      assert.deepEqual(sent, {
        type: "object",
        properties: {
          collection: { type: "string", pattern: "^[a-z]+$" },
          field: { type: "string", maxLength: 200 },
          pattern: { type: "string", description: "glob" },
          list: { type: "array", items: { type: "string" } },
          map: { type: "object", patternProperties: { "^x-": {} } },
        },
        required: ["field"],
      });
    });
  });
});

describe("side calls", () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  before(async () => {
    upstream = await startFakeUpstream([{ json: completion({ content: "x" }) }]);
    proxy = startProxy({ OPENAI_BASE_URL: upstream.url, ANTHROPIC_API_KEY: TEST_CLIENT_KEY });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  const calls: [string, string, string | undefined][] = [
    ["HEAD", "/", undefined],
    ["HEAD", "/api/hello", undefined],
    ["GET", "/api/hello", undefined],
    ["GET", "/api/claude_cli/bootstrap?entrypoint=cli&model=x", undefined],
    ["POST", "/api/event_logging/batch", JSON.stringify({ events: [{ n: 1 }] })],
    ["POST", "/api/claude_code/metrics", "{}"],
    ["GET", "/api/claude_code/organizations/metrics_enabled", undefined],
  ];
  for (const [method, path, body] of calls) {
    it(`${method} ${path}: 200 without a key, one debug line and no request line`, async () => {
      const from = proxy.logs.length;
      const res = await fetch(`${proxy.url}${path}`, { method, body });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.ok(res.headers.get("request-id"));
      if (method === "HEAD") assert.equal(text, "");
      const lines = proxy.logs.slice(from);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0]!, /DEBUG/);
      assert.match(lines[0]!, /side call/);
      assert.equal(upstream.requests.length, 0);
    });
  }

  it("the bootstrap answer is what the CLI validates: no extra models, no account data", async () => {
    const res = await fetch(`${proxy.url}/api/claude_cli/bootstrap`);
    assert.deepEqual(await res.json(), { client_data: null, additional_model_options: [] });
  });

  it("other paths keep their answers: GET / describes the proxy, an unknown /api path is 404", async () => {
    const root = await fetch(`${proxy.url}/`);
    assert.equal(((await root.json()) as { name: string }).name, "claude-code-proxy");
    const unknown = await fetch(`${proxy.url}/api/unknown_thing`);
    await unknown.body?.cancel();
    assert.equal(unknown.status, 404);
  });
});

describe("context windows", () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  const LIMITS = JSON.stringify({
    "small-local": { context: 8_192, output: 2_048 },
    "Org/Tuned-Model": { context: 50_000 },
  });
  before(async () => {
    upstream = await startFakeUpstream((req) =>
      req.path.endsWith("/models")
        ? {
          json: {
            object: "list",
            data: [
              { id: "small-local", object: "model", created: 1_700_000_000 },
              { id: "mystery", object: "model", created: 1_700_000_000 },
            ],
          },
        }
        : { json: completion({ content: "ok" }) }
    );
    proxy = startProxy({
      OPENAI_BASE_URL: upstream.url,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      BIG_MODEL: "gpt-4o",
      MIDDLE_MODEL: "org/tuned-model",
      SMALL_MODEL: "small-local",
      MODEL_LIMITS: LIMITS,
    });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  const get = async (path: string) => {
    const res = await fetch(`${proxy.url}${path}`, { headers: { "x-api-key": TEST_CLIENT_KEY } });
    assert.equal(res.status, 200);
    return await res.json() as Record<string, unknown>;
  };
  type Entry = { id: string; max_input_tokens?: number; max_tokens: number };

  it("GET /v1/models gives each mapped model's window and output limit", async () => {
    const list = (await get("/v1/models")).data as Entry[];
    const byId = new Map(list.map((m) => [m.id, m]));
    const pick = (id: string) => {
      const m = byId.get(id);
      assert.ok(m, id);
      return { max_input_tokens: m.max_input_tokens, max_tokens: m.max_tokens };
    };
    // Built-in table (gpt-4o), MODEL_LIMITS in any case and with the router prefix, the default
    // output cap for a model nobody knows.
    assert.deepEqual(pick("claude-opus-4-8"), { max_input_tokens: 128_000, max_tokens: 16_384 });
    assert.deepEqual(pick("claude-sonnet-4-6"), { max_input_tokens: 50_000, max_tokens: 16_384 });
    assert.deepEqual(pick("claude-haiku-4-5"), { max_input_tokens: 8_192, max_tokens: 2_048 });
    assert.deepEqual(pick("small-local"), { max_input_tokens: 8_192, max_tokens: 2_048 });
    assert.deepEqual(pick("mystery"), { max_input_tokens: undefined, max_tokens: 16_384 });
  });

  it("GET /v1/models/{id} gives the same fields, for any Claude name the router maps", async () => {
    const one = await get("/v1/models/claude-haiku-4-5") as unknown as Entry;
    assert.equal(one.max_input_tokens, 8_192);
    assert.equal(one.max_tokens, 2_048);
    const newer = await get("/v1/models/claude-opus-5-5") as unknown as Entry;
    assert.equal(newer.max_input_tokens, 128_000);
  });

  it("a request that cannot fit the window is Anthropic's overflow error, not sent", async () => {
    const before = upstream.requests.length;
    const res = await post(proxy, {
      model: "claude-haiku-4-5",
      max_tokens: 100,
      messages: [{ role: "user", content: "word ".repeat(20_000) }],
    });
    assert.equal(res.status, 400);
    const body = await res.json() as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.message, /^prompt is too long: \d+ tokens > 8192 maximum$/);
    assert.equal(upstream.requests.length, before, "nothing sent upstream");
  });

  it("deferred tools not yet loaded do not count against the window; loaded ones do", async () => {
    const big = {
      name: "mcp__docs__search",
      description: "Search the documentation. ".repeat(2_000),
      input_schema: { type: "object", properties: { q: { type: "string" } } },
      defer_loading: true,
    };
    const ask = (messages: unknown[]) =>
      post(proxy, { model: "claude-haiku-4-5", max_tokens: 100, tools: [big], messages });
    const res = await ask([{ role: "user", content: "hi" }]);
    assert.equal(res.status, 200, await res.text());
    const loaded = await ask([
      { role: "user", content: "hi" },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "toolu_s", name: "ToolSearch", input: {} }],
      },
      {
        role: "user",
        content: [{
          type: "tool_result",
          tool_use_id: "toolu_s",
          content: [{ type: "tool_reference", tool_name: "mcp__docs__search" }],
        }],
      },
    ]);
    assert.equal(loaded.status, 400);
    assert.match(await loaded.text(), /prompt is too long/);
  });

  it("a request that fits goes through, max_tokens within the model's output limit", async () => {
    const res = await post(proxy, {
      model: "claude-haiku-4-5",
      max_tokens: 32_000,
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(res.status, 200, await res.text());
    const sent = upstream.requests.at(-1)!.body;
    assert.equal(sent.model, "small-local");
    assert.equal(sent.max_tokens, 2_048);
  });

  it("MODEL_LIMITS names are plain keys: `constructor` is a model, nothing is inherited", () => {
    const config = configFromEnv({
      OPENAI_API_KEY: "k",
      MODEL_LIMITS: '{"constructor":{"context":1000},"toString":{"output":10}}',
    });
    const overrides = { ...config, modelLimits: config.modelLimits };
    assert.equal(modelInfo("constructor", overrides).contextWindow, 1000);
    assert.equal(modelInfo("tostring", overrides).maxOutput, 10);
    assert.equal(modelInfo("hasOwnProperty", overrides).contextWindow, undefined);
    assert.equal(modelInfo("valueOf", overrides).maxOutput, undefined);
  });

  it("MODEL_LIMITS that is not the documented shape stops start-up, naming the variable", () => {
    for (
      const bad of ["{", "[]", '{"m":{"context":0}}', '{"m":{"ctx":1}}', '{"m":{"output":1.5}}']
    ) {
      assert.throws(
        () => configFromEnv({ OPENAI_API_KEY: "k", MODEL_LIMITS: bad }),
        (e: Error) => e.message.includes("MODEL_LIMITS"),
        bad,
      );
    }
  });
});
