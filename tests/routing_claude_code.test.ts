/**
 * The real Claude Code CLI completes a tool task through a routing file whose first provider
 * (Anthropic-speaking) answers every request with 529 and whose second (OpenAI-style) answers:
 * the CLI never sees the failure. Skipped when no CLI is available.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import { asClaudeResult, claudeBinary, makeTempDir, runClaude } from "./helpers/claude_cli.ts";
import {
  completion,
  type FakeUpstream,
  type Recorded,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import { requestLines, type RoutingProxy, startRoutingProxy } from "./helpers/routing_proxy.ts";

const SKIP = claudeBinary() === undefined ? "Claude Code CLI not found" : false;

function hasTools(r: Recorded): boolean {
  return Array.isArray(r.body?.tools) && r.body.tools.length > 0;
}

function sawToolResult(r: Recorded): boolean {
  return Array.isArray(r.body?.messages) &&
    r.body.messages.some((m: { role?: string }) => m.role === "tool");
}

describe("Claude Code CLI through a fallback chain", { skip: SKIP }, () => {
  let first: FakeUpstream;
  let second: FakeUpstream;
  let proxy: RoutingProxy;
  let cwd: string;

  before(async () => {
    first = await startFakeUpstream(() => ({
      status: 529,
      json: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
    }));
    cwd = realpathSync(makeTempDir("claude-routing-"));
    const file = join(cwd, "out.txt");
    second = await startFakeUpstream((r) => {
      if (!hasTools(r)) {
        return r.body?.stream
          ? { sse: textStream("Routing test") }
          : { json: completion({ content: "Routing test" }) };
      }
      if (!sawToolResult(r)) {
        return {
          sse: toolCallStream([{
            id: "call_w1",
            name: "Write",
            args: JSON.stringify({ file_path: file, content: "routed\n" }),
          }]),
        };
      }
      return { sse: textStream("Wrote out.txt.", { parts: 1 }) };
    });
    proxy = startRoutingProxy(`{
      "providers": {
        "busy": { "base_url": "${first.origin}", "api": "anthropic", "api_key": "\${KEY_A}" },
        "good": { "base_url": "${second.url}", "api_key": "\${KEY_A}" },
      },
      "models": {
        "opus": ["busy/claude-big", "good/gpt-big"],
        "sonnet": ["busy/claude-big", "good/gpt-big"],
        "haiku": ["busy/claude-small", "good/gpt-small"],
      },
    }`);
  });

  after(async () => {
    await proxy?.close();
    await first?.close();
    await second?.close();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it(
    "writes the file and finishes, the 529 never reaching the CLI",
    { timeout: 120_000 },
    async () => {
      const run = await runClaude({
        baseUrl: proxy.url,
        prompt: "create out.txt containing the word routed",
        cwd,
        model: "opus",
        timeoutMs: 90_000,
      });
      const why = () =>
        `exit ${run.code}\nstdout: ${run.stdout.slice(0, 2000)}\nstderr: ${
          run.stderr.slice(0, 1000)
        }\nlog:\n${proxy.logs.slice(-10).join("\n")}`;
      const result = asClaudeResult(run.json);
      assert.ok(result, why());
      assert.equal(result.is_error, false, why());
      assert.equal(result.result, "Wrote out.txt.", why());
      assert.equal(readFileSync(join(cwd, "out.txt"), "utf8"), "routed\n");
      assert.ok(existsSync(join(cwd, "out.txt")));
      // Every main turn went to the first provider, got 529, and was answered by the second.
      const main = second.requests.filter(hasTools);
      assert.equal(main.length, 2, why());
      assert.ok(main.every((r) => r.body.model === "gpt-big"));
      assert.ok(first.requests.length >= 2);
      assert.equal(first.requests[0]!.body.model, "claude-big");
      const lines = requestLines(proxy.logs).filter((l) => l.path === "/v1/messages");
      assert.ok(lines.every((l) => l.status === 200), why());
      assert.ok(
        lines.some((l) => String(l.attempts).includes("busy/claude-big: 529 overloaded_error")),
      );
    },
  );
});
