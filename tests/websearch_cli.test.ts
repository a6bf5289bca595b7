/**
 * The real Claude Code CLI completes a task that searches the web through the proxy on a
 * non-Anthropic model. Its WebSearch tool sends a request of its own whose tools hold the
 * `web_search_20250305` server tool (2.1.197: `{type, name: "web_search", max_uses: 8}`, system
 * "You are an assistant for performing a web search tool use", streamed); the proxy runs the
 * search on a fake Brave API and the CLI reads the server tool blocks back into its tool result.
 * Skipped when no CLI is available (set CLAUDE_BIN, or install it under .tools/).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { asClaudeResult, claudeBinary, runClaude } from "./helpers/claude_cli.ts";
import {
  completion,
  type FakeUpstream,
  type Recorded,
  type Reply,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import { TEST_CLIENT_KEY, type TestProxy } from "./helpers/proxy.ts";
import { searchEnv, type SearchFake, startSearchFake } from "./helpers/search_fakes.ts";
import { startSearchProxy } from "./helpers/search_proxy.ts";

const SKIP = claudeBinary() === undefined ? "Claude Code CLI not found" : false;

// deno-lint-ignore no-explicit-any
type Any = any;

const answer = (stream: boolean, text: string): Reply =>
  stream ? { sse: textStream(text) } : { json: completion({ content: text }) };
const call = (stream: boolean, name: string, args: unknown): Reply =>
  stream ? { sse: toolCallStream([{ id: `call_${name}`, name, args: JSON.stringify(args) }]) } : {
    json: completion({ tool_calls: [{ id: `call_${name}`, name, args: JSON.stringify(args) }] }),
  };

/** The main agent calls WebSearch; the search request's model calls web_search, then sums up. */
function script(req: Recorded): Reply {
  const body = req.body ?? {};
  const stream = body.stream === true;
  const tools: string[] = (body.tools ?? []).map((t: Any) => t.function?.name);
  const messages: Any[] = body.messages ?? [];
  const toolResults = messages.filter((m) => m.role === "tool");
  if (tools.includes("web_search")) {
    return toolResults.length === 0
      ? call(stream, "web_search", { query: "deno 3 release" })
      : answer(stream, "Deno 3.0 ships a new package manager, per https://deno.com/blog/v3.0.");
  }
  if (toolResults.length === 0) return call(stream, "WebSearch", { query: "deno 3 release" });
  const seen = JSON.stringify(toolResults.at(-1).content);
  return answer(
    stream,
    seen.includes("https://deno.com/blog/v3.0") ? "WEBSEARCH-OK" : "WEBSEARCH-MISSING",
  );
}

describe("Claude Code's WebSearch on a non-Anthropic model", { skip: SKIP }, () => {
  let search: SearchFake;
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  before(async () => {
    search = await startSearchFake("brave");
    upstream = await startFakeUpstream(script);
    proxy = startSearchProxy({
      OPENAI_BASE_URL: upstream.url,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      ...searchEnv("brave", search),
    }, undefined);
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
    await search.close();
  });

  it("completes a task that searches, with the results in the CLI's tool result", {
    timeout: 120_000,
  }, async () => {
    const run = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: "Search the web: what is new in Deno 3?",
      timeoutMs: 90_000,
    });
    const result = asClaudeResult(run.json);
    assert.ok(result, `no JSON result: ${run.stdout}\n${run.stderr}`);
    assert.equal(result.is_error, false, result.result);
    assert.equal(result.result, "WEBSEARCH-OK");
    assert.equal(search.requests.length, 1);
    assert.equal(search.requests[0]!.query.get("q"), "deno 3 release");
    // The CLI's search request offered web_search as a function, and got the results back.
    const searchRounds = upstream.requests.filter((r) =>
      (r.body?.tools ?? []).some((t: Any) => t.function?.name === "web_search")
    );
    assert.equal(searchRounds.length, 2);
    assert.match(JSON.stringify(searchRounds[1]!.body.messages), /Deno 3\.0 released/);
    // Streamed: the CLI never had to fall back to a non-streamed request.
    assert.ok(searchRounds.every((r) => r.body.stream === true));
  });
});
