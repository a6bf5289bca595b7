/**
 * web_fetch on any model: the proxy fetches the page the model asks for, safely (http(s) only,
 * public addresses only after DNS, redirects re-checked, size and time limits), and answers with
 * Anthropic's web_fetch_tool_result block. Fake pages live on 127.0.0.1, which only the test's
 * injected address check lets through; the production check is tested to refuse it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { completion, type Recorded, startFakeUpstream } from "./helpers/fake_upstream.ts";
import {
  startProxyProcess,
  TEST_CLIENT_KEY,
  TEST_UPSTREAM_KEY,
  type TestProxy,
} from "./helpers/proxy.ts";
import { type Page, searchEnv, type SearchFake, startSearchFake } from "./helpers/search_fakes.ts";
import { LOOPBACK_GUARD, startSearchProxy } from "./helpers/search_proxy.ts";
import type { AddressGuard } from "../lib/websearch/fetch_page.ts";
import { isPublicAddress } from "../lib/websearch/address.ts";
import { resolveHost } from "../lib/runtime/resolve_host.ts";
import { domainFilter } from "../lib/websearch/domains.ts";
import { htmlText, htmlTitle } from "../lib/websearch/html_text.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const WEB_FETCH = { type: "web_fetch_20250910", name: "web_fetch" };
const PRODUCTION_GUARD: AddressGuard = { resolve: resolveHost, allowed: isPublicAddress };

type Env = {
  pages: SearchFake;
  upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  proxy: TestProxy;
  client: Anthropic;
  /** The URL the model fetches; the user's message names it. */
  url: string;
  close: () => Promise<void>;
};

/** The model fetches `url(pages)` once, then answers "done". */
async function setUp(
  url: (pages: SearchFake) => string,
  guard: AddressGuard | undefined,
  env: Record<string, string> = {},
): Promise<Env> {
  const pages = await startSearchFake("searxng");
  const upstream = await startFakeUpstream((req: Recorded) => {
    const round = (req.body?.messages ?? []).filter((m: Any) => m.tool_calls).length;
    return round === 0
      ? {
        json: completion({
          tool_calls: [{
            id: "call_f",
            name: "web_fetch",
            args: JSON.stringify({ url: url(pages) }),
          }],
        }),
      }
      : { json: completion({ content: "done" }) };
  });
  const proxy = startSearchProxy(
    { OPENAI_BASE_URL: upstream.url, ...searchEnv("searxng", pages), ...env },
    guard,
  );
  const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
  return {
    pages,
    upstream,
    proxy,
    client,
    url: url(pages),
    close: async () => {
      await proxy.close();
      await upstream.close();
      await pages.close();
    },
  };
}

/** The user asks to read `url` (web_fetch takes only URLs the conversation holds). */
function ask(
  client: Anthropic,
  url: string,
  tool: Record<string, unknown> = WEB_FETCH,
): Promise<Any> {
  return client.messages.create({
    model: "claude-sonnet-4-6",
    max_tokens: 1024,
    messages: [{ role: "user", content: `Read the page at ${url}.` }],
    tools: [tool],
  } as Any);
}

const ARTICLE = `<!doctype html><html><head><title>The &amp; Article</title>
<style>body{color:red}</style><script>alert("x")</script></head>
<body><h1>Heading</h1><p>First paragraph with <b>bold</b> text.</p><p>Second&nbsp;one.</p></body></html>`;

describe("web_fetch of a page", () => {
  let t: Env;
  before(async () => {
    t = await setUp((p) => `${p.origin}/article`, LOOPBACK_GUARD);
    t.pages.pages.set("/article", { body: ARTICLE });
  });
  after(() => t.close());

  it("answers with a web_fetch_tool_result holding the page's text", async () => {
    const message = await ask(t.client, t.url);
    assert.deepEqual(message.content.map((b: Any) => b.type), [
      "server_tool_use",
      "web_fetch_tool_result",
      "text",
    ]);
    const [use, result] = message.content;
    assert.equal(use.name, "web_fetch");
    assert.equal(result.tool_use_id, use.id);
    const content = result.content;
    assert.equal(content.type, "web_fetch_result");
    assert.equal(content.url, `${t.pages.origin}/article`);
    assert.ok(!Number.isNaN(Date.parse(content.retrieved_at)));
    assert.equal(content.content.type, "document");
    assert.equal(content.content.title, "The & Article");
    assert.deepEqual(content.content.source, {
      type: "text",
      media_type: "text/plain",
      data: "Heading\n\nFirst paragraph with bold text.\n\nSecond one.",
    });
    assert.deepEqual(message.usage.server_tool_use, {
      web_search_requests: 0,
      web_fetch_requests: 1,
    });
    const toolMessage = t.upstream.requests[1]!.body.messages.at(-1);
    assert.match(toolMessage.content, /First paragraph with bold text\./);
  });
});

