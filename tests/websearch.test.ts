/**
 * web_search on any model: the proxy offers the server tool to the upstream model as a function,
 * runs the searches against a search backend (fakes shaped like Brave, Tavily and SearXNG on
 * 127.0.0.1), feeds the results back in a follow-up request, and answers with Anthropic's
 * server_tool_use / web_search_tool_result blocks and usage.server_tool_use, streamed or not.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import {
  chunk,
  completion,
  type Recorded,
  type Reply,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import { TEST_CLIENT_KEY } from "./helpers/proxy.ts";
import { searchEnv, startSearchFake } from "./helpers/search_fakes.ts";
import { startSearchProxy } from "./helpers/search_proxy.ts";
import { responseStream } from "./helpers/responses_fake.ts";
import { decodeSnippet } from "../lib/websearch/results.ts";
import { citationsFor } from "../lib/websearch/citations.ts";
import { configFromEnv } from "../lib/ops/config.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const WEB_SEARCH = { type: "web_search_20250305", name: "web_search" };

/** What the upstream model does per request: call web_search, or answer. */
type Step =
  | { search: string[]; text?: string }
  | { answer: string }
  | { mixed: string };

function reply(step: Step, stream: boolean, round: number): Reply {
  if ("answer" in step) {
    return stream
      ? { sse: textStream(step.answer, { usage: { prompt_tokens: 100, completion_tokens: 10 } }) }
      : {
        json: completion({
          content: step.answer,
          usage: { prompt_tokens: 100, completion_tokens: 10 },
        }),
      };
  }
  const calls = "mixed" in step
    ? [
      { id: `call_s${round}`, name: "web_search", args: JSON.stringify({ query: step.mixed }) },
      { id: `call_b${round}`, name: "Bash", args: JSON.stringify({ command: "ls" }) },
    ]
    : step.search.map((query, i) => ({
      id: `call_${round}_${i}`,
      name: "web_search",
      args: JSON.stringify({ query }),
    }));
  return stream
    ? {
      sse: toolCallStream(calls, {
        text: "text" in step ? step.text : undefined,
        usage: { prompt_tokens: 50, completion_tokens: 5 },
      }),
    }
    : {
      json: completion({
        content: "text" in step ? step.text ?? null : null,
        tool_calls: calls,
        usage: { prompt_tokens: 50, completion_tokens: 5 },
      }),
    };
}

async function setUp(
  kind: "brave" | "tavily" | "searxng",
  steps: Step[],
  env: Record<string, string> = {},
) {
  const search = await startSearchFake(kind);
  // The step is the round within one client request: how many model turns it already holds.
  const upstream = await startFakeUpstream((req: Recorded) => {
    const round = (req.body?.messages ?? []).filter((m: Any) => m.tool_calls).length;
    return reply(steps[Math.min(round, steps.length - 1)]!, req.body?.stream === true, round);
  });
  const proxy = startSearchProxy(
    { OPENAI_BASE_URL: upstream.url, ...searchEnv(kind, search), ...env },
    undefined,
  );
  const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
  return {
    search,
    upstream,
    proxy,
    client,
    close: async () => {
      await proxy.close();
      await upstream.close();
      await search.close();
    },
  };
}

function create(client: Anthropic, params: Record<string, unknown>): Promise<Any> {
  return client.messages.create({
    model: "claude-sonnet-4-6",
    max_tokens: 1024,
    messages: [{ role: "user", content: "What is new in JavaScript runtimes?" }],
    tools: [WEB_SEARCH],
    ...params,
  } as Any);
}

async function stream(client: Anthropic, params: Record<string, unknown>) {
  const s = client.messages.stream({
    model: "claude-sonnet-4-6",
    max_tokens: 1024,
    messages: [{ role: "user", content: "What is new in JavaScript runtimes?" }],
    tools: [WEB_SEARCH],
    ...params,
  } as Any);
  const events: Any[] = [];
  s.on("streamEvent", (e: Any) => events.push(structuredClone(e)));
  const final: Any = await s.finalMessage();
  return { events, final };
}

/** The stream grammar across rounds: one message_start, indexes 0,1,2… each opened and closed. */
function assertOneMessage(events: Any[]) {
  assert.equal(events.filter((e) => e.type === "message_start").length, 1);
  assert.equal(events.filter((e) => e.type === "message_delta").length, 1);
  assert.equal(events.filter((e) => e.type === "message_stop").length, 1);
  assert.equal(events.at(-1).type, "message_stop");
  const starts = events.filter((e) => e.type === "content_block_start").map((e) => e.index);
  assert.deepEqual(starts, starts.map((_, i) => i));
  const stops = events.filter((e) => e.type === "content_block_stop").map((e) => e.index);
  assert.deepEqual(stops, starts);
}

