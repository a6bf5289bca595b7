/**
 * End to end: the real Claude Code CLI → this proxy → a scripted fake Responses API upstream,
 * with the default OPENAI_API=auto and a Responses-only model on an OpenAI provider. The CLI
 * must run a streamed Write tool call and finish the task, and its second turn must carry the
 * call, the result and the encrypted reasoning back. Skipped when no CLI is available.
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
import { type FakeUpstream, type Recorded, startFakeUpstream } from "./helpers/fake_upstream.ts";
import { startProxy, TEST_CLIENT_KEY, TEST_UPSTREAM_KEY, type TestProxy } from "./helpers/proxy.ts";
import { responseStream } from "./helpers/responses_fake.ts";

const SKIP = claudeBinary() === undefined ? "Claude Code CLI not found" : false;
if (SKIP) console.warn(`responses_claude_code: skipped (${SKIP})`);

type Item = { type: string; call_id?: string; encrypted_content?: string; output?: string };
// deno-lint-ignore no-explicit-any
const bodyOf = (r: Recorded): any => r.body;
const itemsOf = (r: Recorded): Item[] => bodyOf(r)?.input ?? [];
const isMainTurn = (r: Recorded) => (bodyOf(r)?.tools?.length ?? 0) > 0;

describe("Claude Code CLI through the proxy to a Responses API upstream", { skip: SKIP }, () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let cwd: string;

  before(async () => {
    cwd = realpathSync(makeTempDir("claude-responses-cwd-"));
    const filePath = join(cwd, "out.txt");
    upstream = await startFakeUpstream((r) => {
      if (!r.path.endsWith("/responses")) {
        return { status: 500, json: { error: { message: "expected the Responses API" } } };
      }
      if (!isMainTurn(r)) return responseStream([{ type: "message", text: '{"title":"t"}' }]);
      if (!itemsOf(r).some((i) => i.type === "function_call_output")) {
        return responseStream([
          { type: "reasoning", summary: ["I should write the file."], encrypted: "enc-cli-1" },
          { type: "message", text: "Writing the file." },
          {
            type: "function_call",
            call_id: "call_write_1",
            name: "Write",
            arguments: JSON.stringify({ file_path: filePath, content: "hello from responses\n" }),
            parts: 5,
          },
        ]);
      }
      return responseStream([{ type: "message", text: "Wrote out.txt.", parts: 3 }]);
    });
    proxy = startProxy({
      OPENAI_BASE_URL: upstream.url,
      PROVIDER: "openai",
      BIG_MODEL: "gpt-5-codex",
      MIDDLE_MODEL: "gpt-5-codex",
      SMALL_MODEL: "gpt-5-codex",
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
    });
  });

  after(async () => {
    await proxy?.close();
    await upstream?.close();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it("completes a streamed Write tool task", { timeout: 120_000 }, async () => {
    const run: RunClaudeResult = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: "create a file out.txt containing a greeting",
      cwd,
      model: "opus",
      timeoutMs: 90_000,
    });
    const why = () =>
      `exit ${run.code}\nstdout: ${run.stdout.slice(0, 3000)}\nstderr: ${
        run.stderr.slice(0, 1500)
      }\nrequests: ${upstream.requests.map((r) => r.path).join(", ")}\nlog:\n${
        proxy.logs.slice(-20).join("\n")
      }`;
    const result = asClaudeResult(run.json);
    assert.ok(result, why());
    assert.equal(result.is_error, false, why());
    assert.equal(result.result, "Wrote out.txt.", why());
    const filePath = join(cwd, "out.txt");
    assert.ok(existsSync(filePath), why());
    assert.equal(readFileSync(filePath, "utf8"), "hello from responses\n");

    const main = upstream.requests.filter(isMainTurn);
    assert.equal(main.length, 2, why());
    for (const r of main) {
      assert.equal(r.path, "/v1/responses");
      assert.equal(r.headers["authorization"], `Bearer ${TEST_UPSTREAM_KEY}`);
      assert.equal(bodyOf(r).stream, true);
      assert.equal(bodyOf(r).model, "gpt-5-codex");
      assert.equal(typeof bodyOf(r).prompt_cache_key, "string", "the CLI's session id");
    }
    assert.equal(
      bodyOf(main[0]!).prompt_cache_key,
      bodyOf(main[1]!).prompt_cache_key,
      "one session, one cache key",
    );
    const second = itemsOf(main[1]!);
    const reasoning = second.find((i) => i.type === "reasoning");
    assert.equal(reasoning?.encrypted_content, "enc-cli-1", "the reasoning came back");
    const call = second.findIndex((i) => i.type === "function_call");
    assert.equal(second[call]?.call_id, "call_write_1");
    assert.equal(second[call + 1]?.type, "function_call_output", "the output follows its call");
    assert.equal(second[call + 1]?.call_id, "call_write_1");
    assert.ok(second.indexOf(reasoning!) < call, "reasoning precedes the call it led to");
  });
});
