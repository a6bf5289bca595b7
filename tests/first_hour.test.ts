/**
 * What a new user meets in the first hour: config errors that name the setting as written and
 * the accepted range, a port already in use, an upstream that cannot be reached (requests and
 * `doctor`), an OpenAI client pointed at the proxy, and `.env.example` that changes no default.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, configFromEnv } from "../lib/ops/config.ts";
import { parseDotenv } from "../lib/ops/dotenv.ts";
import { runDoctor } from "../lib/cli/doctor.ts";
import { mainCommand, repoRoot, startProxy } from "./helpers/proxy.ts";

/** Runs main.ts to completion with exactly `env` (plus PATH/HOME). */
function runMain(args: string[], env: Record<string, string>, cwd = repoRoot) {
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
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function configMessage(env: Record<string, string>): string {
  try {
    configFromEnv({ OPENAI_API_KEY: "sk-x", ...env });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

/** A port on 127.0.0.1 that some other server holds while `use` runs. */
async function withPortTaken<T>(use: (port: number) => Promise<T>): Promise<T> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  try {
    return await use(address.port);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

/** A 127.0.0.1 port where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  await new Promise((r) => server.close(r));
  return address.port;
}

describe("config errors in plain words", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: "abc" }, /PORT: must be a whole number from 0 to 65535, got "abc"/],
    [{ PORT: "70000" }, /PORT: must be a whole number from 0 to 65535, got "70000"/],
    [{ MAX_RETRIES: "1.5" }, /MAX_RETRIES: must be a whole number from 0 to 10/],
    [
      { REQUEST_TIMEOUT: "0" },
      /REQUEST_TIMEOUT: must be a number of seconds above 0 and up to 86400/,
    ],
    [{ PING_INTERVAL: "soon" }, /PING_INTERVAL: must be a number of seconds/],
    [{ MAX_REQUEST_BYTES: "-5" }, /MAX_REQUEST_BYTES: must be a whole number of 1 or more/],
    [{ LOG_FORMAT: "yaml" }, /LOG_FORMAT: must be one of text, json, got "yaml"/],
    [{ PROVIDER: "acme" }, /PROVIDER: must be one of auto, openai, azure/],
    [{ OPENAI_BASE_URL: "ftp://x" }, /OPENAI_BASE_URL: must be an http:\/\/ or https:\/\/ URL/],
    [{ ALLOW_REMOTE_WITHOUT_KEY: "maybe" }, /ALLOW_REMOTE_WITHOUT_KEY: must be true or false/],
  ];
  for (const [env, expected] of cases) {
    it(`${JSON.stringify(env)} → ${expected.source}`, () => {
      const message = configMessage(env);
      assert.match(message, expected);
      // zod's own words name neither the setting's meaning nor the range.
      assert.doesNotMatch(message, /NaN|Invalid input|expected number/);
    });
  }

  it("blank numbers mean the default, as if unset", () => {
    assert.equal(configFromEnv({ OPENAI_API_KEY: "x", PORT: "", MAX_RETRIES: " " }).port, 8082);
  });

  it("--port abc is reported as --port, PORT in .env as the file's", async () => {
    const flag = await runMain(["--port", "abc"], { OPENAI_API_KEY: "x" });
    assert.equal(flag.code, 1);
    assert.match(flag.stderr, /--port: must be a whole number from 0 to 65535, got "abc"/);
    assert.doesNotMatch(flag.stderr, /^\s*PORT:/m);

    const dir = mkdtempSync(join(tmpdir(), "ccp-first-hour-"));
    writeFileSync(join(dir, ".env"), "OPENAI_API_KEY=x\nPORT=eighty\n");
    const file = await runMain([], {}, dir);
    assert.equal(file.code, 1);
    assert.match(file.stderr, /PORT in \.env: must be a whole number from 0 to 65535/);

    const env = await runMain([], { OPENAI_API_KEY: "x", LOG_LEVEL: "loud" });
    assert.match(env.stderr, /LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR or CRITICAL/);
  });

  it("a port already in use says so and names the settings that change it", async () => {
    await withPortTaken(async (port) => {
      const env = await runMain([], { OPENAI_API_KEY: "x", PORT: String(port) });
      assert.equal(env.code, 1);
      assert.match(env.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.match(env.stderr, /--port N or PORT=N \(this one came from PORT in the environment\)/);
      const flag = await runMain(["--port", String(port)], { OPENAI_API_KEY: "x" });
      assert.match(flag.stderr, /this one came from --port/);
    });
  });
});

describe("an upstream that cannot be reached", () => {
  it("the client's error names the URL requested, /v1 included, and the cause once", async () => {
    const port = await closedPort();
    const proxy = startProxy({ OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` });
    try {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-sonnet-4-5",
          max_tokens: 10,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      assert.equal(res.status, 502);
      const body = await res.json() as { error: { type: string; message: string } };
      assert.equal(body.error.type, "api_error");
      assert.match(
        body.error.message,
        new RegExp(`^cannot reach upstream http://127\\.0\\.0\\.1:${port}/v1/chat/completions: `),
      );
      const codes = body.error.message.match(/ECONNREFUSED/g) ?? [];
      assert.equal(codes.length, 1, body.error.message);
    } finally {
      await proxy.close();
    }
  });

  it("doctor stops after the first check with one clear line", async () => {
    let calls = 0;
    const lines: string[] = [];
    const code = await runDoctor(
      configFromEnv({ OPENAI_BASE_URL: "http://127.0.0.1:9/v1", MAX_RETRIES: "0" }),
      () => {
        calls++;
        return Promise.reject(new TypeError("fetch failed: connect ECONNREFUSED 127.0.0.1:9"));
      },
      (line) => lines.push(line),
    );
    assert.equal(code, 1);
    assert.equal(calls, 1, "no check after the first");
    const out = lines.join("\n");
    assert.match(out, /cannot reach upstream http:\/\/127\.0\.0\.1:9\/v1\/chat\/completions/);
    assert.match(out, /cannot be reached at all: check OPENAI_BASE_URL/);
    assert.doesNotMatch(out, /FAIL/);
  });

  it("doctor still reports each row when the upstream answered before", async () => {
    let calls = 0;
    const lines: string[] = [];
    await runDoctor(
      configFromEnv({ OPENAI_BASE_URL: "http://127.0.0.1:9/v1", MAX_RETRIES: "0" }),
      () => {
        calls++;
        if (calls === 1) {
          return Promise.resolve(Response.json({ error: { message: "nope" } }, { status: 400 }));
        }
        return Promise.reject(new TypeError("fetch failed: connect ECONNREFUSED 127.0.0.1:9"));
      },
      (line) => lines.push(line),
    );
    assert.ok(calls > 2, "went on after the upstream had answered");
    assert.match(lines.join("\n"), /FAIL: connection lost: cannot reach upstream/);
    assert.doesNotMatch(lines.join("\n"), /FAIL 502/, "no status the upstream never sent");
  });
});

describe("an OpenAI client pointed at the proxy", () => {
  for (const path of ["/v1/chat/completions", "/chat/completions", "/v1/responses"]) {
    it(`POST ${path} is told this proxy speaks Anthropic's API, not to set ANTHROPIC_BASE_URL`, async () => {
      const proxy = startProxy({});
      try {
        const res = await fetch(`${proxy.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
        });
        assert.equal(res.status, 404);
        const body = await res.json() as { type: string; error: { type: string; message: string } };
        assert.equal(body.type, "error");
        assert.equal(body.error.type, "not_found_error");
        assert.match(body.error.message, /speaks Anthropic's Messages API \(POST \/v1\/messages\)/);
        assert.doesNotMatch(body.error.message, /ANTHROPIC_BASE_URL/);
      } finally {
        await proxy.close();
      }
    });
  }
});

describe(".env.example", () => {
  const example = parseDotenv(readFileSync(join(repoRoot, ".env.example"), "utf8"));

  it("copied as it is, changes no default but the key", () => {
    const fromExample = configFromEnv(example);
    const defaults = configFromEnv({ OPENAI_API_KEY: example.OPENAI_API_KEY });
    assert.deepEqual(fromExample, defaults);
  });

  it("copied with another BIG_MODEL, maps sonnet to it too (MIDDLE_MODEL defaults to it)", () => {
    const config = configFromEnv({ ...example, BIG_MODEL: "my-big-model" });
    assert.equal(config.middleModel, "my-big-model");
  });
});