describe("web_fetch streamed", () => {
  it("sends the whole result block in its content_block_start", async () => {
    const t = await setUp((p) => `${p.origin}/article`, LOOPBACK_GUARD);
    try {
      t.pages.pages.set("/article", { body: ARTICLE });
      const s = t.client.messages.stream({
        model: "claude-sonnet-4-6",
        max_tokens: 1024,
        messages: [{ role: "user", content: `Read ${t.url}` }],
        tools: [WEB_FETCH],
      } as Any);
      const events: Any[] = [];
      s.on("streamEvent", (e: Any) => events.push(structuredClone(e)));
      const final: Any = await s.finalMessage();
      const start = events.find((e) =>
        e.type === "content_block_start" && e.content_block.type === "web_fetch_tool_result"
      );
      assert.equal(start.index, 1);
      assert.equal(start.content_block.content.content.title, "The & Article");
      assert.deepEqual(final.content.map((b: Any) => b.type), [
        "server_tool_use",
        "web_fetch_tool_result",
        "text",
      ]);
      assert.deepEqual(final.content[0].input, { url: `${t.pages.origin}/article` });
      assert.deepEqual(final.usage.server_tool_use, {
        web_search_requests: 0,
        web_fetch_requests: 1,
      });
    } finally {
      await t.close();
    }
  });
});

