/**
 * Who may use the proxy and what reaches the upstream: protected mode (no open proxy on the
 * network by accident), client keys (checked in constant time, never forwarded), and the
 * headers the upstream sees (only the configured key, nothing the client sent).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { request as httpRequest } from "node:http";
import {
  completion,
  type FakeUpstream,
  type Recorded,
  startFakeUpstream,
  textStream,
} from "./helpers/fake_upstream.ts";
import {
  startProxy,
  startProxyProcess,
  TEST_CLIENT_KEY,
  TEST_UPSTREAM_KEY,
  type TestProxy,
} from "./helpers/proxy.ts";
import { ConfigError, configFromEnv, isLoopbackHost } from "../lib/ops/config.ts";
import { parseArgs } from "../lib/cli/args.ts";
import { safeEqual } from "../lib/server/auth.ts";

const MODEL = "claude-sonnet-4-6";
const BODY = JSON.stringify({
  model: MODEL,
  max_tokens: 32,
  messages: [{ role: "user", content: "hi" }],
});

describe("protected mode: no open proxy on the network by accident", () => {
  it("listens on loopback by default", () => {
    const config = configFromEnv({ OPENAI_API_KEY: TEST_UPSTREAM_KEY });
    assert.equal(config.host, "127.0.0.1");
    assert.ok(isLoopbackHost(config.host));
  });

  const table: { host: string; loopback: boolean }[] = [
    { host: "127.0.0.1", loopback: true },
    { host: "127.0.0.2", loopback: true },
    { host: "localhost", loopback: true },
    { host: "LocalHost", loopback: true },
    { host: "::1", loopback: true },
    { host: "[::1]", loopback: true },
    { host: "0.0.0.0", loopback: false },
    { host: "::", loopback: false },
    { host: "[::]", loopback: false },
    { host: "192.168.1.20", loopback: false },
    { host: "10.0.0.1", loopback: false },
    { host: "example.com", loopback: false },
    { host: "127.0.0.1.nip.io", loopback: false },
  ];
  for (const { host, loopback } of table) {
    it(`HOST=${host} without ANTHROPIC_API_KEY ${loopback ? "starts" : "is refused"}`, () => {
      const build = () => configFromEnv({ OPENAI_API_KEY: TEST_UPSTREAM_KEY, HOST: host });
      if (loopback) assert.equal(build().host, host);
      else {assert.throws(build, (e: unknown) =>
          e instanceof ConfigError && /ANTHROPIC_API_KEY/.test(e.message));}
    });
  }

  it("a non-loopback HOST is fine with ANTHROPIC_API_KEY, or with the explicit opt-in", () => {
    const base = { OPENAI_API_KEY: TEST_UPSTREAM_KEY, HOST: "0.0.0.0" };
    assert.equal(configFromEnv({ ...base, ANTHROPIC_API_KEY: TEST_CLIENT_KEY }).host, "0.0.0.0");
    assert.equal(
      configFromEnv({ ...base, ALLOW_REMOTE_WITHOUT_KEY: "true" }).allowRemoteWithoutKey,
      true,
    );
    const cli = parseArgs(["--allow-remote", "--host", "0.0.0.0"]);
    assert.equal(cli.kind, "run");
    if (cli.kind === "run") {
      assert.equal(
        configFromEnv({ OPENAI_API_KEY: TEST_UPSTREAM_KEY, ...cli.overrides }).host,
        "0.0.0.0",
      );
    }
  });

  for (const how of ["environment", "--host flag"] as const) {
    it(`main.ts refuses to start on 0.0.0.0 without a key (${how}): non-zero exit, says why`, async () => {
      const env: Record<string, string> = { OPENAI_API_KEY: TEST_UPSTREAM_KEY, PORT: "0" };
      if (how === "environment") env.HOST = "0.0.0.0";
      const child = startProxyProcess(env, how === "--host flag" ? ["--host", "0.0.0.0"] : []);
      child.listening.catch(() => {});
      const code = await child.exited;
      assert.notEqual(code, 0);
      const out = child.output();
      assert.match(out, /refusing to listen on HOST=0\.0\.0\.0/);
      assert.match(out, /ANTHROPIC_API_KEY/);
      assert.match(out, /ALLOW_REMOTE_WITHOUT_KEY=true/);
      assert.doesNotMatch(out, /listening on/);
      assert.ok(!out.includes(TEST_UPSTREAM_KEY));
    });
  }
});

/** A request with exactly these headers (fetch may not let a test set Host). */
function rawPost(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v1/messages`, { method: "POST", headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(BODY);
  });
}

describe("without a key, only local clients: no web page can use the proxy", () => {
  let up: FakeUpstream;
  const proxies: TestProxy[] = [];
  before(async () => {
    up = await startFakeUpstream(() => ({ json: completion({ content: "ok" }) }));
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await up.close();
  });
  const start = (env: Record<string, string> = {}) => {
    const p = startProxy({ OPENAI_BASE_URL: up.url, ...env });
    proxies.push(p);
    return p;
  };
  const port = (p: TestProxy) => new URL(p.url).port;

  const refused: [string, (port: string) => Record<string, string>][] = [
    ["a DNS-rebound name in Host", (n) => ({ host: `attacker.example:${n}` })],
    ["a LAN name in Host", (n) => ({ host: `192.168.1.20:${n}` })],
    [
      "a cross-site page's Origin",
      (n) => ({ host: `127.0.0.1:${n}`, origin: "https://a.example" }),
    ],
    ["a sandboxed page's Origin null", (n) => ({ host: `localhost:${n}`, origin: "null" })],
  ];
  for (const [name, headers] of refused) {
    it(`${name} → 403 permission_error, upstream not called`, async () => {
      const p = start();
      const before = up.requests.length;
      // text/plain: what a page can send cross-site without a preflight.
      const res = await rawPost(p.url, { ...headers(port(p)), "content-type": "text/plain" });
      assert.equal(res.status, 403, res.body);
      const body = JSON.parse(res.body) as {
        type: string;
        error: { type: string; message: string };
      };
      assert.equal(body.type, "error");
      assert.equal(body.error.type, "permission_error");
      assert.match(body.error.message, /ANTHROPIC_API_KEY/);
      assert.equal(up.requests.length, before);
    });
  }

  const allowed: [string, (port: string) => Record<string, string>][] = [
    ["127.0.0.1", (n) => ({ host: `127.0.0.1:${n}` })],
    ["localhost", (n) => ({ host: `localhost:${n}` })],
    ["[::1]", (n) => ({ host: `[::1]:${n}` })],
    ["a name under .localhost", (n) => ({ host: `app.localhost:${n}` })],
    ["a local page's Origin", (n) => ({ host: `127.0.0.1:${n}`, origin: "http://localhost:3000" })],
  ];
  for (const [name, headers] of allowed) {
    it(`${name} is served`, async () => {
      const p = start();
      const res = await rawPost(p.url, { ...headers(port(p)), "content-type": "application/json" });
      assert.equal(res.status, 200, res.body);
    });
  }

  it("any Host is served with the key, or with ALLOW_REMOTE_WITHOUT_KEY=true", async () => {
    const keyed = start({ ANTHROPIC_API_KEY: TEST_CLIENT_KEY });
    const open = start({ ALLOW_REMOTE_WITHOUT_KEY: "true" });
    const host = { host: "proxy.example", "content-type": "application/json" };
    assert.equal((await rawPost(keyed.url, { ...host, "x-api-key": TEST_CLIENT_KEY })).status, 200);
    assert.equal((await rawPost(open.url, host)).status, 200);
  });
});

describe("client keys", () => {
  it("are compared in constant time: equal only when every byte and the length match", () => {
    const key = TEST_CLIENT_KEY;
    const table: [string, boolean][] = [
      [key, true],
      [key.slice(0, -1), false],
      [key + "x", false],
      [key.slice(0, -1) + (key.endsWith("0") ? "1" : "0"), false],
      ["", false],
      [key.toUpperCase(), false],
      [key + key, false],
      ["é".repeat(key.length), false],
    ];
    for (const [candidate, expected] of table) {
      assert.equal(safeEqual(candidate, key), expected, candidate);
    }
    assert.equal(safeEqual("", ""), true);
    assert.equal(safeEqual("clé-🔑", "clé-🔑"), true);
  });

  describe("with ANTHROPIC_API_KEY set", () => {
    let up: FakeUpstream;
    let proxy: TestProxy;
    before(async () => {
      up = await startFakeUpstream((req) =>
        req.path.endsWith("/models")
          ? { json: { data: [{ id: "m1" }] } }
          : { json: completion({ content: "ok" }) }
      );
      proxy = startProxy({ OPENAI_BASE_URL: up.url, ANTHROPIC_API_KEY: TEST_CLIENT_KEY });
    });
    after(async () => {
      await proxy.close();
      await up.close();
    });

    const attempt = (headers: Record<string, string>, path = "/v1/messages") =>
      fetch(`${proxy.url}${path}`, {
        method: path === "/v1/models" ? "GET" : "POST",
        headers: { "content-type": "application/json", ...headers },
        body: path === "/v1/models" ? undefined : BODY,
      });

    const refused: [string, Record<string, string>][] = [
      ["no key", {}],
      ["wrong x-api-key", { "x-api-key": "wrong-key-0000000000000000" }],
      ["key with one byte changed", { "x-api-key": TEST_CLIENT_KEY.slice(0, -1) + "X" }],
      ["a prefix of the key", { "x-api-key": TEST_CLIENT_KEY.slice(0, 8) }],
      ["wrong Bearer", { authorization: "Bearer nope" }],
      ["the key as Basic auth", { authorization: `Basic ${TEST_CLIENT_KEY}` }],
      ["the upstream key", { "x-api-key": TEST_UPSTREAM_KEY }],
    ];
    for (const [name, headers] of refused) {
      it(`${name} → 401 authentication_error, upstream not called`, async () => {
        const before = up.requests.length;
        for (const path of ["/v1/messages", "/v1/messages/count_tokens", "/v1/models"]) {
          const res = await attempt(headers, path);
          assert.equal(res.status, 401, path);
          assert.equal(res.headers.get("x-should-retry"), "false");
          const body = await res.json() as { error: { type: string; message: string } };
          assert.equal(body.error.type, "authentication_error");
          assert.ok(!body.error.message.includes(TEST_CLIENT_KEY));
        }
        assert.equal(up.requests.length, before);
      });
    }

    it("the right key works as x-api-key and as Authorization: Bearer, and is never forwarded", async () => {
      const ways: Record<string, string>[] = [
        { "x-api-key": TEST_CLIENT_KEY },
        { authorization: `Bearer ${TEST_CLIENT_KEY}` },
      ];
      for (const headers of ways) {
        const res = await attempt(headers);
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      const sdk = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
      const msg = await sdk.messages.create({
        model: MODEL,
        max_tokens: 8,
        messages: [{ role: "user", content: "x" }],
      });
      assert.equal(msg.type, "message");
      await sdk.models.list();
      for (const rec of up.requests) {
        assert.ok(
          !JSON.stringify(rec.headers).includes(TEST_CLIENT_KEY),
          "client key in upstream headers",
        );
        assert.ok(!rec.rawBody.includes(TEST_CLIENT_KEY), "client key in upstream body");
      }
    });
  });
});

/** The headers a client might send that must never reach the upstream. */
const CLIENT_HEADERS: Record<string, string> = {
  "x-api-key": "client-x-api-key-marker",
  authorization: "Bearer client-bearer-marker",
  "anthropic-version": "2023-06-01",
  "anthropic-beta": "prompt-caching-2024-07-31,marker-beta",
  "anthropic-dangerous-direct-browser-access": "true",
  cookie: "session=cookie-marker",
  "proxy-authorization": "Basic proxy-auth-marker",
  "x-forwarded-for": "203.0.113.7",
  "x-real-ip": "203.0.113.8",
  forwarded: "for=203.0.113.9",
  "x-custom-client": "custom-marker",
  "user-agent": "client-agent-marker/1.0",
  "x-stainless-os": "marker-os",
  te: "trailers",
  "keep-alive": "timeout=999",
  "upgrade-insecure-requests": "1",
};

function assertCleanUpstreamHeaders(
  rec: Recorded,
  expectedAuth: { header: string; value: string },
) {
  const headers = rec.headers;
  for (const name of Object.keys(headers)) {
    assert.ok(!name.startsWith("anthropic-"), `forwarded ${name}`);
    assert.ok(!name.startsWith("x-stainless"), `forwarded ${name}`);
    assert.ok(
      ![
        "x-api-key",
        "cookie",
        "proxy-authorization",
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "x-custom-client",
        "te",
        "keep-alive",
      ].includes(name),
      `forwarded ${name}: ${headers[name]}`,
    );
  }
  for (const [name, value] of Object.entries(headers)) {
    assert.ok(!/marker|203\.0\.113/.test(value), `client value leaked in ${name}: ${value}`);
  }
  assert.equal(headers[expectedAuth.header], expectedAuth.value);
  if (expectedAuth.header !== "authorization") assert.equal(headers.authorization, undefined);
}

describe("what the upstream sees: only the configured key, nothing the client sent", () => {
  for (const provider of ["generic", "azure"] as const) {
    it(`${provider}: messages (plain and streamed), count_tokens and models`, async () => {
      const up = await startFakeUpstream((req) => {
        if (req.path.includes("/models")) return { json: { data: [{ id: "m1" }] } };
        return req.body?.stream
          ? { sse: textStream("ok") }
          : { json: completion({ content: "ok" }) };
      });
      const proxy = startProxy({
        OPENAI_BASE_URL: up.url,
        PROVIDER: provider,
        AZURE_API_VERSION: "2024-10-21",
      });
      try {
        for (const stream of [false, true]) {
          const res = await fetch(`${proxy.url}/v1/messages`, {
            method: "POST",
            headers: { "content-type": "application/json", ...CLIENT_HEADERS },
            body: JSON.stringify({ ...JSON.parse(BODY), stream }),
          });
          assert.equal(res.status, 200);
          await res.text();
        }
        const models = await fetch(`${proxy.url}/v1/models`, { headers: CLIENT_HEADERS });
        await models.text();
        const count = await fetch(`${proxy.url}/v1/messages/count_tokens`, {
          method: "POST",
          headers: { "content-type": "application/json", ...CLIENT_HEADERS },
          body: BODY,
        });
        assert.equal(count.status, 200);
        await count.text();
        assert.ok(up.requests.length >= 2);
        const auth = provider === "azure"
          ? { header: "api-key", value: TEST_UPSTREAM_KEY }
          : { header: "authorization", value: `Bearer ${TEST_UPSTREAM_KEY}` };
        for (const rec of up.requests) assertCleanUpstreamHeaders(rec, auth);
      } finally {
        await proxy.close();
        await up.close();
      }
    });
  }

  it("the official SDK's own headers (x-api-key, anthropic-*, x-stainless-*) stay with the proxy", async () => {
    const up = await startFakeUpstream([{ json: completion({ content: "ok" }) }]);
    const proxy = startProxy({ OPENAI_BASE_URL: up.url });
    try {
      const sdk = new Anthropic({
        baseURL: proxy.url,
        apiKey: "sdk-key-marker",
        maxRetries: 0,
        defaultHeaders: { "anthropic-beta": "marker-beta" },
      });
      await sdk.messages.create({
        model: MODEL,
        max_tokens: 8,
        messages: [{ role: "user", content: "x" }],
      });
      assertCleanUpstreamHeaders(up.requests[0]!, {
        header: "authorization",
        value: `Bearer ${TEST_UPSTREAM_KEY}`,
      });
    } finally {
      await proxy.close();
      await up.close();
    }
  });
});
