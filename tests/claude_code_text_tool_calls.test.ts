/**
 * The real Claude Code CLI against a server that runs no tool-call parser: the model's calls
 * arrive as text in its own syntax (Qwen3-Coder's XML, GLM's arg_key/arg_value), streamed in
 * small pieces, and the CLI still runs them and sends their results back as tool messages. A
 * second run sends native tool calls whose arguments are almost JSON (a trailing comma, a
 * Markdown fence), which the CLI also gets as usable calls.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  asClaudeResult,
  claudeBinary,
  makeTempDir,
  runClaude,
  type RunClaudeResult,
} from "./helpers/claude_cli.ts";
import {
  chunk,
  type FakeUpstream,
  openaiError,
  type Recorded,
  type Reply,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import { startProxy, TEST_CLIENT_KEY, type TestProxy } from "./helpers/proxy.ts";

const CLAUDE = claudeBinary();
const SKIP = CLAUDE === undefined ? "Claude Code CLI not found" : false;

type Message = { role: string; content?: unknown; tool_calls?: unknown[]; tool_call_id?: string };
const body = (r: Recorded) =>
  r.body as { tools?: unknown[]; messages: Message[]; stream?: boolean };
const toolResults = (r: Recorded) => body(r).messages.filter((m) => m.role === "tool");

/** Text streamed in pieces of 5 characters, as a server without a tool parser would. */
function textInPieces(text: string): Reply {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += 5) pieces.push(text.slice(i, i + 5));
  return {
    sse: [
      chunk({ role: "assistant", content: "" }),
      ...pieces.map((p) => chunk({ content: p })),
      chunk({}, "stop"),
    ],
  };
}

describe("Claude Code CLI with tool calls written as text", { skip: SKIP }, () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  const scenarios = new Map<string, (r: Recorded) => Reply>();
  const dirs: string[] = [];

  before(async () => {
    upstream = await startFakeUpstream((req) => {
      for (const [tag, scenario] of scenarios) if (req.rawBody.includes(tag)) return scenario(req);
      return { status: 500, json: openaiError("no scenario matches") };
    });
    proxy = startProxy({
      OPENAI_BASE_URL: upstream.url,
      BIG_MODEL: "Qwen3-Coder-30B-A3B-Instruct",
      MIDDLE_MODEL: "Qwen3-Coder-30B-A3B-Instruct",
      SMALL_MODEL: "Qwen3-Coder-30B-A3B-Instruct",
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
    });
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function workDir(): string {
    const d = realpathSync(makeTempDir("claude-text-calls-"));
    dirs.push(d);
    return d;
  }
  const explain = (tag: string, run: RunClaudeResult) =>
    [
      `exit ${run.code}${run.timedOut ? " (timed out)" : ""}`,
      `stdout: ${run.stdout.slice(0, 3000)}`,
      `stderr: ${run.stderr.slice(0, 1500)}`,
      `requests: ${upstream.requests.filter((r) => r.rawBody.includes(tag)).length}`,
      `proxy log:\n  ${proxy.logs.slice(-20).join("\n  ")}`,
    ].join("\n");

  async function run(tag: string, prompt: string, cwd: string) {
    const result = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: `${tag} ${prompt}`,
      cwd,
      model: "sonnet",
      timeoutMs: 90_000,
    });
    const json = asClaudeResult(result.json);
    assert.ok(json, explain(tag, result));
    assert.equal(json.is_error, false, explain(tag, result));
    return { json, why: () => explain(tag, result) };
  }

  it(
    "Qwen3-Coder and GLM calls written as text are run by the CLI",
    { timeout: 120_000 },
    async () => {
      const tag = "[text-calls]";
      const cwd = workDir();
      const a = join(cwd, "a.txt");
      const b = join(cwd, "b.txt");
      scenarios.set(tag, (r) => {
        if (!body(r).tools?.length) return { sse: textStream('{"title": "t"}') };
        const done = toolResults(r).length;
        if (done === 0) {
          return textInPieces(
            "I'll write the first file.\n<tool_call>\n<function=Write>\n<parameter=file_path>\n" +
              `${a}\n</parameter>\n<parameter=content>\nfirst <b>bold</b> line\n</parameter>\n` +
              "</function>\n</tool_call>",
          );
        }
        if (done === 1) {
          return textInPieces(
            `<tool_call>Write\n<arg_key>file_path</arg_key>\n<arg_value>${b}</arg_value>\n` +
              "<arg_key>content</arg_key>\n<arg_value>second</arg_value>\n</tool_call>",
          );
        }
        return { sse: textStream("Both files are written.") };
      });
      const { json, why } = await run(tag, "write a.txt and b.txt", cwd);
      assert.equal(json.result, "Both files are written.", why());
      assert.equal(readFileSync(a, "utf8"), "first <b>bold</b> line");
      assert.equal(readFileSync(b, "utf8"), "second");
      const last = upstream.requests.filter((r) => r.rawBody.includes(tag)).at(-1)!;
      const calls = body(last).messages.filter((m) =>
        m.role === "assistant" && m.tool_calls?.length
      );
      assert.equal(calls.length, 2, "both calls went back to the model as real tool calls");
      assert.equal(toolResults(last).length, 2);
    },
  );

  it(
    "native calls with a trailing comma or a fenced argument are run too",
    { timeout: 120_000 },
    async () => {
      const tag = "[almost-json]";
      const cwd = workDir();
      const a = join(cwd, "c.txt");
      const b = join(cwd, "d.txt");
      scenarios.set(tag, (r) => {
        if (!body(r).tools?.length) return { sse: textStream('{"title": "t"}') };
        const done = toolResults(r).length;
        if (done === 0) {
          const args = `{"file_path": ${JSON.stringify(a)}, "content": "comma",}`;
          return { sse: toolCallStream([{ id: "call_c1", name: "Write", args, parts: 7 }]) };
        }
        if (done === 1) {
          const args = "```json\n" + JSON.stringify({ file_path: b, content: "fenced" }) + "\n```";
          return { sse: toolCallStream([{ id: "call_c2", name: "Write", args, parts: 7 }]) };
        }
        return { sse: textStream("Done.") };
      });
      const { json, why } = await run(tag, "write c.txt and d.txt", cwd);
      assert.equal(json.result, "Done.", why());
      assert.ok(existsSync(a) && existsSync(b), why());
      assert.equal(readFileSync(a, "utf8"), "comma");
      assert.equal(readFileSync(b, "utf8"), "fenced");
    },
  );
});
