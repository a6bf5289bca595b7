/**
 * No secret ever leaves the proxy: not in a log line at any level or format (DEBUG included,
 * error paths included, upstream error bodies that echo the key included), not in an error
 * body or `event: error` sent to a client, not in --help or the start-up banner.
 *
 * Each test keeps what it saw (log lines, child output, client-facing bodies and headers) and
 * the last test greps all of it for the keys, the same way CI greps $CCP_TEST_LOG.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  chunk,
  completion,
  openaiError,
  type Reply,
  startFakeUpstream,
} from "./helpers/fake_upstream.ts";
import {
  startProxy,
  startProxyProcess,
  TEST_CLIENT_KEY,
  TEST_UPSTREAM_KEY,
} from "./helpers/proxy.ts";

const WRONG_CLIENT_KEY = "wrong-client-key-5f4dcc3b5aa765d61d8327deb882cf99";
/** A key with none of the shapes the log redactor knows (no sk-, no Bearer): only exact matching finds it. */
const PLAIN_UPSTREAM_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const SECRETS = [TEST_UPSTREAM_KEY, TEST_CLIENT_KEY, WRONG_CLIENT_KEY, PLAIN_UPSTREAM_KEY];

/** Everything that left the proxy during this file's runs: log lines, outputs, client-facing text. */
const seen: { where: string; text: string }[] = [];

function leaks(text: string): string[] {
  return SECRETS.filter((s) => text.includes(s));
}

function assertNoSecret(where: string, text: string) {
  seen.push({ where, text });
  assert.deepEqual(leaks(text), [], `a secret appears in ${where}: ${text.slice(0, 500)}`);
}

const MODEL = "claude-sonnet-4-6";
const body = (stream: boolean) =>
  JSON.stringify({
    model: MODEL,
    max_tokens: 32,
    stream,
    messages: [{ role: "user", content: "hi" }],
  });

/** Upstream answers that echo the key back, as careless servers and debugging proxies do. */
function echoingReplies(key: string): Record<string, Reply> {
  return {
    "401 echoing the key": {
      status: 401,
      json: openaiError(
        `Incorrect API key provided: ${key}.`,
        "invalid_request_error",
        "invalid_api_key",
      ),
    },
    "400 echoing the request headers": {
      status: 400,
      json: {
        error: {
          message:
            `bad request; headers were {"authorization": "Bearer ${key}", "api-key": "${key}"}`,
        },
      },
    },
    "500 HTML page with the key": {
      status: 500,
      text: `<html><body>Internal error for key=${key} Authorization: Bearer ${key}</body></html>`,
    },
    "429 with the key": {
      status: 429,
      headers: { "retry-after": "1" },
      json: openaiError(`rate limit for ${key}`),
    },
    "200 that is not JSON, with the key": { text: `<html>session for ${key}</html>` },
    "200 JSON of the wrong shape, with the key": { json: { key, note: `api-key: ${key}` } },
    "error object inside the stream with the key": {
      sse: [chunk({ content: "partial" }), {
        error: { code: 502, message: `upstream auth failed for ${key}` },
      }],
      done: false,
    },
    "in-stream error event with the key": {
      sse: [chunk({ content: "partial" }), {
        raw: `event: error\ndata: {"error":{"message":"Bearer ${key}"}}\n\n`,
      }],
      done: false,
    },
    "success": { json: completion({ content: "fine" }) },
  };
}

