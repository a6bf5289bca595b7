/**
 * `doctor` in process (lib/cli/doctor.ts) against a scripted upstream fetch: what each check proves,
 * the hint or note it prints, and that nothing goes anywhere but the configured upstream.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { configFromEnv } from "../lib/ops/config.ts";
import { runDoctor } from "../lib/cli/doctor.ts";
import type { Fetch } from "../lib/upstreams/transport.ts";
import { spawn } from "node:child_process";
import { mainCommand, repoRoot } from "./helpers/proxy.ts";

type Body = { stream?: boolean; tools?: { function: { name: string } }[]; messages: unknown[] };
type Upstream = (body: Body, text: string) => Response;

const BASE = "http://127.0.0.1:9/v1";

function answer(content: string, reasoning?: string): Response {
  return Response.json({
    id: "c",
    object: "chat.completion",
    choices: [{
      index: 0,
      message: { role: "assistant", content, reasoning_content: reasoning },
      finish_reason: "stop",
    }],
    usage: { prompt_tokens: 1, completion_tokens: 1 },
  });
}

function sse(chunks: unknown[]): Response {
  const text = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
  return new Response(text, { headers: { "content-type": "text/event-stream" } });
}

const delta = (d: unknown, finish: string | null = null) => ({
  id: "c",
  object: "chat.completion.chunk",
  choices: [{ index: 0, delta: d, finish_reason: finish }],
});

/** A capable model: sees images, calls tools, reasons, reads 24k tokens. */
const capable: Upstream = (body, text) => {
  if (body.tools) {
    const name = body.tools[0]!.function.name;
    return sse([
      delta({
        tool_calls: [{
          index: 0,
          id: "call_1",
          type: "function",
          function: { name, arguments: '{"city":"Paris"}' },
        }],
      }),
      delta({}, "tool_calls"),
    ]);
  }
  const reply = text.includes("image_url")
    ? "Red"
    : text.includes("17 * 23")
    ? "391"
    : text.includes("secret word")
    ? "PAPAYA"
    : "pong";
  if (body.stream) return sse([delta({ content: reply }), delta({}, "stop")]);
  return answer(reply, text.includes("17 * 23") ? "17 * 23 = 391" : undefined);
};

async function doctor(upstream: Upstream): Promise<{ code: number; out: string; urls: string[] }> {
  const urls: string[] = [];
  const fetch: Fetch = (url, init) => {
    urls.push(url);
    const text = String(init.body);
    return Promise.resolve(upstream(JSON.parse(text) as Body, text));
  };
  const lines: string[] = [];
  const config = configFromEnv({
    OPENAI_API_KEY: "sk-doctor-test-key",
    OPENAI_BASE_URL: BASE,
    BIG_MODEL: "m1",
    SMALL_MODEL: "m1",
    MAX_RETRIES: "0",
  });
  const code = await runDoctor(config, fetch, (line) => lines.push(line));
  return { code, out: lines.join("\n"), urls };
}

describe("doctor", () => {
  it("a capable model passes every check, and only the configured upstream is called", async () => {
    const r = await doctor(capable);
    assert.equal(r.code, 0, r.out);
    for (const check of ["plain", "stream", "tools", "image", "thinking", "long prompt"]) {
      assert.match(r.out, new RegExp(`m1\\s+${check}\\s+ok$`, "m"), r.out);
    }
    assert.equal(r.urls.length, 6);
    assert.ok(r.urls.every((u) => u === `${BASE}/chat/completions`), r.urls.join(", "));
  });

  it("an image answered without naming its color fails: the model does not see it", async () => {
    const r = await doctor((body, text) =>
      text.includes("image_url") ? answer("I cannot view images.") : capable(body, text)
    );
    assert.equal(r.code, 1);
    assert.match(r.out, /m1\s+image\s+FAIL: .*may not see images/);
  });

  it("thinking answered without any thinking passes with a note", async () => {
    const r = await doctor((body, text) =>
      text.includes("17 * 23") && !body.stream ? answer("391") : capable(body, text)
    );
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /m1\s+thinking\s+ok \(no thinking returned.*REASONING_MODELS\)/);
  });

  it("a server that keeps only the last ~16k tokens fails the long prompt", async () => {
    const r = await doctor((body, text) =>
      text.includes("secret word") && text.length > 64_000
        ? answer("I don't know.")
        : capable(body, text)
    );
    assert.equal(r.code, 1);
    assert.match(r.out, /m1\s+long prompt\s+FAIL: .*truncates/);
  });

  it("a web page at the base URL is reported as the wrong base URL", async () => {
    const r = await doctor(() =>
      new Response("<html>Welcome</html>", { headers: { "content-type": "text/html" } })
    );
    assert.equal(r.code, 1);
    assert.match(
      r.out,
      /m1\s+plain\s+FAIL 502: this is not an OpenAI-compatible API: check OPENAI_BASE_URL/,
    );
  });
});

describe("doctor as a command", () => {
  it("a reader that leaves early (`doctor | head -1`) ends the output without a stack trace", async () => {
    const { cmd, args } = mainCommand();
    // An unreachable upstream: every check fails fast, and there are many lines to print.
    const child = spawn(cmd, [...args, "doctor"], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        NO_COLOR: "1",
        OPENAI_API_KEY: "k",
        OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
        MAX_RETRIES: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const first = await new Promise<string>((resolve) => {
      child.stdout!.once("data", (d: Buffer) => resolve(d.toString()));
    });
    child.stdout!.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.match(first, /Checking http:\/\/127\.0\.0\.1:9\/v1/);
    assert.doesNotMatch(stderr, /EPIPE|BrokenPipe|Broken pipe|\n\s+at /, stderr);
    assert.equal(code, 1, "the checks failed: exit 1, as without the pipe");
  });
});
