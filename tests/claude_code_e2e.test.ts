/**
 * End to end: the real Claude Code CLI → this proxy → a scripted fake OpenAI upstream.
 *
 * The CLI decides on its own what to send (tool schemas, system prompts, thinking settings,
 * auxiliary requests), so these tests catch what unit tests built from fixtures cannot: a
 * stream the CLI rejects, a tool call it cannot execute, an error message it swallows.
 * Skipped when no CLI is available (set CLAUDE_BIN, or install it under .tools/).
 *
 * One upstream and one proxy serve the whole file. Every prompt carries a tag such as
 * `[e2e-a]`, and the upstream routes and filters requests by that tag, so a late auxiliary
 * request of one test can never be answered or counted as part of another.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  asClaudeResult,
  claudeAtMost,
  claudeBinary,
  type ClaudeJsonResult,
  makeTempDir,
  runClaude,
  type RunClaudeResult,
} from "./helpers/claude_cli.ts";
import {
  chunk,
  completion,
  type FakeUpstream,
  openaiError,
  type Recorded,
  type Reply,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import { startProxy, TEST_CLIENT_KEY, TEST_UPSTREAM_KEY, type TestProxy } from "./helpers/proxy.ts";

const CLAUDE = claudeBinary();
const SKIP = CLAUDE === undefined
  ? "Claude Code CLI not found: set CLAUDE_BIN or run `npm i --prefix .tools @anthropic-ai/claude-code`"
  : false;
if (SKIP) console.warn(`claude_code_e2e: skipped (${SKIP})`);

const BIG = "e2e-big-model";
const MIDDLE = "e2e-middle-model";
const SMALL = "e2e-small-model";
const TEST_TIMEOUT_MS = 120_000;
const CLI_TIMEOUT_MS = 90_000;

// The OpenAI request shapes the assertions look at; everything else is ignored.
type ToolCall = { id: string; type: string; function: { name: string; arguments: string } };
type ChatMessage = {
  role: string;
  content?: unknown;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
};
type ChatTool = {
  type: string;
  function: { name: string; description?: string; parameters?: JsonSchemaObject };
};
type JsonSchemaObject = {
  type?: string;
  properties?: Record<string, unknown>;
  required?: string[];
};
type ChatRequest = {
  model: string;
  stream?: boolean;
  messages: ChatMessage[];
  tools?: ChatTool[];
  response_format?: { type: string };
};

function chat(r: Recorded): ChatRequest {
  return r.body as ChatRequest;
}

/** Claude Code's agent loop always sends its tool set; title generation sends none. */
function isMainTurn(r: Recorded): boolean {
  const tools = chat(r).tools;
  return Array.isArray(tools) && tools.length > 0;
}

function toolMessages(r: Recorded): ChatMessage[] {
  return chat(r).messages.filter((m) => m.role === "tool");
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === "object" && "text" in p ? String(p.text) : ""))
      .join("");
  }
  return "";
}

const TITLE_JSON = '{"title": "End to end test"}';

/** Auxiliary requests (title generation) get a plausible answer in the shape they asked for. */
function auxReply(r: Recorded): Reply {
  return chat(r).stream === true
    ? { sse: textStream(TITLE_JSON) }
    : { json: completion({ content: TITLE_JSON }) };
}

type Scenario = (r: Recorded) => Reply;