describe("web_search with Brave, not streamed", () => {
  let t: Awaited<ReturnType<typeof setUp>>;
  before(async () => {
    t = await setUp("brave", [{ search: ["deno 3 release"], text: "Let me search." }, {
      answer: "Deno 3.0 ships a new package manager.",
    }]);
  });
  after(() => t.close());

  it("answers with server_tool_use, web_search_tool_result, then the model's answer", async () => {
    const message = await create(t.client, {});
    assert.deepEqual(message.content.map((b: Any) => b.type), [
      "text",
      "server_tool_use",
      "web_search_tool_result",
      "text",
    ]);
    const [, use, result, answer] = message.content;
    assert.match(use.id, /^srvtoolu_/);
    assert.equal(use.name, "web_search");
    assert.deepEqual(use.input, { query: "deno 3 release" });
    assert.equal(result.tool_use_id, use.id);
    assert.equal(result.content.length, 3);
    assert.deepEqual(
      { ...result.content[0], encrypted_content: "…" },
      {
        type: "web_search_result",
        url: "https://deno.com/blog/v3.0",
        title: "Deno 3.0 released",
        encrypted_content: "…",
        page_age: "2026-11-20T10:00:00",
      },
    );
    assert.equal(
      decodeSnippet(result.content[0].encrypted_content),
      "Deno 3.0 ships a new package manager.",
    );
    assert.equal(result.content[1].page_age, null);
    assert.equal(answer.text, "Deno 3.0 ships a new package manager.");
    // The answer quotes the first result's snippet: it cites it, as Anthropic's text does.
    assert.equal(answer.citations.length, 1);
    assert.deepEqual({ ...answer.citations[0], encrypted_index: "…" }, {
      type: "web_search_result_location",
      url: "https://deno.com/blog/v3.0",
      title: "Deno 3.0 released",
      encrypted_index: "…",
      cited_text: "Deno 3.0 ships a new package manager.",
    });
    assert.equal(message.stop_reason, "end_turn");
    assert.match(message.id, /^msg_/);
    assert.deepEqual(message.usage.server_tool_use, { web_search_requests: 1 });
    assert.equal(message.usage.input_tokens, 150);
    assert.equal(message.usage.output_tokens, 15);
  });

  it("asks Brave with its token and the query, and feeds the results back to the model", () => {
    const [searchReq] = t.search.requests;
    assert.equal(searchReq!.headers["x-subscription-token"], "brave-test-key-0123456789");
    assert.equal(searchReq!.query.get("q"), "deno 3 release");
    assert.equal(searchReq!.query.get("count"), "5");
    const [first, second] = t.upstream.requests;
    const tools = first!.body.tools.map((x: Any) => x.function.name);
    assert.deepEqual(tools, ["web_search"]);
    assert.equal(first!.body.tools[0].function.parameters.required[0], "query");
    const messages = second!.body.messages;
    const call = messages.at(-2);
    assert.equal(call.role, "assistant");
    assert.equal(call.tool_calls[0].id, "call_0_0");
    assert.equal(call.tool_calls[0].function.name, "web_search");
    const result = messages.at(-1);
    assert.equal(result.role, "tool");
    assert.equal(result.tool_call_id, "call_0_0");
    assert.match(result.content, /\[1\] Deno 3\.0 released\nURL: https:\/\/deno\.com\/blog\/v3\.0/);
    assert.match(result.content, /Deno 3\.0 ships a new package manager\./);
  });

  it("keeps the search key out of the logs, and logs each search at debug level", () => {
    assert.ok(!t.proxy.logs.join("\n").includes("brave-test-key-0123456789"));
    const lines = t.proxy.logs.filter((l) => l.includes("server tool"));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /web_search/);
    assert.match(lines[0]!, /3 results/);
  });
});