async function runScenarios(env: Record<string, string>, key: string, label: string) {
  const replies = echoingReplies(key);
  const names = Object.keys(replies);
  let next = 0;
  const up = await startFakeUpstream((req) => {
    if (req.path.endsWith("/models")) {
      return { status: 401, json: openaiError(`Incorrect API key provided: ${key}`) };
    }
    return replies[names[next]!]!;
  });
  const proxy = startProxy({
    OPENAI_BASE_URL: up.url,
    ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
    LOG_LEVEL: "DEBUG",
    MAX_RETRIES: "1",
    RETRY_MAX_DELAY: "0.01",
    ...env,
  });
  try {
    for (const [i, name] of names.entries()) {
      next = i;
      for (const stream of [false, true]) {
        const res = await fetch(`${proxy.url}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
          body: body(stream),
        });
        const text = await res.text();
        assertNoSecret(`${label}: client body for "${name}" (stream=${stream})`, text);
        assertNoSecret(`${label}: client headers for "${name}"`, JSON.stringify([...res.headers]));
      }
    }
    // The client side of the key: a wrong key (x-api-key and Bearer), then the models list.
    const wrongKeys: Record<string, string>[] = [
      { "x-api-key": WRONG_CLIENT_KEY },
      { authorization: `Bearer ${WRONG_CLIENT_KEY}` },
    ];
    for (const headers of wrongKeys) {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: body(false),
      });
      assert.equal(res.status, 401);
      assertNoSecret(`${label}: 401 body`, await res.text());
    }
    const models = await fetch(`${proxy.url}/v1/models`, {
      headers: { authorization: `Bearer ${TEST_CLIENT_KEY}` },
    });
    assertNoSecret(`${label}: models body`, await models.text());
    const count = await fetch(`${proxy.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
      body: body(false),
    });
    assertNoSecret(`${label}: count_tokens body`, await count.text());
  } finally {
    await proxy.close();
    await up.close();
  }
  // A refused connection too: its error names the upstream, not the key.
  const gone = startProxy({
    OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
    ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
    ...env,
  });
  try {
    const res = await fetch(`${gone.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
      body: body(true),
    });
    assertNoSecret(`${label}: connection refused body`, await res.text());
  } finally {
    await gone.close();
  }
  assert.ok(proxy.logs.length > 20, "DEBUG produced the logs to check");
  for (const line of [...proxy.logs, ...gone.logs]) assertNoSecret(`${label}: log line`, line);
}

describe("no secret in logs or error bodies, on every path", () => {
  for (const format of ["text", "json"] as const) {
    it(`LOG_FORMAT=${format}, DEBUG, sk- style upstream key`, async () => {
      await runScenarios({ LOG_FORMAT: format }, TEST_UPSTREAM_KEY, `${format}/sk`);
    });
    it(`LOG_FORMAT=${format}, DEBUG, a key with no recognisable shape (Azure style)`, async () => {
      await runScenarios(
        { LOG_FORMAT: format, OPENAI_API_KEY: PLAIN_UPSTREAM_KEY, PROVIDER: "azure" },
        PLAIN_UPSTREAM_KEY,
        `${format}/plain`,
      );
    });
  }

  it("a child process at DEBUG writes no secret to stdout/stderr, banner included", async () => {
    const up = await startFakeUpstream([{
      status: 401,
      json: openaiError(`Incorrect API key provided: ${TEST_UPSTREAM_KEY}`),
    }]);
    const child = startProxyProcess({
      OPENAI_BASE_URL: up.url,
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      PORT: "0",
      LOG_LEVEL: "DEBUG",
      MAX_RETRIES: "0",
    });
    try {
      const port = await child.listening;
      for (const key of [TEST_CLIENT_KEY, WRONG_CLIENT_KEY]) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": key },
          body: body(false),
        });
        assertNoSecret("child: client body", await res.text());
      }
      child.kill("SIGTERM");
      await child.exited;
      assert.match(child.output(), /listening on/);
      assertNoSecret("child output", child.output());
    } finally {
      child.kill("SIGKILL");
      await child.exited;
      await up.close();
    }
  });

  for (const args of [["--help"], ["-h"], ["--version"], ["--bogus-flag"]]) {
    it(`main.ts ${args.join(" ")} prints no secret from the environment`, async () => {
      const child = startProxyProcess({
        OPENAI_API_KEY: TEST_UPSTREAM_KEY,
        ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
        OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
      }, args);
      child.listening.catch(() => {});
      await child.exited;
      assert.ok(child.output().length > 0);
      assertNoSecret(`main.ts ${args.join(" ")}`, child.output());
    });
  }

  it("a configuration error does not echo the keys either", async () => {
    const child = startProxyProcess({
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      OPENAI_BASE_URL: "not a url",
      PORT: "99999",
    });
    child.listening.catch(() => {});
    assert.notEqual(await child.exited, 0);
    assertNoSecret("config error output", child.output());
  });
});

describe("parts of a key are redacted like the key", () => {
  // Base64-style: `+`, `/` and `=` are percent-encoded when the key travels in a URL.
  const KEY = "Zx9+Qw/Er=Ty8Ui7Op6As5Df4Gh3Jk2Lm1Nb0Vc";
  const parts = {
    "the first 16 characters": KEY.slice(0, 16),
    "the last 12": KEY.slice(-12),
    "11 from the middle": KEY.slice(13, 24),
    "the key percent-encoded in a URL": encodeURIComponent(KEY),
    "half of it percent-encoded in a URL": encodeURIComponent(KEY.slice(0, 20)),
  };
  const echoes = (part: string): Reply[] => [
    { status: 401, json: openaiError(`Incorrect API key provided: ${part}…`) },
    { status: 400, text: `<html>GET https://gw.example/v1/chat?key=${part}&v=1 failed</html>` },
    {
      sse: [chunk({ content: "partial" }), {
        error: { code: 502, message: `key ${part} revoked` },
      }],
      done: false,
    },
  ];

  for (const [name, part] of Object.entries(parts)) {
    it(`${name}, echoed by the upstream, reaches neither the client nor a log line`, async () => {
      const replies = echoes(part);
      const up = await startFakeUpstream((_req, i) => replies[Math.min(i, replies.length - 1)]!);
      const proxy = startProxy({
        OPENAI_BASE_URL: up.url,
        OPENAI_API_KEY: KEY,
        LOG_LEVEL: "DEBUG",
      });
      try {
        for (const stream of [false, false, true]) {
          const res = await fetch(`${proxy.url}/v1/messages`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: body(stream),
          });
          const text = await res.text();
          assert.ok(text.includes("[REDACTED]"), text);
          assert.equal(text.includes(part), false, text);
        }
        assert.equal(up.requests.length, 3);
        for (const line of proxy.logs) assert.equal(line.includes(part), false, line);
      } finally {
        await proxy.close();
        await up.close();
      }
    });
  }

  it("a key with quotes or backslashes, echoed inside JSON (escaped), is redacted whole", async () => {
    const { makeRedactor } = await import("../lib/ops/log.ts");
    const key = 'abc"def\\ghi/secret+key=1234';
    const redact = makeRedactor([key]);
    const echoed = JSON.stringify({ error: { message: `bad key ${key}` } });
    const out = redact(echoed);
    assert.equal(out.includes("def"), false, out);
    assert.equal(out.includes("secret+key"), false, out);
    assert.match(out, /REDACTED/);
  });

  it("ten characters of a key, or text that only shares a few, are left alone", async () => {
    const { makeRedactor } = await import("../lib/ops/log.ts");
    const redact = makeRedactor([KEY, TEST_UPSTREAM_KEY]);
    for (const text of [KEY.slice(0, 10), "upstream key", "sk-test-up", "0123456789"]) {
      assert.equal(redact(`x ${text} y`), `x ${text} y`);
    }
  });
});

describe("credentials in the base URL and in credential headers are secrets too", () => {
  const URL_PASSWORD = "urlpass-5e884898da28";
  const URL_TOKEN = "querytoken-9f86d081884c";
  const COOKIE = "session=cookiesecret-2c26b46b";
  const AUTH_TOKEN = "authtoken-fcde2b2edba5";
  const HIDDEN = [URL_PASSWORD, URL_TOKEN, COOKIE, "cookiesecret-2c26b46b", AUTH_TOKEN];

  it("reach neither the client, the log, the dashboard nor a recorded exchange", async () => {
    // The upstream echoes what it was sent: headers and URL, as debugging gateways do.
    const echo = (req: { headers: Record<string, string>; path: string }) =>
      `got ${req.path} cookie=${req.headers["cookie"]} x-auth-token=${req.headers["x-auth-token"]}`;
    const up = await startFakeUpstream((req, i) =>
      i === 0
        ? { status: 400, json: openaiError(echo(req), "invalid_request_error") }
        : { sse: [chunk({ role: "assistant", content: echo(req) })] }
    );
    const dir = mkdtempSync(join(tmpdir(), "ccp-url-secrets-"));
    const base = new URL(up.url);
    base.username = "gateway-user";
    base.password = URL_PASSWORD;
    base.searchParams.set("token", URL_TOKEN);
    const proxy = startProxyProcess(
      {
        OPENAI_API_KEY: TEST_UPSTREAM_KEY,
        OPENAI_BASE_URL: base.toString(),
        CUSTOM_HEADER_COOKIE: COOKIE,
        CUSTOM_HEADER_X_AUTH_TOKEN: AUTH_TOKEN,
        RECORD_DIR: dir,
        LOG_LEVEL: "DEBUG",
        HOST: "127.0.0.1",
        PORT: "0",
      },
      [],
      { denoFlags: [`--allow-write=${dir}`] },
    );
    try {
      const url = `http://127.0.0.1:${await proxy.listening}`;
      const texts: string[] = [];
      for (const stream of [false, true]) {
        const res = await fetch(`${url}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: body(stream),
        });
        // An answer's own text reaches the client as the model wrote it (as for the keys);
        // an error's message is redacted.
        if (!stream) texts.push(await res.text());
        else assert.match(await res.text(), /cookiesecret/);
      }
      // The secrets did go upstream: the checks below can fail.
      assert.equal(up.requests[0]!.headers["cookie"], COOKIE);
      assert.equal(up.requests[0]!.headers["x-auth-token"], AUTH_TOKEN);
      assert.match(texts[0]!, /REDACTED/);
      texts.push(await (await fetch(`${url}/ui/api/state`)).text());
      for (
        let i = 0;
        i < 200 && readdirSync(dir).filter((f) => f.endsWith(".json")).length < 2;
        i++
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const records = readdirSync(dir).filter((f) => f.endsWith(".json"));
      assert.equal(records.length, 2);
      for (const f of records) texts.push(readFileSync(join(dir, f), "utf8"));
      texts.push(proxy.output());
      for (const text of texts) {
        for (const secret of HIDDEN) {
          assert.equal(text.includes(secret), false, text.slice(0, 3000));
        }
      }
    } finally {
      proxy.kill();
      await proxy.exited;
      await up.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("keys a config-file reload brings in are secrets too", () => {
  // No shape the log redactor knows, and no run of characters in common: only the secrets of
  // the router in use can find them.
  const KA1 = "alpha0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  const KA2 = "bravo9a8b7c6d5e4f30211203f4e5d6c7b8a9";
  const LITERAL = "charlie5566778899aabbccddeeff001122";

  it("reach no log line at DEBUG when an upstream echoes them after the reload", async () => {
    // The upstream quotes the key it was given, as OpenAI's 401 does.
    const up = await startFakeUpstream((req) => ({
      status: 500,
      json: openaiError(
        `Incorrect API key provided: ${(req.headers.authorization ?? "").slice(7)}`,
      ),
    }));
    const dir = mkdtempSync(join(tmpdir(), "ccp-reload-secrets-"));
    const file = join(dir, "config.jsonc");
    const config = (key: string) =>
      `{ "providers": { "c": { "base_url": "${up.url}", "api_key": "${key}", "max_retries": 1 } } }`;
    writeFileSync(file, config("${KA1}"));
    writeFileSync(join(dir, ".env"), "");
    const child = startProxyProcess(
      { KA1, KA2, LOG_LEVEL: "DEBUG", PORT: "0", RETRY_MAX_DELAY: "0.01" },
      ["--config", file, "--env-file", join(dir, ".env")],
    );
    const reloads = () => child.output().split("config file reloaded").length - 1;
    try {
      const url = `http://127.0.0.1:${await child.listening}`;
      for (const [key, written] of [[KA2, "${KA2}"], [LITERAL, LITERAL]] as const) {
        const before = reloads();
        writeFileSync(file, config(written));
        for (let i = 0; i < 60 && reloads() === before; i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(reloads() > before, child.output());
        const res = await fetch(`${url}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            model: "c/x",
            max_tokens: 8,
            messages: [{ role: "user", content: "hi" }],
          }),
        });
        const text = await res.text();
        // The key did go upstream and come back: the checks below can fail.
        assert.equal(up.requests.at(-1)!.headers.authorization, `Bearer ${key}`);
        for (const k of [KA1, KA2, LITERAL]) assert.equal(text.includes(k), false, text);
      }
      child.kill("SIGTERM");
      await child.exited;
      const out = child.output();
      seen.push({ where: "reloaded keys: child output", text: out });
      assert.match(out, /upstream error, retrying/);
      assert.match(out, /upstream error body/);
      for (const k of [KA1, KA2, LITERAL]) assert.equal(out.includes(k), false, out);
    } finally {
      child.kill("SIGKILL");
      await child.exited;
      await up.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("the logger redacts a reload's keys, and still those of the configuration before", async () => {
    const { createLogger } = await import("../lib/ops/log.ts");
    const lines: string[] = [];
    const log = createLogger({
      level: "debug",
      format: "text",
      secrets: [KA1],
      sink: (line) => lines.push(line),
    });
    log.useSecrets([KA2]);
    log.useSecrets([LITERAL]);
    log.warn("echoed", { message: `${KA1} ${KA2} ${LITERAL}` });
    assert.equal(lines.length, 1);
    for (const k of [KA1, KA2, LITERAL]) assert.equal(lines[0]!.includes(k), false, lines[0]);
  });
});

describe("key shapes in lines with no configured key", () => {
  const rows: { name: string; line: string; expected: string }[] = [
    {
      name: "api_key: with digits",
      line: "api_key: abcd1234efgh5678",
      expected: "api_key: [REDACTED]",
    },
    {
      name: "a JSON api_key of letters only, 20 or more",
      line: `{"api_key": "ZxQwErTyUiOpAsDfGhJkLm"}`,
      expected: `{"api_key": "[REDACTED]"}`,
    },
    {
      name: "x-api-key=",
      line: "x-api-key=0123456789abcdef next=1",
      expected: "x-api-key=[REDACTED] next=1",
    },
    { name: "apikey= with a dash", line: "apikey=my-secret-value", expected: "apikey=[REDACTED]" },
    {
      name: "an authorization header",
      line: "authorization: Bearer abcdefgh12345",
      expected: "authorization: Bearer [REDACTED]",
    },
    { name: "a short key with digits", line: "api_key=abc123", expected: "api_key=[REDACTED]" },
    {
      name: "a short key of digits",
      line: "x-api-key: 0123456",
      expected: "x-api-key: [REDACTED]",
    },
    { name: "ten letters", line: "api-key=ZmFrZWtleQ", expected: "api-key=[REDACTED]" },
    {
      name: "letters only, under 20",
      line: "x-api-key: abcdefghijklmnopqrs",
      expected: "x-api-key: [REDACTED]",
    },
    {
      name: "a config error naming the variable (not a key)",
      line: "providers.c.api_key: variable NOPE is not set",
      expected: "providers.c.api_key: variable NOPE is not set",
    },
    {
      name: "a config error from the schema (not a key)",
      line: "providers.c.api_key: Too small: expected string to have >=1 characters",
      expected: "providers.c.api_key: Too small: expected string to have >=1 characters",
    },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const { makeRedactor } = await import("../lib/ops/log.ts");
      assert.equal(makeRedactor([])(row.line), row.expected);
    });
  }
});

describe("the grep CI runs, over this file's own runs", () => {
  after(() => {
    // Same check as CI, over the shared log when this run writes one.
    const file = process.env.CCP_TEST_LOG;
    if (!file) return;
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      return;
    }
    assert.deepEqual(
      leaks(text).filter((s) => s === TEST_UPSTREAM_KEY || s === TEST_CLIENT_KEY),
      [],
      `a test key appears in ${file}`,
    );
  });

  it("finds neither test key in anything this file's proxies logged or sent", () => {
    assert.ok(seen.length > 100, `collected ${seen.length} outputs`);
    const all = seen.map((s) => s.text).join("\n");
    assert.equal(all.includes(TEST_UPSTREAM_KEY), false);
    assert.equal(all.includes(TEST_CLIENT_KEY), false);
    // The check can fail: the keys are in what the upstream was given to echo.
    assert.ok(JSON.stringify(echoingReplies(TEST_UPSTREAM_KEY)).includes(TEST_UPSTREAM_KEY));
  });
});
