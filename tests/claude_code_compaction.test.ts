/**
 * The real Claude Code CLI on a model with a small context window (MODEL_LIMITS): the
 * conversation outgrows the window, the proxy answers Anthropic's "prompt is too long" error
 * instead of sending it, and the CLI compacts the conversation and finishes the task, where it
 * would otherwise have failed or had its prompt cut short by the upstream.
 * Skipped when no CLI is available (set CLAUDE_BIN, or install it under .tools/).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { realpathSync, rmSync } from "node:fs";
import { asClaudeResult, claudeBinary, makeTempDir, runClaude } from "./helpers/claude_cli.ts";
import {
  type FakeUpstream,
  type Recorded,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import { startProxy, TEST_CLIENT_KEY, type TestProxy } from "./helpers/proxy.ts";

const SKIP = claudeBinary() === undefined ? "Claude Code CLI not found" : false;

const MODEL = "small-window-model";
// Claude Code's first request is 11k (2.1.332) to 18k (2.1.197) tokens of system prompt and
// tools; each command output below adds about 4k, so the window is outgrown after 3 to 5 of
// them, and what is left after a compaction (summary, the last two calls) fits again.
const WINDOW = 30_000;
const CALLS = 6;
const SUMMARY = "<summary>The user asked for six outputs; the earlier ones were printed.</summary>";

type Message = { role: string; content?: unknown; tool_calls?: unknown[] };

function messagesOf(r: Recorded): Message[] {
  return (r.body as { messages: Message[] }).messages;
}

/** Claude Code's compaction request: the history plus an instruction to summarise it. */
function isCompaction(r: Recorded): boolean {
  const last = JSON.stringify(messagesOf(r).at(-1)?.content ?? "");
  return last.includes("Respond with TEXT ONLY") || /create a detailed summary/i.test(last);
}

describe("Claude Code CLI on a small context window", { skip: SKIP }, () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let issued = 0;
  const dirs: string[] = [];

  before(async () => {
    upstream = await startFakeUpstream((r) => {
      if (isCompaction(r)) return { sse: textStream(SUMMARY) };
      if (issued < CALLS) {
        issued++;
        // Output that is not a file read, so the CLI has nothing to re-attach after compacting.
        const command = `printf 'output ${issued} %.0s' $(seq 1 1500)`;
        return {
          sse: toolCallStream([{
            id: `call_out_${issued}`,
            name: "Bash",
            args: JSON.stringify({ command, description: `Print output ${issued}` }),
          }]),
        };
      }
      return { sse: textStream("All outputs printed.") };
    });
    proxy = startProxy({
      OPENAI_BASE_URL: upstream.url,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      BIG_MODEL: MODEL,
      MIDDLE_MODEL: MODEL,
      SMALL_MODEL: MODEL,
      MODEL_LIMITS: JSON.stringify({ [MODEL]: { context: WINDOW } }),
      LOG_LEVEL: "INFO",
    });
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("compacts when the proxy reports the window full, and finishes the task", {
    timeout: 180_000,
  }, async () => {
    const cwd = realpathSync(makeTempDir("claude-compact-"));
    dirs.push(cwd);
    const run = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: `print six outputs with the Bash tool, one command at a time`,
      cwd,
      model: "opus",
      timeoutMs: 150_000,
    });
    const requests = upstream.requests.map((r) =>
      `${isCompaction(r) ? "compaction" : "turn"} tool_results=${
        messagesOf(r).filter((m) => m.role === "tool").length
      } chars=${r.rawBody.length}`
    );
    const why = () =>
      [
        `exit ${run.code}; stdout: ${run.stdout.slice(0, 2000)}`,
        `stderr: ${run.stderr.slice(0, 1000)}`,
        `upstream:\n  ${requests.join("\n  ")}`,
        `proxy:\n  ${proxy.logs.filter((l) => l.includes(" request ")).join("\n  ")}`,
      ].join("\n");

    const result = asClaudeResult(run.json);
    assert.ok(result, why());
    assert.equal(result.is_error, false, why());
    assert.equal(run.code, 0, why());
    assert.equal(result.result, "All outputs printed.", why());
    assert.equal(issued, CALLS, why());

    // The window was outgrown: answered by the proxy, never sent upstream.
    const refused = proxy.logs.filter((l) =>
      l.includes("path=/v1/messages ") && l.includes("status=400") &&
      l.includes("error=invalid_request_error")
    );
    assert.ok(refused.length >= 1, why());
    // The CLI compacted: it asked for a summary, and a later turn carried less history than the
    // largest one before it.
    const firstCompaction = upstream.requests.findIndex(isCompaction);
    assert.ok(firstCompaction > 0, why());
    const before = upstream.requests.slice(0, firstCompaction);
    const after = upstream.requests.slice(firstCompaction + 1).filter((r) => !isCompaction(r));
    const results = (r: Recorded) => messagesOf(r).filter((m) => m.role === "tool").length;
    const most = Math.max(...before.map(results));
    assert.ok(after.length > 0 && results(after[0]!) < most, why());
    assert.ok(
      after.some((r) => JSON.stringify(messagesOf(r)).includes("earlier ones were printed")),
      `the summary carries on after compaction\n${why()}`,
    );
  });
});