describe("web_search with Tavily, streamed through the SDK", () => {
  let t: Awaited<ReturnType<typeof setUp>>;
  before(async () => {
    t = await setUp("tavily", [{ search: ["bun 2"] }, {
      answer: "Bun 2 adds a bundler cache (https://bun.sh/blog/bun-v2).",
    }]);
  });
  after(() => t.close());

  it("streams one message across the rounds, with the server blocks in Anthropic's shapes", async () => {
    const { events, final } = await stream(t.client, {
      tools: [{ ...WEB_SEARCH, allowed_domains: ["bun.sh"] }],
    });
    assertOneMessage(events);
    assert.deepEqual(final.content.map((b: Any) => b.type), [
      "server_tool_use",
      "web_search_tool_result",
      "text",
    ]);
    const start = events.find((e) => e.type === "content_block_start" && e.index === 0);
    assert.deepEqual(start.content_block.input, {});
    assert.equal(start.content_block.type, "server_tool_use");
    const deltas = events.filter((e) => e.type === "content_block_delta" && e.index === 0);
    assert.ok(deltas.every((d) => d.delta.type === "input_json_delta"));
    assert.deepEqual(final.content[0].input, { query: "bun 2" });
    const resultStart = events.find((e) => e.type === "content_block_start" && e.index === 1);
    assert.equal(resultStart.content_block.type, "web_search_tool_result");
    assert.equal(resultStart.content_block.tool_use_id, final.content[0].id);
    // allowed_domains: only bun.sh results reach the client.
    assert.deepEqual(final.content[1].content.map((r: Any) => r.url), [
      "https://bun.sh/blog/bun-v2",
    ]);
    assert.equal(final.content[2].text, "Bun 2 adds a bundler cache (https://bun.sh/blog/bun-v2).");
    // The answer names a result's URL: a citations_delta in its text block cites it.
    const cited = events.filter((e) => e.delta?.type === "citations_delta");
    assert.deepEqual(cited.map((e) => e.index), [2]);
    assert.equal(final.content[2].citations[0].url, "https://bun.sh/blog/bun-v2");
    assert.equal(final.content[2].citations[0].cited_text, "Bun 2 adds a bundler cache.");
    assert.equal(final.stop_reason, "end_turn");
    assert.deepEqual(final.usage.server_tool_use, { web_search_requests: 1 });
    assert.equal(final.usage.input_tokens, 150);
  });

  it("sends Tavily its key as a bearer token and the domains as include_domains", () => {
    const [req] = t.search.requests;
    assert.equal(req!.headers.authorization, "Bearer tvly-test-key-0123456789");
    assert.deepEqual(req!.body, { query: "bun 2", max_results: 5, include_domains: ["bun.sh"] });
  });
});

describe("web_search with SearXNG", () => {
  let t: Awaited<ReturnType<typeof setUp>>;
  before(async () => {
    t = await setUp("searxng", [{ search: ["node"] }, { answer: "Node 26." }]);
  });
  after(() => t.close());

  it("asks for JSON and leaves blocked domains out, streamed", async () => {
    const { events, final } = await stream(t.client, {
      tools: [{ ...WEB_SEARCH, blocked_domains: ["deno.com", "nodejs.org/en"] }],
    });
    assertOneMessage(events);
    const [req] = t.search.requests;
    assert.equal(req!.query.get("format"), "json");
    // A path narrows the match: the backend cannot exclude it without the whole host.
    assert.equal(req!.query.get("q"), "node -site:deno.com");
    assert.deepEqual(final.content[1].content.map((r: Any) => r.url), [
      "https://bun.sh/blog/bun-v2",
    ]);
  });
});

const NODE_HITS = [
  { title: "Node 26", url: "https://nodejs.org/en/blog/release", snippet: "Node 26 is out." },
  { title: "fs", url: "https://nodejs.org/api/fs.html", snippet: "The fs module." },
  { title: "Deno 3", url: "https://deno.com/blog/v3.0", snippet: "Deno 3.0." },
];

describe("domain entries with a path", () => {
  const urls = (message: Any) => message.content[1].content.map((r: Any) => r.url);

  it("a blocked path is not sent as a site exclusion: only its pages are left out", async () => {
    const t = await setUp("searxng", [{ search: ["node"] }, { answer: "ok" }]);
    try {
      t.search.behave({ hits: NODE_HITS });
      const message = await create(t.client, {
        tools: [{ ...WEB_SEARCH, blocked_domains: ["nodejs.org/en"] }],
      });
      assert.equal(t.search.requests[0]!.query.get("q"), "node");
      assert.deepEqual(urls(message), [
        "https://nodejs.org/api/fs.html",
        "https://deno.com/blog/v3.0",
      ]);
    } finally {
      await t.close();
    }
  });

  it("Tavily excludes only the hosts blocked whole", async () => {
    const t = await setUp("tavily", [{ search: ["node"] }, { answer: "ok" }]);
    try {
      t.search.behave({ hits: NODE_HITS });
      const both = await create(t.client, {
        tools: [{ ...WEB_SEARCH, blocked_domains: ["nodejs.org/en", "deno.com"] }],
      });
      assert.deepEqual(t.search.requests[0]!.body.exclude_domains, ["deno.com"]);
      assert.deepEqual(urls(both), ["https://nodejs.org/api/fs.html"]);
      await create(t.client, { tools: [{ ...WEB_SEARCH, blocked_domains: ["nodejs.org/en"] }] });
      assert.deepEqual(t.search.requests[1]!.body, { query: "node", max_results: 5 });
    } finally {
      await t.close();
    }
  });

  it("an allowed path asks for its host, then keeps only the path's results", async () => {
    const t = await setUp("tavily", [{ search: ["node"] }, { answer: "ok" }]);
    try {
      t.search.behave({ hits: NODE_HITS });
      const message = await create(t.client, {
        tools: [{ ...WEB_SEARCH, allowed_domains: ["nodejs.org/en", "nodejs.org/fr"] }],
      });
      assert.deepEqual(t.search.requests[0]!.body.include_domains, ["nodejs.org"]);
      assert.deepEqual(urls(message), ["https://nodejs.org/en/blog/release"]);
    } finally {
      await t.close();
    }
  });
});