describe("web_fetch refusals", () => {
  const cases: {
    name: string;
    url: (p: SearchFake) => string;
    guard?: AddressGuard;
    tool?: Record<string, unknown>;
    page?: {
      path: string;
      status?: number;
      headers?: Record<string, string>;
      body?: string | Uint8Array;
      untyped?: boolean;
    };
    /** The URL the user's message names, when it is not the one the model fetches. */
    mention?: (p: SearchFake) => string;
    code: string;
    reached: boolean;
  }[] = [
    {
      name: "a loopback address, with the production address check",
      url: (p) => `${p.origin}/article`,
      guard: PRODUCTION_GUARD,
      code: "url_not_allowed",
      reached: false,
    },
    {
      name: "localhost by name, with the production address check",
      url: (p) => `http://localhost:${new URL(p.origin).port}/article`,
      guard: PRODUCTION_GUARD,
      code: "url_not_allowed",
      reached: false,
    },
    {
      name: "a redirect to a private address",
      url: (p) => `${p.origin}/jump`,
      page: { path: "/jump", status: 302, headers: { location: "http://10.0.0.7/admin" } },
      code: "url_not_allowed",
      reached: true,
    },
    {
      name: "a redirect to the cloud metadata address",
      url: (p) => `${p.origin}/jump`,
      page: { path: "/jump", status: 301, headers: { location: "http://169.254.169.254/" } },
      code: "url_not_allowed",
      reached: true,
    },
    {
      name: "a URL that appears nowhere in the conversation",
      url: (p) => `${p.origin}/article?secret=from-the-model`,
      mention: (p) => `${p.origin}/article`,
      code: "url_not_allowed",
      reached: false,
    },
    {
      name: "a non-http scheme",
      url: () => "file:///etc/passwd",
      code: "invalid_tool_input",
      reached: false,
    },
    {
      name: "a URL longer than 250 characters",
      url: (p) => `${p.origin}/${"a".repeat(260)}`,
      code: "url_too_long",
      reached: false,
    },
    {
      name: "a domain outside allowed_domains",
      url: (p) => `${p.origin}/article`,
      tool: { ...WEB_FETCH, allowed_domains: ["example.com"] },
      code: "url_not_allowed",
      reached: false,
    },
    {
      name: "an HTTP 404",
      url: (p) => `${p.origin}/missing`,
      code: "url_not_accessible",
      reached: true,
    },
    {
      name: "binary bytes without a content type",
      url: (p) => `${p.origin}/blob`,
      page: {
        path: "/blob",
        untyped: true,
        body: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]),
      },
      code: "unsupported_content_type",
      reached: true,
    },
    {
      name: "a binary content type",
      url: (p) => `${p.origin}/image`,
      page: { path: "/image", headers: { "content-type": "image/png" }, body: "PNG" },
      code: "unsupported_content_type",
      reached: true,
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.code}`, async () => {
      const t = await setUp(c.url, c.guard ?? LOOPBACK_GUARD);
      try {
        t.pages.pages.set("/article", { body: ARTICLE });
        if (c.page) {
          t.pages.pages.set(c.page.path, {
            status: c.page.status,
            headers: c.page.headers,
            body: c.page.body ?? "",
            untyped: c.page.untyped,
          });
        }
        const message = await ask(t.client, c.mention ? c.mention(t.pages) : t.url, c.tool);
        assert.deepEqual(message.content[1].content, {
          type: "web_fetch_tool_result_error",
          error_code: c.code,
        });
        assert.equal(t.pages.requests.length > 0, c.reached);
        assert.equal(message.content[2].text, "done");
      } finally {
        await t.close();
      }
    });
  }

  it("cuts a page at WEB_FETCH_MAX_BYTES and at max_content_tokens", async () => {
    const t = await setUp((p) => `${p.origin}/big`, LOOPBACK_GUARD, {
      WEB_FETCH_MAX_BYTES: "1000",
    });
    try {
      t.pages.pages.set("/big", {
        headers: { "content-type": "text/plain" },
        body: "x".repeat(5000),
      });
      const bytes = await ask(t.client, t.url);
      assert.equal(bytes.content[1].content.content.source.data.length, 1000);
      assert.match(t.upstream.requests[1]!.body.messages.at(-1).content, /\[content truncated\]/);
      const tokens = await ask(t.client, t.url, { ...WEB_FETCH, max_content_tokens: 10 });
      assert.equal(tokens.content[1].content.content.source.data.length, 40);
    } finally {
      await t.close();
    }
  });

  it("decodes a page in the charset it declares (header or meta), and reads an untyped text page", async () => {
    const cases: { page: Page; text: RegExp }[] = [
      {
        page: {
          headers: { "content-type": "text/plain; charset=ISO-8859-1" },
          body: new Uint8Array([0x63, 0x61, 0x66, 0xe9]),
        },
        text: /^café$/,
      },
      {
        page: {
          headers: { "content-type": "text/html" },
          body: new Uint8Array([
            ...new TextEncoder().encode('<html><head><meta charset="windows-1252"></head><p>na'),
            0xef,
            ...new TextEncoder().encode("ve</p></html>"),
          ]),
        },
        text: /naïve/,
      },
      { page: { untyped: true, body: "plain words" }, text: /^plain words$/ },
      {
        // A byte order mark wins over the header's charset.
        page: {
          headers: { "content-type": "text/plain; charset=iso-8859-1" },
          body: new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("café")]),
        },
        text: /^café$/,
      },
      {
        // <meta charset="utf-16"> on bytes is read as UTF-8 (HTML's rule).
        page: {
          headers: { "content-type": "text/html" },
          body: '<html><head><meta charset="utf-16"></head><p>déjà</p></html>',
        },
        text: /déjà/,
      },
    ];
    for (const c of cases) {
      const t = await setUp((p) => `${p.origin}/page`, LOOPBACK_GUARD);
      try {
        t.pages.pages.set("/page", c.page);
        const message = await ask(t.client, t.url);
        assert.match(message.content[1].content.content.source.data, c.text);
      } finally {
        await t.close();
      }
    }
  });

  it("cuts a page's text at 100,000 characters without max_content_tokens", async () => {
    const big = await setUp((p) => `${p.origin}/big`, LOOPBACK_GUARD);
    try {
      big.pages.pages.set("/big", {
        headers: { "content-type": "text/plain" },
        body: "y".repeat(150_000),
      });
      const cut = await ask(big.client, big.url);
      assert.equal(cut.content[1].content.content.source.data.length, 100_000);
    } finally {
      await big.close();
    }
  });

  it("is not offered when the runtime gives no address check", async () => {
    const t = await setUp((p) => `${p.origin}/article`, undefined);
    try {
      const upstream = await startFakeUpstream([{ json: completion({ content: "plain" }) }]);
      const proxy = startSearchProxy(
        { OPENAI_BASE_URL: upstream.url, ...searchEnv("searxng", t.pages) },
        undefined,
      );
      const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
      const message = await ask(client, t.url);
      assert.equal(message.content[0].text, "plain");
      assert.equal(upstream.requests[0]!.body.tools, undefined);
      await proxy.close();
      await upstream.close();
    } finally {
      await t.close();
    }
  });
});

describe("web_fetch error blocks in the history", () => {
  // Proxy versions before the fix wrote `web_fetch_tool_error`: both spellings come back.
  for (const spelling of ["web_fetch_tool_result_error", "web_fetch_tool_error"]) {
    it(`${spelling} reaches the model as the tool's error result`, async () => {
      const t = await setUp((p) => `${p.origin}/article`, LOOPBACK_GUARD);
      try {
        const message: Any = await t.client.messages.create({
          model: "claude-sonnet-4-6",
          max_tokens: 1024,
          messages: [
            { role: "user", content: `Read the page at ${t.url}.` },
            {
              role: "assistant",
              content: [
                {
                  type: "server_tool_use",
                  id: "srvtoolu_01",
                  name: "web_fetch",
                  input: { url: t.url },
                },
                {
                  type: "web_fetch_tool_result",
                  tool_use_id: "srvtoolu_01",
                  content: { type: spelling, error_code: "url_not_accessible" },
                },
                { type: "text", text: "It could not be read." },
              ],
            },
            { role: "user", content: "Why not?" },
          ],
          tools: [WEB_FETCH],
        } as Any);
        assert.equal(message.content.at(-1).text, "done");
        const sent = t.upstream.requests[0]!.body.messages;
        const call = sent.find((m: Any) => m.tool_calls);
        assert.equal(call.tool_calls[0].id, "srvtoolu_01");
        const result = sent.find((m: Any) => m.role === "tool");
        assert.equal(result.tool_call_id, "srvtoolu_01");
        assert.equal(result.content, "Error (url_not_accessible).");
      } finally {
        await t.close();
      }
    });
  }
});