describe("Claude Code CLI through the proxy", { skip: SKIP }, () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  const scenarios = new Map<string, Scenario>();
  const dirs: string[] = [];

  before(async () => {
    upstream = await startFakeUpstream((req) => {
      for (const [tag, scenario] of scenarios) {
        if (req.rawBody.includes(tag)) return scenario(req);
      }
      return { status: 500, json: openaiError("e2e fake upstream: request matches no scenario") };
    });
    proxy = startProxy({
      OPENAI_BASE_URL: upstream.url,
      BIG_MODEL: BIG,
      MIDDLE_MODEL: MIDDLE,
      SMALL_MODEL: SMALL,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
    });
  });

  after(async () => {
    await proxy?.close();
    await upstream?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A cwd whose path is what the CLI itself reports (macOS /var is a symlink). */
  function workDir(): string {
    const d = realpathSync(makeTempDir("claude-e2e-cwd-"));
    dirs.push(d);
    return d;
  }

  function requestsFor(tag: string): Recorded[] {
    return upstream.requests.filter((r) => r.rawBody.includes(tag));
  }

  /** Everything needed to debug a failure, attached to the first failing assertion. */
  function explain(tag: string, run: RunClaudeResult): string {
    const reqs = requestsFor(tag).map((r) => {
      const b = chat(r);
      return `${r.method} ${r.path} model=${b?.model} stream=${b?.stream} tools=${
        b?.tools?.length ?? 0
      } roles=${b?.messages?.map((m) => m.role).join(",")}`;
    });
    return [
      `exit code: ${run.code}${run.timedOut ? " (timed out)" : ""}`,
      `stdout: ${run.stdout.slice(0, 4000)}`,
      `stderr: ${run.stderr.slice(0, 2000)}`,
      `upstream requests:\n  ${reqs.join("\n  ")}`,
      `proxy log (last 30):\n  ${proxy.logs.slice(-30).join("\n  ")}`,
    ].join("\n");
  }

  function resultOf(tag: string, run: RunClaudeResult): ClaudeJsonResult {
    const result = asClaudeResult(run.json);
    assert.ok(result, `no JSON result on stdout\n${explain(tag, run)}`);
    return result;
  }

  it("a) streamed Write tool call, tool result round trip, title generation", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const tag = "[e2e-a]";
    const cwd = workDir();
    const filePath = join(cwd, "out.txt");
    const content = "hello from the e2e test\n";
    const writeArgs = JSON.stringify({ file_path: filePath, content });
    scenarios.set(tag, (r) => {
      if (!isMainTurn(r)) return auxReply(r);
      if (toolMessages(r).length === 0) {
        return {
          sse: toolCallStream(
            [{ id: "call_write_1", name: "Write", args: writeArgs, parts: 5 }],
            { text: "I will write the file." },
          ),
        };
      }
      return { sse: textStream("Created out.txt with the greeting.", { parts: 4 }) };
    });

    const run = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: `${tag} create a file out.txt containing a greeting`,
      cwd,
      model: "opus",
      // Title generation only happens with non-essential traffic allowed; the helper routes
      // every other destination to a dead proxy.
      env: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: undefined },
      timeoutMs: CLI_TIMEOUT_MS,
    });
    const why = () => explain(tag, run);
    const result = resultOf(tag, run);
    assert.equal(result.is_error, false, why());
    assert.equal(run.code, 0, why());
    assert.equal(result.result, "Created out.txt with the greeting.", why());
    assert.ok(existsSync(filePath), `out.txt was not written\n${why()}`);
    assert.equal(readFileSync(filePath, "utf8"), content);

    const reqs = requestsFor(tag);
    const main = reqs.filter(isMainTurn);
    assert.equal(main.length, 2, why());
    const [first, second] = [chat(main[0]!), chat(main[1]!)];
    for (const r of main) {
      assert.equal(r.path, "/v1/chat/completions");
      assert.equal(r.headers["authorization"], `Bearer ${TEST_UPSTREAM_KEY}`);
      assert.ok(
        !r.rawBody.includes(TEST_CLIENT_KEY),
        "the client's key must not reach the upstream",
      );
    }
    assert.equal(first.model, BIG, "opus maps to BIG_MODEL");
    assert.equal(first.stream, true);
    assert.equal(first.messages[0]?.role, "system", "the system prompt leads the messages");

    // Claude Code's tools arrive as OpenAI function tools with their JSON schemas.
    const tools = first.tools ?? [];
    assert.ok(tools.every((t) => t.type === "function"), why());
    const names = tools.map((t) => t.function.name);
    for (const name of ["Bash", "Read", "Write", "Edit"]) assert.ok(names.includes(name), name);
    const write = tools.find((t) => t.function.name === "Write")!;
    assert.ok((write.function.description ?? "").length > 0);
    const params = write.function.parameters;
    assert.equal(params?.type, "object");
    assert.ok(
      params?.properties && "file_path" in params.properties && "content" in params.properties,
    );
    assert.deepEqual([...(params?.required ?? [])].sort(), ["content", "file_path"]);

    // The second turn carries our tool call and the CLI's result for it.
    const assistant = second.messages.find((m) => m.role === "assistant" && m.tool_calls?.length);
    assert.ok(assistant, why());
    const call = assistant.tool_calls![0]!;
    assert.equal(call.id, "call_write_1");
    assert.equal(call.function.name, "Write");
    assert.deepEqual(JSON.parse(call.function.arguments), { file_path: filePath, content });
    const results = toolMessages(main[1]!);
    assert.equal(results.length, 1, why());
    assert.equal(results[0]!.tool_call_id, "call_write_1");
    assert.match(textOf(results[0]!.content), /out\.txt/);
    const toolIndex = second.messages.indexOf(results[0]!);
    assert.equal(second.messages.indexOf(assistant) + 1, toolIndex, "tool result follows its call");

    // Title generation: no tools, asks for structured output, answered in kind. Releases after
    // 2.1.197 no longer ask for a title in print mode (observed with 2.1.332).
    const aux = reqs.filter((r) => !isMainTurn(r));
    if (!claudeAtMost("2.1.197")) {
      assert.equal(aux.length, 0, `no title request expected from this release\n${why()}`);
      return;
    }
    assert.equal(aux.length, 1, `expected one title-generation request\n${why()}`);
    const title = chat(aux[0]!);
    assert.equal(
      title.model,
      BIG,
      "without ANTHROPIC_SMALL_FAST_MODEL the CLI uses its main model",
    );
    assert.ok(
      title.response_format?.type === "json_schema" ||
        title.response_format?.type === "json_object",
      `title generation should ask for JSON: ${JSON.stringify(title.response_format)}`,
    );
  });

  it("b) two parallel streamed tool calls are both executed", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const tag = "[e2e-b]";
    const cwd = workDir();
    scenarios.set(tag, (r) => {
      if (!isMainTurn(r)) return auxReply(r);
      if (toolMessages(r).length === 0) {
        return {
          sse: toolCallStream([
            {
              id: "call_bash_1",
              name: "Bash",
              args: JSON.stringify({ command: "echo first > first.txt", description: "first" }),
              parts: 4,
            },
            {
              id: "call_bash_2",
              name: "Bash",
              args: JSON.stringify({ command: "echo second > second.txt", description: "second" }),
              parts: 3,
            },
          ]),
        };
      }
      return { sse: textStream("Both files exist now.") };
    });

    const run = await runClaude({
      baseUrl: proxy.url,
      // Bearer instead of x-api-key: the proxy accepts either.
      authToken: TEST_CLIENT_KEY,
      prompt: `${tag} create first.txt and second.txt`,
      cwd,
      model: "sonnet",
      timeoutMs: CLI_TIMEOUT_MS,
    });
    const why = () => explain(tag, run);
    const result = resultOf(tag, run);
    assert.equal(result.is_error, false, why());
    assert.equal(result.result, "Both files exist now.", why());
    assert.equal(readFileSync(join(cwd, "first.txt"), "utf8"), "first\n", why());
    assert.equal(readFileSync(join(cwd, "second.txt"), "utf8"), "second\n", why());

    const main = requestsFor(tag).filter(isMainTurn);
    assert.equal(main.length, 2, why());
    assert.equal(chat(main[0]!).model, MIDDLE, "sonnet maps to MIDDLE_MODEL");
    const second = chat(main[1]!);
    const assistant = second.messages.find((m) => m.role === "assistant" && m.tool_calls?.length);
    assert.deepEqual(assistant?.tool_calls?.map((c) => c.id), ["call_bash_1", "call_bash_2"]);
    assert.deepEqual(
      toolMessages(main[1]!).map((m) => m.tool_call_id),
      ["call_bash_1", "call_bash_2"],
      why(),
    );
  });

  it("c) reasoning_content streams as a thinking block before the answer", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const tag = "[e2e-c]";
    const reasoning = "The user wants a number. Forty-two is the classic answer.";
    scenarios.set(tag, (r) => {
      if (!isMainTurn(r)) return auxReply(r);
      return { sse: textStream("The answer is 42.", { reasoning }) };
    });

    const run = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: `${tag} what is the answer?`,
      cwd: workDir(),
      model: "haiku",
      // stream-json shows the assistant's content blocks, not only the final text.
      extraArgs: ["--output-format", "stream-json", "--verbose"],
      timeoutMs: CLI_TIMEOUT_MS,
    });
    const why = () => explain(tag, run);
    const events = run.stdout.split("\n").filter((l) => l.trim().startsWith("{")).map((l) =>
      JSON.parse(l) as {
        type?: string;
        message?: { content?: { type: string; thinking?: string }[] };
      }
    );
    const result = asClaudeResult(events.at(-1));
    assert.ok(result, why());
    assert.equal(result.is_error, false, why());
    assert.equal(result.result, "The answer is 42.", why());
    const thinking = events
      .filter((e) => e.type === "assistant")
      .flatMap((e) => e.message?.content ?? [])
      .filter((b) => b.type === "thinking")
      .map((b) => b.thinking ?? "")
      .join("");
    assert.equal(thinking, reasoning, why());
    assert.equal(chat(requestsFor(tag).filter(isMainTurn)[0]!).model, SMALL, "haiku → SMALL_MODEL");
  });

  it("c2) a thinking block with a tool call survives the round trip", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // The CLI sends the thinking block (with the signature the proxy gave it) back on the
    // next turn; the proxy must accept it and not send the thinking upstream as text.
    const tag = "[e2e-c2]";
    const cwd = workDir();
    scenarios.set(tag, (r) => {
      if (!isMainTurn(r)) return auxReply(r);
      if (toolMessages(r).length === 0) {
        const steps = toolCallStream([{
          id: "call_think_1",
          name: "Bash",
          args: JSON.stringify({ command: "echo thought > thought.txt" }),
        }]);
        // Reasoning first, as reasoning models send it, then the call.
        const [head, ...rest] = steps;
        return {
          sse: [
            head!,
            chunk({ reasoning_content: "I need to create " }),
            chunk({ reasoning_content: "the file first." }),
            ...rest,
          ],
        };
      }
      return { sse: textStream("Done thinking and writing.", { reasoning: "The tool worked." }) };
    });

    const run = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: `${tag} think, then create thought.txt`,
      cwd,
      model: "opus",
      timeoutMs: CLI_TIMEOUT_MS,
    });
    const why = () => explain(tag, run);
    const result = resultOf(tag, run);
    assert.equal(result.is_error, false, why());
    assert.equal(result.result, "Done thinking and writing.", why());
    assert.equal(readFileSync(join(cwd, "thought.txt"), "utf8"), "thought\n", why());
    const main = requestsFor(tag).filter(isMainTurn);
    assert.equal(main.length, 2, why());
    assert.deepEqual(toolMessages(main[1]!).map((m) => m.tool_call_id), ["call_think_1"]);
  });

  it("d) an upstream 400 reaches the user with the upstream's message", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const tag = "[e2e-d]";
    scenarios.set(tag, (r) => {
      if (!isMainTurn(r)) return auxReply(r);
      return { status: 400, json: openaiError("Upstream says no") };
    });

    const run = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: `${tag} say hello`,
      cwd: workDir(),
      timeoutMs: CLI_TIMEOUT_MS,
    });
    const why = () => explain(tag, run);
    const result = resultOf(tag, run);
    assert.equal(result.is_error, true, why());
    assert.notEqual(run.code, 0, why());
    assert.match(result.result ?? "", /Upstream says no/, why());
    assert.equal(result.api_error_status, 400, why());
    // An HTTP status (not an in-stream error event) spares the CLI its non-streaming retry.
    // 2.1.197 then stops; newer releases re-send the streamed request a few times first.
    const main = requestsFor(tag).filter(isMainTurn);
    assert.ok(main.every((r) => chat(r).stream === true), why());
    if (claudeAtMost("2.1.197")) assert.equal(main.length, 1, why());
  });

  it("d2) an upstream 429 keeps its status and message", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const tag = "[e2e-d2]";
    scenarios.set(tag, (r) => {
      if (!isMainTurn(r)) return auxReply(r);
      return {
        status: 429,
        json: openaiError("Rate limit reached for e2e-big-model", "rate_limit_exceeded"),
      };
    });

    const run = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: `${tag} say hello`,
      cwd: workDir(),
      model: "opus",
      timeoutMs: CLI_TIMEOUT_MS,
    });
    const why = () => explain(tag, run);
    const result = resultOf(tag, run);
    assert.equal(result.is_error, true, why());
    assert.equal(result.api_error_status, 429, why());
    assert.match(result.result ?? "", /Rate limit reached for e2e-big-model/, why());
  });

  it("e) a stream cut mid-answer is recovered by the CLI's non-streaming retry", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // The CLI answers a broken stream by sending the same request once without `stream`;
    // the proxy must turn the cut into an error event (not a clean end) for that to happen.
    const tag = "[e2e-e]";
    scenarios.set(tag, (r) => {
      if (!isMainTurn(r)) return auxReply(r);
      if (chat(r).stream === true) {
        return {
          sse: textStream("This answer will be cu", { usage: null }).slice(0, 3),
          resetAfter: true,
        };
      }
      return { json: completion({ content: "Recovered without streaming." }) };
    });

    const run = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: `${tag} say something`,
      cwd: workDir(),
      timeoutMs: CLI_TIMEOUT_MS,
    });
    const why = () => explain(tag, run);
    const result = resultOf(tag, run);
    assert.equal(result.is_error, false, why());
    assert.equal(result.result, "Recovered without streaming.", why());
    // An `overloaded_error` event before any content makes the CLI retry the stream up to 3
    // times first (its 529 loop ignores CLAUDE_CODE_MAX_RETRIES); other error types go
    // straight to the non-streaming request. Either way exactly one non-streamed request ends it.
    const streamed = requestsFor(tag).filter(isMainTurn).map((r) => chat(r).stream === true);
    assert.equal(streamed.at(-1), false, why());
    assert.equal(streamed.filter((s) => !s).length, 1, why());
    assert.ok(streamed.length >= 2 && streamed.length <= 4, why());
  });

  it(
    "f) with both ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN set, the proxy's key as the token works",
    {
      timeout: TEST_TIMEOUT_MS,
    },
    async () => {
      // The CLI then sends both headers; a real Anthropic key left in the shell is the usual case.
      const tag = "[e2e-f]";
      scenarios.set(
        tag,
        (r) => isMainTurn(r) ? { sse: textStream("Both keys sent.") } : auxReply(r),
      );
      const run = await runClaude({
        baseUrl: proxy.url,
        apiKey: "sk-ant-api03-a-real-key-left-in-the-shell",
        authToken: TEST_CLIENT_KEY,
        prompt: `${tag} say hello`,
        cwd: workDir(),
        timeoutMs: CLI_TIMEOUT_MS,
      });
      const why = () => explain(tag, run);
      const result = resultOf(tag, run);
      assert.equal(result.is_error, false, why());
      assert.equal(result.result, "Both keys sent.", why());
      for (const r of requestsFor(tag)) assert.ok(!r.rawBody.includes("sk-ant-api03"), why());
    },
  );

  it("g) a Write the token limit cut is not run: no half-written file", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const tag = "[e2e-g]";
    const cwd = workDir();
    const whole = JSON.stringify({ file_path: join(cwd, "big.txt"), content: "x".repeat(300) });
    scenarios.set(tag, (r) => {
      if (!isMainTurn(r)) return auxReply(r);
      if (toolMessages(r).length === 0 && chat(r).stream === true) {
        // The arguments stop inside `content`: closed, they would pass Write's schema.
        return {
          sse: toolCallStream([{ id: "call_cut", name: "Write", args: whole.slice(0, 120) }], {
            finish: "length",
          }),
        };
      }
      return chat(r).stream === true
        ? { sse: textStream("Stopped.") }
        : { json: completion({ content: "Stopped." }) };
    });
    const run = await runClaude({
      baseUrl: proxy.url,
      apiKey: TEST_CLIENT_KEY,
      prompt: `${tag} write big.txt`,
      cwd,
      timeoutMs: CLI_TIMEOUT_MS,
    });
    const why = () => explain(tag, run);
    resultOf(tag, run);
    assert.equal(existsSync(join(cwd, "big.txt")), false, why());
  });

  it("a client without the proxy's key is refused with a readable message", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const tag = "[e2e-auth]";
    scenarios.set(tag, () => ({ sse: textStream("should never be asked") }));
    const run = await runClaude({
      baseUrl: proxy.url,
      apiKey: "wrong-key",
      prompt: `${tag} say hello`,
      cwd: workDir(),
      timeoutMs: CLI_TIMEOUT_MS,
    });
    const why = () => explain(tag, run);
    const result = resultOf(tag, run);
    assert.equal(result.is_error, true, why());
    assert.equal(result.api_error_status, 401, why());
    assert.equal(requestsFor(tag).length, 0, why());
  });
});