describe("citations by URL", () => {
  const hit = (url: string) => ({ title: url, url, snippet: "", pageAge: null });
  const table: { name: string; text: string; url: string; cited: boolean }[] = [
    {
      name: "a URL at the end",
      text: "See https://example.com/a",
      url: "https://example.com/a",
      cited: true,
    },
    {
      name: "a longer path",
      text: "See https://example.com/about-us today.",
      url: "https://example.com/a",
      cited: false,
    },
    {
      name: "a longer name",
      text: "Read https://github.com/denoland/deno_std for that.",
      url: "https://github.com/denoland/deno",
      cited: false,
    },
    {
      name: "a deeper path",
      text: "See https://example.com/a/b.",
      url: "https://example.com/a",
      cited: false,
    },
    {
      name: "a file name after a dot",
      text: "See https://example.com/a.html",
      url: "https://example.com/a",
      cited: false,
    },
    {
      name: "a query string",
      text: "See https://example.com/a?page=2",
      url: "https://example.com/a",
      cited: false,
    },
    {
      name: "a full stop",
      text: "See https://example.com/a. Then go.",
      url: "https://example.com/a",
      cited: true,
    },
    {
      name: "a question mark at the end",
      text: "Is it https://example.com/a?",
      url: "https://example.com/a",
      cited: true,
    },
    {
      name: "a markdown link",
      text: "[docs](https://example.com/a).",
      url: "https://example.com/a",
      cited: true,
    },
    {
      name: "angle brackets",
      text: "<https://example.com/a>",
      url: "https://example.com/a",
      cited: true,
    },
    {
      name: "quotes",
      text: 'url: "https://example.com/a",',
      url: "https://example.com/a",
      cited: true,
    },
    {
      name: "a comma",
      text: "https://example.com/a, and more",
      url: "https://example.com/a",
      cited: true,
    },
    {
      name: "a fragment",
      text: "See https://example.com/a#usage",
      url: "https://example.com/a",
      cited: true,
    },
    {
      name: "a trailing slash in the text",
      text: "See https://example.com/a/ now",
      url: "https://example.com/a",
      cited: true,
    },
    {
      name: "a trailing slash in the hit",
      text: "See https://example.com/a now",
      url: "https://example.com/a/",
      cited: true,
    },
    {
      name: "a bare host with a slash",
      text: "At https://bun.sh/.",
      url: "https://bun.sh",
      cited: true,
    },
    {
      name: "the second mention is whole",
      text: "Not https://example.com/abc but https://example.com/a",
      url: "https://example.com/a",
      cited: true,
    },
  ];
  for (const c of table) {
    it(`${c.name}: ${c.cited ? "cited" : "not cited"}`, () => {
      const cited = citationsFor(c.text, [hit(c.url)]).map((x) => x.url);
      assert.deepEqual(cited, c.cited ? [c.url] : []);
    });
  }
});

describe("allowed_domains with Brave", () => {
  it("narrows the query with site: operators and keeps only matching results", async () => {
    const t = await setUp("brave", [{ search: ["runtime news"] }, { answer: "ok" }]);
    try {
      const one = await create(t.client, {
        tools: [{ ...WEB_SEARCH, allowed_domains: ["deno.com"] }],
      });
      assert.equal(t.search.requests[0]!.query.get("q"), "runtime news site:deno.com");
      assert.deepEqual(one.content[1].content.map((r: Any) => r.url), [
        "https://deno.com/blog/v3.0",
      ]);
      await create(t.client, {
        tools: [{ ...WEB_SEARCH, allowed_domains: ["deno.com", "bun.sh"] }],
      });
      assert.equal(
        t.search.requests[1]!.query.get("q"),
        "runtime news (site:deno.com OR site:bun.sh)",
      );
    } finally {
      await t.close();
    }
  });
});