describe("the address check", () => {
  const table: [string, boolean][] = [
    ["93.184.215.14", true],
    ["2606:4700::1111", true],
    ["127.0.0.1", false],
    ["127.8.9.10", false],
    ["10.1.2.3", false],
    ["172.16.0.1", false],
    ["192.168.1.1", false],
    ["169.254.169.254", false],
    ["100.64.0.1", false],
    ["0.0.0.0", false],
    ["224.0.0.1", false],
    ["::1", false],
    ["::", false],
    ["fe80::1", false],
    ["fd12:3456::1", false],
    ["::ffff:127.0.0.1", false],
    ["::ffff:7f00:1", false],
    ["::ffff:8.8.8.8", true],
    ["64:ff9b::10.0.0.1", false],
    ["2002:0a00:0001::", false],
    ["not an address", false],
  ];
  for (const [ip, expected] of table) {
    it(`${ip} is ${expected ? "public" : "refused"}`, () =>
      assert.equal(isPublicAddress(ip), expected));
  }
});

describe("domain lists", () => {
  it("match a domain and its subdomains, and a path prefix", () => {
    const allow = domainFilter(["example.com", "docs.rs/tokio"], undefined);
    assert.equal(allow("https://example.com/a"), true);
    assert.equal(allow("https://www.example.com/a"), true);
    assert.equal(allow("https://notexample.com/a"), false);
    assert.equal(allow("https://docs.rs/tokio/latest"), true);
    assert.equal(allow("https://docs.rs/serde"), false);
    const block = domainFilter(undefined, ["https://ads.example.com"]);
    assert.equal(block("https://ads.example.com/x"), false);
    assert.equal(block("https://example.com/x"), true);
  });
});

describe("html to text", () => {
  it("keeps the text, drops scripts and styles, decodes entities", () => {
    assert.equal(htmlTitle(ARTICLE), "The & Article");
    assert.equal(htmlText(ARTICLE), "Heading\n\nFirst paragraph with bold text.\n\nSecond one.");
  });
});

describe("main.ts wires the production address check", () => {
  it("refuses a page on localhost, through the system resolver", { timeout: 60_000 }, async () => {
    const pages = await startSearchFake("searxng");
    pages.pages.set("/article", { body: ARTICLE });
    const target = `http://localhost:${new URL(pages.origin).port}/article`;
    const upstream = await startFakeUpstream((req: Recorded) => {
      const round = (req.body?.messages ?? []).filter((m: Any) => m.tool_calls).length;
      return round === 0
        ? {
          json: completion({
            tool_calls: [{
              id: "call_f",
              name: "web_fetch",
              args: JSON.stringify({ url: target }),
            }],
          }),
        }
        : { json: completion({ content: "done" }) };
    });
    const child = startProxyProcess({
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      OPENAI_BASE_URL: upstream.url,
      PORT: "0",
      MAX_RETRIES: "0",
      ...searchEnv("searxng", pages),
    });
    try {
      const port = await child.listening;
      const client = new Anthropic({
        baseURL: `http://127.0.0.1:${port}`,
        apiKey: TEST_CLIENT_KEY,
        maxRetries: 0,
      });
      const message = await ask(client, target);
      assert.deepEqual(message.content[1].content, {
        type: "web_fetch_tool_result_error",
        error_code: "url_not_allowed",
      });
      assert.equal(pages.requests.length, 0);
    } finally {
      child.kill();
      await child.exited;
      await upstream.close();
      await pages.close();
    }
  });
});

