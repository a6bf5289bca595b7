/**
 * main.ts as users run it: flags, --help, --version, config errors, the banner, .env loading,
 * and the doctor self-test, each in a child process.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { checkDotenvReading } from "./helpers/dotenv_check.ts";
import {
  completion,
  type FakeUpstream,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import {
  mainCommand,
  repoRoot,
  startProxyProcess,
  TEST_CLIENT_KEY,
  TEST_UPSTREAM_KEY,
} from "./helpers/proxy.ts";

/** Runs main.ts to completion (for commands that exit by themselves). */
function runMain(args: string[], env: Record<string, string> = {}, cwd = repoRoot) {
  const { cmd, args: base } = mainCommand();
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(cmd, [...base, ...args], {
      cwd,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        NO_COLOR: "1",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("command line", () => {
  it("--help lists every option and variable with defaults, and no secret", async () => {
    const r = await runMain(["--help"], {
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
    });
    assert.equal(r.code, 0);
    for (
      const name of [
        "--port",
        "--host",
        "--env-file",
        "--version",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "BIG_MODEL",
        "MIDDLE_MODEL",
        "SMALL_MODEL",
        "ANTHROPIC_API_KEY",
        "LOG_LEVEL",
        "MAX_RETRIES",
        "REQUEST_TIMEOUT",
        "(default 8082)",
      ]
    ) assert.ok(r.stdout.includes(name), `--help mentions ${name}`);
    assert.ok(!r.stdout.includes(TEST_UPSTREAM_KEY) && !r.stdout.includes(TEST_CLIENT_KEY));
  });

  it("--version prints the version", async () => {
    const r = await runMain(["--version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });

  it("an unknown flag is an error with a hint", async () => {
    const r = await runMain(["--prot", "9000"], { OPENAI_API_KEY: "x" });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option "--prot".*did you mean --port/);
  });

  it("a missing OPENAI_API_KEY stops start-up naming the variable", async () => {
    const r = await runMain([], { PORT: "0" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /OPENAI_API_KEY/);
  });

  it("an invalid PORT stops start-up naming the variable", async () => {
    const r = await runMain([], { OPENAI_API_KEY: "x", PORT: "eighty" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /PORT/);
  });

  it("an unknown LOG_LEVEL is refused; the reference proxy's names in any case are accepted", async () => {
    const bad = await runMain([], { OPENAI_API_KEY: "x", LOG_LEVEL: "verbose" });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /LOG_LEVEL/);
  });

  it("--env-file that does not exist is an error", async () => {
    const r = await runMain(["--env-file", "/nonexistent/.env"], { OPENAI_API_KEY: "x" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /env file/);
  });
});

describe("start-up banner and flags", () => {
  let upstream: FakeUpstream;
  before(async () => {
    upstream = await startFakeUpstream((req) =>
      req.body?.stream ? { sse: textStream("hello") } : { json: completion({ content: "hello" }) }
    );
  });
  after(() => upstream.close());

  it("shows address, upstream, mapping, auth mode and the Claude Code line, with keys redacted", async () => {
    const proxy = startProxyProcess(
      {
        OPENAI_API_KEY: TEST_UPSTREAM_KEY,
        ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
        OPENAI_BASE_URL: upstream.url,
        BIG_MODEL: "big-one",
        SMALL_MODEL: "small-one",
        PORT: "1",
      },
      ["--port", "0", "--host", "127.0.0.1"],
    );
    const port = await proxy.listening;
    const out = proxy.output();
    proxy.kill();
    assert.equal(await proxy.exited, 0);
    assert.ok(port > 1, "--port overrides PORT");
    assert.match(out, /claude-code-proxy \d+\.\d+\.\d+ listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(out.includes(upstream.url));
    assert.match(out, /opus → big-one, sonnet → big-one, haiku → small-one/);
    assert.match(out, /clients must send ANTHROPIC_API_KEY/);
    assert.ok(out.includes(`ANTHROPIC_BASE_URL=http://127.0.0.1:${port} ANTHROPIC_AUTH_TOKEN=`));
    assert.ok(!out.includes(TEST_UPSTREAM_KEY) && !out.includes(TEST_CLIENT_KEY), "keys redacted");
  });

  it("reads .env from the working directory; the environment wins over it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ccp-env-"));
    writeFileSync(
      join(dir, ".env"),
      `OPENAI_BASE_URL=${upstream.url}\nBIG_MODEL=from-env-file\nSMALL_MODEL=file-small\n`,
    );
    const proxy = startProxyProcess(
      { OPENAI_API_KEY: TEST_UPSTREAM_KEY, PORT: "0", SMALL_MODEL: "env-small" },
      [],
      {
        cwd: dir,
      },
    );
    await proxy.listening;
    const out = proxy.output();
    proxy.kill();
    assert.equal(await proxy.exited, 0);
    assert.match(out, /opus → from-env-file/);
    assert.match(out, /haiku → env-small/);
    assert.ok(out.includes(upstream.url));
  });

  it("--env-file reads the named file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ccp-envfile-"));
    writeFileSync(
      join(dir, "custom.env"),
      `OPENAI_BASE_URL=${upstream.url}\nBIG_MODEL=from-custom\n`,
    );
    const proxy = startProxyProcess({ OPENAI_API_KEY: TEST_UPSTREAM_KEY, PORT: "0" }, [
      "--env-file",
      join(dir, "custom.env"),
    ]);
    await proxy.listening;
    const out = proxy.output();
    proxy.kill();
    assert.equal(await proxy.exited, 0);
    assert.match(out, /opus → from-custom/);
  });

  it("JSON log format writes one JSON object per line, with a request line per request", async () => {
    const proxy = startProxyProcess({
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      OPENAI_BASE_URL: upstream.url,
      PORT: "0",
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
    });
    const port = await proxy.listening;
    const res = await fetch(`http://127.0.0.1:${port}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-haiku-4-5",
        max_tokens: 5,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    const requestId = res.headers.get("request-id");
    await res.text();
    proxy.kill();
    await proxy.exited;
    assert.match(requestId ?? "", /^req_/);
    // Every line, the start-up banner included, is one JSON object.
    const lines = proxy.output().split("\n").filter((l) => l.trim() !== "");
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.match(String(entries[0]?.claude_code), /^ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:/);
    const line = entries.find((e) => e.msg === "request" && e.request_id === requestId);
    assert.ok(line, "one request line with the request id");
    assert.equal(line.model, "claude-haiku-4-5 -> gpt-4o-mini");
    assert.equal(line.status, 200);
    assert.equal(line.stream, false);
    assert.equal(line.input_tokens, 11);
    assert.equal(line.output_tokens, 7);
    assert.equal(typeof line.ttfb_ms, "number");
    assert.equal(typeof line.total_ms, "number");
  });

  it("LOG_LEVEL=WARNING hides request lines; DEBUG shows the converted upstream request", async () => {
    for (
      const [level, expectRequest, expectDebug] of [["WARNING", false, false], [
        "debug",
        true,
        true,
      ]] as const
    ) {
      const proxy = startProxyProcess({
        OPENAI_API_KEY: TEST_UPSTREAM_KEY,
        OPENAI_BASE_URL: upstream.url,
        PORT: "0",
        LOG_LEVEL: level,
      });
      const port = await proxy.listening;
      const res = await fetch(`http://127.0.0.1:${port}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
        body: JSON.stringify({
          model: "claude-haiku-4-5",
          max_tokens: 5,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      await res.text();
      proxy.kill();
      await proxy.exited;
      const out = proxy.output();
      assert.equal(/INFO\s+request /.test(out), expectRequest, `${level}: request line`);
      assert.equal(/DEBUG\s+upstream request /.test(out), expectDebug, `${level}: debug body`);
      assert.ok(!out.includes(TEST_UPSTREAM_KEY) && !out.includes(TEST_CLIENT_KEY));
    }
  });
});

describe(".env", () => {
  it("is read as the proxy does under either runtime: --env-file wins, no $ expansion", async () => {
    await checkDotenvReading();
  });
});

describe("doctor", () => {
  let upstream: FakeUpstream;
  before(async () => {
    upstream = await startFakeUpstream((req) => {
      const body = req.body;
      const last = JSON.stringify(body.messages.at(-1));
      if (body.tools) {
        return {
          sse: toolCallStream([{ id: "call_1", name: "get_weather", args: '{"city":"Paris"}' }]),
        };
      }
      if (last.includes("image_url")) {
        return { status: 400, json: { error: { message: "model does not support image input" } } };
      }
      const text = last.includes("17 * 23")
        ? "391"
        : last.includes("secret word")
        ? "PAPAYA"
        : "pong";
      return body.stream ? { sse: textStream(text) } : { json: completion({ content: text }) };
    });
  });
  after(() => upstream.close());

  it("prints a capability table with a hint per failure and exits 1 when something fails", async () => {
    const r = await runMain(["doctor"], {
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      OPENAI_BASE_URL: upstream.url,
      BIG_MODEL: "m1",
      SMALL_MODEL: "m1",
    });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /m1\s+plain\s+ok/);
    assert.match(r.stdout, /m1\s+stream\s+ok/);
    assert.match(r.stdout, /m1\s+tools\s+ok/);
    assert.match(r.stdout, /m1\s+image\s+FAIL 400: .*images/);
    assert.match(r.stdout, /m1\s+thinking\s+ok/);
    assert.match(r.stdout, /m1\s+long prompt\s+ok/);
    assert.ok(!r.stdout.includes(TEST_UPSTREAM_KEY));
    // Only the configured upstream was contacted, once per check for the single distinct model.
    assert.equal(upstream.requests.length, 6);
  });
});