describe("max_uses and the hard cap on rounds", () => {
  it("answers calls beyond max_uses with max_uses_exceeded", async () => {
    const t = await setUp("brave", [{ search: ["one", "two"] }, { answer: "done" }]);
    try {
      for (const streamed of [false, true]) {
        const message = streamed
          ? (await stream(t.client, { tools: [{ ...WEB_SEARCH, max_uses: 1 }] })).final
          : await create(t.client, { tools: [{ ...WEB_SEARCH, max_uses: 1 }] });
        const results = message.content.filter((b: Any) => b.type === "web_search_tool_result");
        assert.equal(results.length, 2);
        assert.ok(Array.isArray(results[0].content));
        assert.deepEqual(results[1].content, {
          type: "web_search_tool_result_error",
          error_code: "max_uses_exceeded",
        });
        assert.deepEqual(message.usage.server_tool_use, { web_search_requests: 1 });
      }
      assert.equal(t.search.requests.length, 2);
    } finally {
      await t.close();
    }
  });

  it("runs many calls of one round, a few at a time, with results in call order", async () => {
    const queries = ["q1", "q2", "q3", "q4", "q5", "q6"];
    const t = await setUp("brave", [{ search: queries }, { answer: "done" }]);
    try {
      const { events, final } = await stream(t.client, {});
      assertOneMessage(events);
      const uses = final.content.filter((b: Any) => b.type === "server_tool_use");
      const results = final.content.filter((b: Any) => b.type === "web_search_tool_result");
      assert.deepEqual(uses.map((u: Any) => u.input.query), queries);
      assert.deepEqual(results.map((r: Any) => r.tool_use_id), uses.map((u: Any) => u.id));
      assert.equal(t.search.requests.length, 6);
      const toolMessages = t.upstream.requests[1]!.body.messages.filter((m: Any) =>
        m.role === "tool"
      );
      assert.deepEqual(
        toolMessages.map((m: Any) => m.tool_call_id),
        queries.map((_, i) => `call_0_${i}`),
      );
    } finally {
      await t.close();
    }
  });

  it("stops after 8 upstream rounds, the last without the tool", async () => {
    const t = await setUp("brave", [{ search: ["again"] }]);
    try {
      const { events, final } = await stream(t.client, {});
      assertOneMessage(events);
      assert.equal(t.upstream.requests.length, 8);
      assert.equal(t.upstream.requests[7]!.body.tools, undefined);
      assert.equal(final.usage.server_tool_use.web_search_requests, 8);
      assert.equal(final.stop_reason, "end_turn");
    } finally {
      await t.close();
    }
  });
});