describe("web_fetch and the conversation's history", () => {
  it("a URL only the model wrote in an earlier turn is not allowed; one an earlier fetch returned is", async () => {
    const pages = await startSearchFake("searxng");
    pages.pages.set("/article", { body: ARTICLE });
    const url = `${pages.origin}/article?d=from-the-model`;
    const fetchCall = {
      json: completion({
        tool_calls: [{ id: "call_f", name: "web_fetch", args: JSON.stringify({ url }) }],
      }),
    };
    const done = { json: completion({ content: "done" }) };
    const upstream = await startFakeUpstream([fetchCall, done, fetchCall, done]);
    const proxy = startSearchProxy(
      { OPENAI_BASE_URL: upstream.url, ...searchEnv("searxng", pages) },
      LOOPBACK_GUARD,
    );
    const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
    const send = (history: Any[]): Promise<Any> =>
      client.messages.create({
        model: "claude-sonnet-4-6",
        max_tokens: 1024,
        messages: [
          { role: "user", content: "Find something." },
          ...history,
          { role: "user", content: "Go on." },
        ],
        tools: [WEB_FETCH],
      } as Any);
    try {
      // The model's own words and its own earlier call: still a URL it made up.
      const madeUp = await send([{
        role: "assistant",
        content: [
          { type: "text", text: `I will look at ${url}` },
          { type: "server_tool_use", id: "srvtoolu_1", name: "web_fetch", input: { url } },
          {
            type: "web_fetch_tool_result",
            tool_use_id: "srvtoolu_1",
            content: { type: "web_fetch_tool_result_error", error_code: "url_not_allowed" },
          },
        ],
      }]);
      assert.deepEqual(madeUp.content[1].content, {
        type: "web_fetch_tool_result_error",
        error_code: "url_not_allowed",
      });
      assert.equal(pages.requests.length, 0);
      // A page an earlier fetch returned names it: allowed.
      const fetched = await send([{
        role: "assistant",
        content: [
          { type: "server_tool_use", id: "srvtoolu_2", name: "web_fetch", input: { url: "x" } },
          {
            type: "web_fetch_tool_result",
            tool_use_id: "srvtoolu_2",
            content: {
              type: "web_fetch_result",
              url: `${pages.origin}/index`,
              content: {
                type: "document",
                source: { type: "text", media_type: "text/plain", data: `See ${url}` },
              },
            },
          },
        ],
      }]);
      assert.equal(fetched.content[1].content.type, "web_fetch_result");
      assert.equal(pages.requests.length, 1);
    } finally {
      await proxy.close();
      await upstream.close();
      await pages.close();
    }
  });
});

describe("search, then fetch a result", () => {
  it("fetches a URL the search returned, though the user never named it", async () => {
    const pages = await startSearchFake("searxng");
    pages.pages.set("/article", { body: ARTICLE });
    const found = `${pages.origin}/article`;
    pages.behave({ hits: [{ title: "The Article", url: found, snippet: "An article." }] });
    const upstream = await startFakeUpstream((req: Recorded) => {
      const round = (req.body?.messages ?? []).filter((m: Any) => m.tool_calls).length;
      const call = (name: string, args: unknown) => ({
        json: completion({
          tool_calls: [{ id: `call_${round}`, name, args: JSON.stringify(args) }],
        }),
      });
      return round === 0
        ? call("web_search", { query: "the article" })
        : round === 1
        ? call("web_fetch", { url: found })
        : { json: completion({ content: "It has a heading." }) };
    });
    const proxy = startSearchProxy(
      { OPENAI_BASE_URL: upstream.url, ...searchEnv("searxng", pages) },
      LOOPBACK_GUARD,
    );
    const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
    try {
      const message: Any = await client.messages.create({
        model: "claude-sonnet-4-6",
        max_tokens: 1024,
        messages: [{ role: "user", content: "Find the article and read it." }],
        tools: [{ type: "web_search_20250305", name: "web_search" }, WEB_FETCH],
      } as Any);
      assert.deepEqual(message.content.map((b: Any) => b.type), [
        "server_tool_use",
        "web_search_tool_result",
        "server_tool_use",
        "web_fetch_tool_result",
        "text",
      ]);
      assert.equal(message.content[3].content.type, "web_fetch_result");
      assert.deepEqual(message.usage.server_tool_use, {
        web_search_requests: 1,
        web_fetch_requests: 1,
      });
    } finally {
      await proxy.close();
      await upstream.close();
      await pages.close();
    }
  });
});