describe("search failures become documented error codes", () => {
  const cases: { name: string; behave: Any; code: string }[] = [
    { name: "HTTP 429", behave: { status: 429 }, code: "too_many_requests" },
    { name: "HTTP 500", behave: { status: 500 }, code: "unavailable" },
    { name: "an HTML page", behave: { html: "<html>login</html>" }, code: "unavailable" },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.code}, and the stream completes`, async () => {
      const t = await setUp("searxng", [{ search: ["q"] }, { answer: "Sorry, search failed." }]);
      try {
        t.search.behave(c.behave);
        const { events, final } = await stream(t.client, {});
        assertOneMessage(events);
        assert.deepEqual(final.content[1].content, {
          type: "web_search_tool_result_error",
          error_code: c.code,
        });
        assert.deepEqual(final.usage.server_tool_use, { web_search_requests: 0 });
        assert.match(t.upstream.requests[1]!.body.messages.at(-1).content, new RegExp(c.code));
        assert.equal(final.content[2].text, "Sorry, search failed.");
      } finally {
        await t.close();
      }
    });
  }

  it("a query that is too long or missing is refused before the backend", async () => {
    const t = await setUp("brave", [{ search: ["x".repeat(401)] }, { answer: "ok" }]);
    try {
      const message = await create(t.client, {});
      assert.equal(message.content[1].content.error_code, "query_too_long");
      assert.equal(t.search.requests.length, 0);
    } finally {
      await t.close();
    }
  });

  it("a failing follow-up round ends the stream with event: error after what was sent", async () => {
    const search = await startSearchFake("brave");
    const upstream = await startFakeUpstream([
      { sse: toolCallStream([{ id: "c1", name: "web_search", args: '{"query":"q"}' }]) },
      { status: 500, json: { error: { message: "boom", type: "server_error" } } },
    ]);
    const proxy = startSearchProxy(
      { OPENAI_BASE_URL: upstream.url, ...searchEnv("brave", search) },
      undefined,
    );
    try {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
        body: JSON.stringify({
          model: "claude-sonnet-4-6",
          max_tokens: 100,
          stream: true,
          messages: [{ role: "user", content: "hi" }],
          tools: [WEB_SEARCH],
        }),
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, /"type":"web_search_tool_result"/);
      assert.match(text, /event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
      assert.doesNotMatch(text, /message_stop/);
    } finally {
      await proxy.close();
      await upstream.close();
      await search.close();
    }
  });
});

describe("server and client tools together", () => {
  it("runs the search, returns the client's tool call, and stops for it", async () => {
    const t = await setUp("brave", [{ mixed: "deno" }, { answer: "never asked" }]);
    try {
      const tools = [WEB_SEARCH, {
        name: "Bash",
        description: "run",
        input_schema: { type: "object", properties: { command: { type: "string" } } },
      }];
      for (const streamed of [false, true]) {
        const message = streamed
          ? (await stream(t.client, { tools })).final
          : await create(t.client, { tools });
        assert.deepEqual(message.content.map((b: Any) => b.type), [
          "server_tool_use",
          "tool_use",
          "web_search_tool_result",
        ]);
        assert.equal(message.stop_reason, "tool_use");
        assert.equal(message.content[1].name, "Bash");
      }
      assert.equal(t.upstream.requests.length, 2);
    } finally {
      await t.close();
    }
  });

  it("sends the client's tool result back as the answer to its call, next to the search's", async () => {
    const t = await setUp("brave", [{ mixed: "deno" }, { answer: "done" }]);
    try {
      const tools = [WEB_SEARCH, {
        name: "Bash",
        description: "run",
        input_schema: { type: "object", properties: { command: { type: "string" } } },
      }];
      const first = await create(t.client, { tools });
      const bash = first.content.find((b: Any) => b.type === "tool_use");
      const search = first.content.find((b: Any) => b.type === "server_tool_use");
      await create(t.client, {
        tools,
        messages: [
          { role: "user", content: "What is new in JavaScript runtimes?" },
          { role: "assistant", content: first.content },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: bash.id, content: "file-a file-b" }],
          },
        ],
      });
      const messages = t.upstream.requests.at(-1)!.body.messages;
      assert.deepEqual(messages.map((m: Any) => m.role), ["user", "assistant", "tool", "tool"]);
      assert.deepEqual(messages[1].tool_calls.map((c: Any) => c.id), [search.id, bash.id]);
      assert.equal(messages[2].tool_call_id, search.id);
      assert.match(messages[2].content, /deno\.com/);
      assert.equal(messages[3].tool_call_id, bash.id);
      assert.equal(messages[3].content, "file-a file-b");
    } finally {
      await t.close();
    }
  });
});

describe("search rounds sent as any other request", () => {
  it("go through the Responses API for a model that asks for it (auto), with the session's cache key", async () => {
    const search = await startSearchFake("brave");
    const upstream = await startFakeUpstream((req: Recorded) => {
      if (req.path.includes("/chat/completions")) {
        return {
          status: 404,
          json: {
            error: {
              message:
                "This model is only supported in v1/responses and not in v1/chat/completions.",
              type: "invalid_request_error",
            },
          },
        };
      }
      const answered = (req.body?.input ?? []).some((i: Any) => i.type === "function_call_output");
      return responseStream(
        answered ? [{ type: "message", text: "Deno 3.0." }] : [{
          type: "function_call",
          call_id: "call_1",
          name: "web_search",
          arguments: '{"query":"deno"}',
        }],
      );
    });
    const proxy = startSearchProxy({
      OPENAI_BASE_URL: upstream.url,
      OPENAI_API: "auto",
      BIG_MODEL: "my-deployment",
      ...searchEnv("brave", search),
    }, undefined);
    try {
      const client = new Anthropic({
        baseURL: proxy.url,
        apiKey: TEST_CLIENT_KEY,
        maxRetries: 0,
        defaultHeaders: { "x-claude-code-session-id": "session-1234" },
      });
      const { final } = await stream(client, { model: "claude-opus-4-6" });
      assert.deepEqual(final.content.map((b: Any) => b.type), [
        "server_tool_use",
        "web_search_tool_result",
        "text",
      ]);
      assert.deepEqual(upstream.requests.map((r) => r.path), [
        "/v1/chat/completions",
        "/v1/responses",
        "/v1/responses",
      ]);
      for (const r of upstream.requests.slice(1)) {
        assert.equal(r.body.prompt_cache_key, "session-1234");
      }
    } finally {
      await proxy.close();
      await upstream.close();
      await search.close();
    }
  });
});

describe("rounds whose event stream is labelled text/plain", () => {
  it("are read as the streams they are, the first round and the next", async () => {
    const search = await startSearchFake("brave");
    const upstream = await startFakeUpstream((req: Recorded) => {
      const round = (req.body?.messages ?? []).filter((m: Any) => m.tool_calls).length;
      const headers = { "content-type": "text/plain; charset=utf-8" };
      return round === 0
        ? {
          sse: toolCallStream([{
            id: "call_0",
            name: "web_search",
            args: JSON.stringify({ query: "deno" }),
          }]),
          headers,
        }
        : { sse: textStream("Deno 3.0."), headers };
    });
    const proxy = startSearchProxy(
      { OPENAI_BASE_URL: upstream.url, ...searchEnv("brave", search) },
      undefined,
    );
    try {
      const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
      const { events, final } = await stream(client, {});
      assertOneMessage(events);
      assert.deepEqual(final.content.map((b: Any) => b.type), [
        "server_tool_use",
        "web_search_tool_result",
        "text",
      ]);
      assert.equal(final.content[2].text, "Deno 3.0.");
    } finally {
      await proxy.close();
      await upstream.close();
      await search.close();
    }
  });
});

describe("without a search backend", () => {
  it("leaves the server tool out as before and says once how to enable it", async () => {
    const upstream = await startFakeUpstream([{ json: completion({ content: "hi" }) }]);
    const proxy = startSearchProxy({ OPENAI_BASE_URL: upstream.url }, undefined);
    const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
    try {
      await create(client, {});
      await create(client, {});
      assert.equal(upstream.requests[0]!.body.tools, undefined);
      const hints = proxy.logs.filter((l) => l.includes("SEARCH_PROVIDER"));
      assert.equal(hints.length, 1);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("tool definitions and configuration", () => {
  it("refuses allowed_domains together with blocked_domains (400, as Anthropic)", async () => {
    const t = await setUp("brave", [{ answer: "x" }]);
    try {
      await assert.rejects(
        create(t.client, {
          tools: [{ ...WEB_SEARCH, allowed_domains: ["a.com"], blocked_domains: ["b.com"] }],
        }),
        (err: Any) => err.status === 400 && /not both/.test(err.message),
      );
    } finally {
      await t.close();
    }
  });

  it("names the missing key or URL of the chosen backend", () => {
    const base = { OPENAI_API_KEY: "sk-x" };
    assert.throws(() => configFromEnv({ ...base, SEARCH_PROVIDER: "brave" }), /BRAVE_API_KEY/);
    assert.throws(() => configFromEnv({ ...base, SEARCH_PROVIDER: "tavily" }), /TAVILY_API_KEY/);
    assert.throws(() => configFromEnv({ ...base, SEARCH_PROVIDER: "searxng" }), /SEARXNG_URL/);
    assert.throws(() => configFromEnv({ ...base, SEARCH_PROVIDER: "google" }), /SEARCH_PROVIDER/);
    const c = configFromEnv({ ...base, SEARCH_PROVIDER: "SearXNG", SEARXNG_URL: "http://s:8080/" });
    assert.equal(c.search?.baseUrl, "http://s:8080");
    assert.equal(configFromEnv(base).search, undefined);
  });
});

describe("server tool blocks in the history", () => {
  it("reach the model again as a tool call and its result in later turns", async () => {
    const t = await setUp("brave", [{ search: ["deno 3 release"] }, { answer: "Deno 3.0." }]);
    try {
      const first = await create(t.client, {});
      await create(t.client, {
        messages: [
          { role: "user", content: "What is new in JavaScript runtimes?" },
          { role: "assistant", content: first.content },
          { role: "user", content: "And which URL said so?" },
        ],
      });
      const messages = t.upstream.requests.at(-1)!.body.messages;
      const roles = messages.map((m: Any) => m.role);
      assert.deepEqual(roles.slice(-5), ["user", "assistant", "tool", "assistant", "user"]);
      const call = messages.at(-4);
      assert.equal(call.tool_calls[0].function.name, "web_search");
      assert.equal(call.tool_calls[0].id, first.content[0].id);
      assert.equal(JSON.parse(call.tool_calls[0].function.arguments).query, "deno 3 release");
      const result = messages.at(-3);
      assert.equal(result.tool_call_id, first.content[0].id);
      assert.match(
        result.content,
        /URL: https:\/\/deno\.com\/blog\/v3\.0\n.*\nDeno 3\.0 ships a new package manager\./,
      );
      assert.equal(messages.at(-2).content, "Deno 3.0.");
    } finally {
      await t.close();
    }
  });
});

describe("a forced web_search", () => {
  it("is forced in the first round only, so the model can answer after the search", async () => {
    const t = await setUp("brave", [{ search: ["q"] }, { answer: "ok" }]);
    try {
      const message = await create(t.client, {
        tool_choice: { type: "tool", name: "web_search" },
        tools: [{ ...WEB_SEARCH, max_uses: 8 }],
        system: "You are an assistant for performing a web search tool use",
      });
      assert.equal(message.content.at(-1).text, "ok");
      assert.deepEqual(t.upstream.requests[0]!.body.tool_choice, {
        type: "function",
        function: { name: "web_search" },
      });
      assert.equal(t.upstream.requests[1]!.body.tool_choice, "auto");
    } finally {
      await t.close();
    }
  });
});

describe("rounds of every shape", () => {
  it("an upstream that answers a streamed round with one JSON body still gives one stream", async () => {
    const search = await startSearchFake("brave");
    const upstream = await startFakeUpstream([
      {
        json: completion({ tool_calls: [{ id: "c1", name: "web_search", args: '{"query":"a"}' }] }),
      },
      { sse: toolCallStream([{ id: "c2", name: "web_search", args: '{"query":"b"}' }]) },
      { json: completion({ content: "Two searches later." }) },
    ]);
    const proxy = startSearchProxy(
      { OPENAI_BASE_URL: upstream.url, ...searchEnv("brave", search) },
      undefined,
    );
    const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
    try {
      const { events, final } = await stream(client, {});
      assertOneMessage(events);
      assert.deepEqual(final.content.map((b: Any) => b.type), [
        "server_tool_use",
        "web_search_tool_result",
        "server_tool_use",
        "web_search_tool_result",
        "text",
      ]);
      assert.deepEqual(final.content.filter((b: Any) => b.input).map((b: Any) => b.input), [
        { query: "a" },
        { query: "b" },
      ]);
      assert.equal(final.content[4].text, "Two searches later.");
      assert.deepEqual(final.usage.server_tool_use, { web_search_requests: 2 });
      assert.equal(final.usage.input_tokens, 20 + 11 + 11);
    } finally {
      await proxy.close();
      await upstream.close();
      await search.close();
    }
  });

  it("a reasoning model's thinking goes back with its call (DeepSeek echoes reasoning_content)", async () => {
    const search = await startSearchFake("brave");
    const upstream = await startFakeUpstream([
      {
        sse: [
          chunk({ role: "assistant", content: null }),
          chunk({ reasoning_content: "I should search " }),
          chunk({ reasoning_content: "for this." }),
          ...toolCallStream([{ id: "c1", name: "web_search", args: '{"query":"a"}' }]).slice(1),
        ],
      },
      { sse: textStream("Found it.") },
    ]);
    const proxy = startSearchProxy(
      { OPENAI_BASE_URL: upstream.url, PROVIDER: "deepseek", ...searchEnv("brave", search) },
      undefined,
    );
    const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
    try {
      const { events, final } = await stream(client, {});
      assertOneMessage(events);
      assert.deepEqual(final.content.map((b: Any) => b.type), [
        "thinking",
        "server_tool_use",
        "web_search_tool_result",
        "text",
      ]);
      const call = upstream.requests[1]!.body.messages.at(-2);
      assert.equal(call.role, "assistant");
      assert.equal(call.reasoning_content, "I should search for this.");
      assert.equal(call.tool_calls[0].id, "c1");
    } finally {
      await proxy.close();
      await upstream.close();
      await search.close();
    }
  });
});

describe("a client that leaves during a search", () => {
  it("cancels the search, sends no follow-up and logs 499", async () => {
    const t = await setUp("brave", [{ search: ["slow"] }, { answer: "never" }]);
    try {
      t.search.behave({ stall: true });
      const abort = new AbortController();
      const res = await fetch(`${t.proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
        body: JSON.stringify({
          model: "claude-sonnet-4-6",
          max_tokens: 100,
          stream: true,
          messages: [{ role: "user", content: "hi" }],
          tools: [WEB_SEARCH],
        }),
        signal: abort.signal,
      });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let seen = "";
      // The call's block is complete before the search starts; read until it is closed.
      for (let i = 0; i < 100 && !/content_block_stop/.test(seen); i++) {
        const { done, value } = await reader.read();
        if (done) break;
        seen += decoder.decode(value);
      }
      assert.match(seen, /"type":"server_tool_use"/);
      for (let i = 0; i < 200 && t.search.requests.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(t.search.requests.length, 1);
      abort.abort();
      await reader.cancel().catch(() => {});
      await t.search.requests[0]!.closed;
      for (let i = 0; i < 300 && !t.proxy.logs.some((l) => /status=499/.test(l)); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(t.proxy.logs.some((l) => /status=499/.test(l)), t.proxy.logs.join("\n"));
      assert.equal(t.upstream.requests.length, 1);
    } finally {
      await t.close();
    }
  });
});
