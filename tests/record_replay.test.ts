/**
 * RECORD_DIR and `replay`: a real proxy in front of the scripted fake upstream writes one file
 * per exchange (no key in it), and replaying each file through today's converter gives what the
 * client got; a changed answer is reported as a difference; the caps skip or stop recording
 * without failing a request; a recorded file works as a test fixture unchanged.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import {
  completion,
  type FakeUpstream,
  openaiError,
  type Reply,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import {
  mainCommand,
  repoRoot,
  startProxy,
  startProxyProcess,
  TEST_CLIENT_KEY,
  TEST_UPSTREAM_KEY,
  type TestProxy,
} from "./helpers/proxy.ts";
import {
  describeDifference,
  parseRecord,
  ReplayError,
  replayFile,
  replayRecord,
} from "../lib/cli/replay.ts";
import { replayAgainst } from "../lib/cli/replay_against.ts";
import { configFromEnv } from "../lib/ops/config.ts";
import type { RecordFile } from "../lib/server/record_file.ts";
import { Recorder, type RecordStore } from "../lib/server/exchange_recorder.ts";
import { ProxyError } from "../lib/anthropic/errors.ts";
import { createLogger } from "../lib/ops/log.ts";

type Setup = {
  dir: string;
  upstream: FakeUpstream;
  proxy: TestProxy;
  client: Anthropic;
  reply: (r: Reply) => void;
  /** The files written so far, oldest first, as text. */
  files: () => Promise<string[]>;
  close: () => Promise<void>;
};

async function setup(env: Record<string, string> = {}): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), "ccp-record-"));
  let next: Reply = { json: completion({ content: "ok" }) };
  const upstream = await startFakeUpstream(() => next);
  const proxy = startProxy({
    OPENAI_BASE_URL: upstream.url,
    ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
    RECORD_DIR: dir,
    ...env,
  });
  const client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
  return {
    dir,
    upstream,
    proxy,
    client,
    reply: (r) => (next = r),
    files: async () => {
      await proxy.flushRecords();
      return readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) =>
        readFileSync(join(dir, f), "utf8")
      );
    },
    close: async () => {
      await proxy.close();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ask = {
  model: "claude-sonnet-4-6",
  max_tokens: 256,
  messages: [{ role: "user" as const, content: "What is the weather in Paris?" }],
};

const weatherTool = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: {
    type: "object" as const,
    properties: { city: { type: "string" } },
    required: ["city"],
  },
};

function lastRecord(texts: string[]): RecordFile {
  const text = texts[texts.length - 1];
  assert.ok(text, "no file recorded");
  return parseRecord(text);
}

describe("record (RECORD_DIR)", () => {
  let s: Setup;
  before(async () => (s = await setup()));
  after(() => s.close());

  it("writes a streamed exchange as one file, and replaying it gives what the client got", async () => {
    s.reply({
      sse: toolCallStream([{ id: "call_1", name: "get_weather", args: '{"city":"Paris"}' }], {
        text: "Let me check.",
      }),
    });
    const stream = s.client.messages.stream({ ...ask, tools: [weatherTool] });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, "tool_use");

    const texts = await s.files();
    assert.equal(texts.length, 1);
    const text = texts[0]!;
    // No key, in any header or anywhere else.
    assert.ok(!text.includes(TEST_UPSTREAM_KEY), "the upstream key is not written");
    assert.ok(!text.includes(TEST_CLIENT_KEY), "the client key is not written");
    const rec = parseRecord(text);
    assert.equal(rec.upstream_request?.headers.authorization, "[REDACTED]");
    assert.equal(rec.upstream_request?.api, "chat");
    // The SDK sends its key as x-api-key, or as a Bearer token when given one from the env.
    const keyHeaders = ["x-api-key", "authorization"].map((h) => rec.client_headers?.[h])
      .filter((v) => v !== undefined);
    assert.ok(keyHeaders.length > 0);
    assert.ok(keyHeaders.every((v) => v === "[REDACTED]"), JSON.stringify(rec.client_headers));
    assert.match(rec.client_headers?.["user-agent"] ?? "", /Anthropic\/JS/);
    assert.deepEqual(rec.client_request, { ...ask, tools: [weatherTool], stream: true });
    const body = rec.upstream_request?.body as { model: string; stream: boolean };
    assert.equal(body.model, "gpt-4o");
    assert.equal(body.stream, true);
    assert.equal(rec.upstream_response?.kind, "stream");
    if (rec.upstream_response?.kind !== "stream") return;
    assert.equal(rec.upstream_response.end, "complete");
    assert.ok(rec.upstream_response.chunks.length >= 6);
    assert.ok(rec.upstream_response.chunks.every((c) => c.t >= 0));
    const events = rec.client_response.events as { type: string }[];
    assert.equal(events[0]?.type, "message_start");
    assert.equal(events[events.length - 1]?.type, "message_stop");

    const result = replayRecord(rec);
    assert.deepEqual(describeDifference(result), [
      `same: ${events.length} events, as the client got them`,
    ]);
    assert.equal(result.equal, true);
    const lines: string[] = [];
    assert.equal(replayFile(text, (l) => lines.push(l)), 0);
  });

  it("reports a changed upstream answer as a difference (exit 1)", async () => {
    s.reply({ sse: textStream("The weather in Paris is sunny.") });
    await s.client.messages.stream(ask).finalMessage();
    const rec = lastRecord(await s.files());
    assert.equal(replayRecord(rec).equal, true);
    if (rec.upstream_response?.kind !== "stream") return assert.fail("not a stream");
    // What a converter change would look like: the same upstream chunks, other client events.
    const chunks = rec.upstream_response.chunks.map((c) =>
      "data" in c ? { ...c, data: c.data.replace("sunny", "rainy") } : c
    );
    const changed = { ...rec, upstream_response: { ...rec.upstream_response, chunks } };
    const lines: string[] = [];
    assert.equal(replayFile(JSON.stringify(changed), (l) => lines.push(l)), 1);
    const out = lines.join("\n");
    assert.match(out, /different: from event \d+/);
    assert.match(out, /^- .*sunny/m);
    assert.match(out, /^\+ .*rainy/m);
  });

  it("records a whole (non-streamed) answer, and replays it", async () => {
    s.reply({ json: completion({ content: "Sunny, 21°C." }) });
    const msg = await s.client.messages.create(ask);
    assert.equal(msg.content[0]?.type, "text");
    const rec = lastRecord(await s.files());
    assert.equal(rec.upstream_response?.kind, "message");
    assert.equal(rec.client_response.stream, false);
    assert.deepEqual(rec.client_response.message, JSON.parse(JSON.stringify(msg)));
    const result = replayRecord(rec);
    assert.equal(result.equal, true, describeDifference(result).join("\n"));
  });

  it("replays as the same an answer that redaction changed (no usage from the upstream)", async () => {
    // A key-shaped string and an echoed header in the answer's text: the file holds them
    // redacted, and the proxy counted output tokens from the text before that.
    const text = "Set OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123 and send " +
      '{"authorization": "Bearer abcdefghij1234"} with each call.';
    for (const stream of [true, false]) {
      s.reply(
        stream
          ? { sse: textStream(text, { usage: null }) }
          : { json: { ...completion({ content: text }), usage: undefined } },
      );
      const res = await fetch(`${s.proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
        body: JSON.stringify({ ...ask, stream }),
      });
      assert.equal(res.status, 200);
      await res.text();
      const rec = lastRecord(await s.files());
      assert.match(JSON.stringify(rec.upstream_response), /REDACTED/);
      const result = replayRecord(rec);
      assert.equal(result.equal, true, describeDifference(result).join("\n"));
    }
  });

  it("records an upstream error answer with what the client got, and replays it", async () => {
    s.reply({
      status: 400,
      json: openaiError(`Incorrect API key provided: ${TEST_UPSTREAM_KEY}`),
    });
    await assert.rejects(s.client.messages.create(ask), (e: Error) => {
      assert.ok(e instanceof Anthropic.APIError);
      return true;
    });
    const texts = await s.files();
    assert.ok(!texts.join("").includes(TEST_UPSTREAM_KEY), "the echoed key is not written");
    const rec = lastRecord(texts);
    assert.equal(rec.upstream_response?.kind, "http_error");
    assert.equal(rec.client_response.error?.status, 400);
    const result = replayRecord(rec);
    assert.equal(result.equal, true, describeDifference(result).join("\n"));
  });

  it("records a stream the upstream cut, and replays it as far as it went", async () => {
    s.reply({ sse: textStream("Partly cloudy with a chance of").slice(0, 3), resetAfter: true });
    const res = await fetch(`${s.proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
      body: JSON.stringify({ ...ask, stream: true }),
    });
    assert.match(await res.text(), /event: error/);
    const rec = lastRecord(await s.files());
    if (rec.upstream_response?.kind !== "stream") return assert.fail("not a stream");
    assert.equal(rec.upstream_response.end, "cut");
    assert.equal(rec.client_response.error?.type, "overloaded_error");
    const result = replayRecord(rec);
    assert.equal(result.equal, true, describeDifference(result).join("\n"));
  });

  it("--against sends the recorded request to another model and shows both answers", async () => {
    s.reply({ json: completion({ content: "Sunny in Paris." }) });
    await s.client.messages.create(ask);
    const text = (await s.files()).at(-1)!;
    s.reply({ json: completion({ content: "Rain all day." }) });
    const config = configFromEnv({
      OPENAI_BASE_URL: s.upstream.url,
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      MAX_RETRIES: "0",
    });
    const lines: string[] = [];
    const code = await replayAgainst(
      text,
      "other-model",
      config,
      (input, init) => fetch(input, init),
      (l) => lines.push(l),
    );
    assert.equal(code, 0);
    assert.equal(s.upstream.requests.at(-1)?.body.model, "other-model");
    const row = lines.find((l) => l.includes("Sunny in Paris."));
    assert.ok(row?.includes("│") && row.includes("Rain all day."), lines.join("\n"));
    assert.match(lines[0]!, /then: default gpt-4o .*│ now: other-model/);
  });
});

describe("record with a configuration file", () => {
  it("a file provider's error hint (providers.NAME.api_key) replays as the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ccp-record-file-"));
    const upstream = await startFakeUpstream(() => ({
      status: 401,
      json: openaiError("Incorrect API key provided"),
    }));
    const config = join(dir, "ccp.jsonc");
    writeFileSync(
      config,
      JSON.stringify({
        providers: { b: { base_url: upstream.url, api_key: "${KEY_B}", models: ["m1"] } },
        models: { opus: ["b/m1"], sonnet: ["b/m1"], haiku: ["b/m1"] },
      }),
    );
    const proxy = startProxyProcess(
      { KEY_B: TEST_UPSTREAM_KEY, RECORD_DIR: join(dir, "rec"), PORT: "0", HOST: "127.0.0.1" },
      ["--config", config],
      { denoFlags: ["--allow-write"] },
    );
    try {
      const port = await proxy.listening;
      const client = new Anthropic({
        baseURL: `http://127.0.0.1:${port}`,
        apiKey: "k",
        maxRetries: 0,
      });
      await assert.rejects(client.messages.create(ask), /check providers\.b\.api_key/);
      proxy.kill();
      await proxy.exited;
      const files = readdirSync(join(dir, "rec")).filter((f) => f.endsWith(".json"));
      assert.equal(files.length, 1);
      const rec = parseRecord(readFileSync(join(dir, "rec", files[0]!), "utf8"));
      const result = replayRecord(rec);
      assert.equal(result.equal, true, describeDifference(result).join("\n"));
    } finally {
      proxy.kill();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("record limits", () => {
  it("skips an exchange over RECORD_MAX_FILE_BYTES with one log line; the request succeeds", async () => {
    const s = await setup({ RECORD_MAX_FILE_BYTES: "3000" });
    try {
      s.reply({ sse: textStream("x".repeat(4000), { parts: 20 }) });
      const msg = await s.client.messages.stream(ask).finalMessage();
      assert.equal(msg.content[0]?.type === "text" && msg.content[0].text.length, 4000);
      assert.deepEqual(await s.files(), []);
      const lines = s.proxy.logs.filter((l) => l.includes("larger than RECORD_MAX_FILE_BYTES"));
      assert.equal(lines.length, 1, s.proxy.logs.join("\n"));
      // A small exchange after it is still recorded.
      s.reply({ json: completion({ content: "ok" }) });
      await s.client.messages.create(ask);
      assert.equal((await s.files()).length, 1);
    } finally {
      await s.close();
    }
  });

  it("stops recording at RECORD_MAX_DIR_BYTES with one log line; requests go on", async () => {
    const s = await setup({ RECORD_MAX_DIR_BYTES: "6000" });
    try {
      for (let i = 0; i < 6; i++) {
        const msg = await s.client.messages.create(ask);
        assert.equal(msg.type, "message");
      }
      const texts = await s.files();
      assert.ok(texts.length >= 1 && texts.length < 6, `${texts.length} files`);
      const total = texts.reduce((n, t) => n + new TextEncoder().encode(t).byteLength, 0);
      assert.ok(total <= 6000, `${total} bytes`);
      const lines = s.proxy.logs.filter((l) => l.includes("RECORD_MAX_DIR_BYTES"));
      assert.equal(lines.length, 1, s.proxy.logs.join("\n"));
    } finally {
      await s.close();
    }
  });

  it("leaves no partial file behind", async () => {
    const s = await setup();
    try {
      await s.client.messages.create(ask);
      await s.files();
      assert.deepEqual(readdirSync(s.dir).filter((f) => !f.endsWith(".json")), []);
    } finally {
      await s.close();
    }
  });
});

describe("the recorder's writer", () => {
  const fakeStore = (used: number, fail: boolean) => {
    const written: string[] = [];
    const store: RecordStore = {
      usedBytes: () => Promise.resolve(used),
      write: (name) => {
        if (fail) return Promise.reject(new Error("ENOSPC: no space left on device"));
        written.push(name);
        return Promise.resolve();
      },
    };
    return { store, written };
  };
  const run = async (used: number, fail: boolean) => {
    const logs: string[] = [];
    const log = createLogger({
      level: "info",
      format: "text",
      secrets: [],
      sink: (l) => logs.push(l),
    });
    const { store, written } = fakeStore(used, fail);
    const recorder = new Recorder({
      store,
      maxFileBytes: 1_000_000,
      maxDirBytes: 10_000,
      log,
      redact: (t) => t,
    });
    let begun = 0;
    for (let i = 0; i < 3; i++) {
      const rec = recorder.begin(`req_${i}`, 0, ask, new Headers(), false);
      if (!rec) continue;
      begun++;
      rec.finishError(new ProxyError(502, "api_error", "upstream unreachable"));
      await recorder.flush();
    }
    return { logs, written, begun };
  };

  it("stops at the first failed write with one log line", async () => {
    const { logs, written, begun } = await run(0, true);
    assert.deepEqual(written, []);
    assert.equal(begun, 1, "nothing more is collected once stopped");
    assert.equal(logs.length, 1, logs.join("\n"));
    assert.match(logs[0]!, /recording stopped: cannot write to RECORD_DIR .*ENOSPC/);
  });

  it("counts what the directory held before: a full one records nothing", async () => {
    const { logs, written } = await run(9_900, false);
    assert.deepEqual(written, []);
    assert.equal(logs.length, 1, logs.join("\n"));
    assert.match(logs[0]!, /RECORD_MAX_DIR_BYTES used_bytes=9900/);
  });

  it("skips exchanges while the disk is behind, with one line as that begins and one as it ends", async () => {
    const logs: string[] = [];
    const log = createLogger({
      level: "info",
      format: "text",
      secrets: [],
      sink: (l) => logs.push(l),
    });
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const written: string[] = [];
    const recorder = new Recorder({
      store: {
        usedBytes: () => Promise.resolve(0),
        write: async (name) => {
          await gate;
          written.push(name);
        },
      },
      maxFileBytes: 1_000_000,
      maxDirBytes: 1_000_000_000,
      log,
      redact: (t) => t,
    });
    const finish = (i: number) =>
      recorder.begin(`req_${i}`, 0, ask, new Headers(), false)!
        .finishError(new ProxyError(502, "api_error", "x"));
    for (let i = 0; i < 100; i++) finish(i);
    release();
    // Slots free one by one while more exchanges come: still the same spell, no new line.
    for (let i = 100; i < 200; i++) {
      finish(i);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    await recorder.flush();
    assert.ok(written.length >= 64 && written.length < 200, String(written.length));
    assert.equal(logs.length, 2, logs.join("\n"));
    assert.match(logs[0]!, /not recorded: the writer is behind/);
    assert.match(logs[1]!, new RegExp(`recording caught up not_recorded=${200 - written.length}`));
    const before = written.length;
    finish(200);
    await recorder.flush();
    assert.equal(written.length, before + 1);
    assert.equal(logs.length, 2);
  });

  it("writes each exchange when there is room", async () => {
    const { logs, written } = await run(0, false);
    assert.equal(written.length, 3);
    assert.ok(
      written.every((n) => /^\d{4}-\d\d-\d\dT[\d-]+Z_req_\d\.json$/.test(n)),
      written.join(),
    );
    assert.deepEqual(logs, []);
  });
});

describe("record at start-up", () => {
  it("refuses to start when RECORD_DIR cannot be used, naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ccp-record-"));
    try {
      const notADir = join(dir, "file");
      writeFileSync(notADir, "x");
      const child = startProxyProcess(
        { OPENAI_BASE_URL: "http://127.0.0.1:9/v1", PORT: "0" },
        ["--record", notADir],
      );
      child.listening.catch(() => {}); // it never listens
      assert.equal(await child.exited, 1);
      assert.match(child.output(), /cannot use RECORD_DIR dir=\S*file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("replay", () => {
  const fixture = join(repoRoot, "tests/fixtures/records/stream-tool-call.json");

  it("replays a recorded file kept as a fixture, unchanged", () => {
    const text = readFileSync(fixture, "utf8");
    const lines: string[] = [];
    assert.equal(replayFile(text, (l) => lines.push(l)), 0, lines.join("\n"));
    assert.match(lines.join("\n"), /same: \d+ events/);
  });

  it("repeats a recorded keep-alive where it happened", () => {
    const rec = parseRecord(readFileSync(fixture, "utf8"));
    if (rec.upstream_response?.kind !== "stream") return assert.fail("not a stream");
    const [first, ...rest] = rec.upstream_response.chunks;
    // Sent while the upstream was silent after its first chunk (60 s in the proxy).
    const chunks = [first!, { t: first!.t + 60_000, keep_alive: true as const }, ...rest];
    const result = replayRecord({
      ...rec,
      upstream_response: { ...rec.upstream_response, chunks },
    });
    assert.equal(result.equal, false);
    const added = result.now.filter((line) => !result.then.includes(line));
    assert.ok(
      added.some((l) => l.includes('"thinking":""') || l.includes('"text":""')),
      added.join("\n"),
    );
  });

  it("refuses what is not a recorded exchange", () => {
    assert.throws(() => parseRecord("{}"), ReplayError);
    assert.throws(() => parseRecord("not json"), ReplayError);
    const rec = parseRecord(readFileSync(fixture, "utf8"));
    assert.equal(rec.upstream_request?.api, undefined, "the fixture predates the api field");
    assert.throws(
      () =>
        replayRecord({
          ...rec,
          upstream_request: { ...rec.upstream_request!, api: "carrier-pigeon" },
        }),
      /speaking "carrier-pigeon"/,
    );
  });

  it("runs as a subcommand: exit 0 when the same, 1 when different, 2 when not a record", () => {
    const dir = mkdtempSync(join(tmpdir(), "ccp-replay-"));
    try {
      const rec = parseRecord(readFileSync(fixture, "utf8"));
      if (rec.upstream_response?.kind !== "stream") return assert.fail("not a stream");
      const chunks = rec.upstream_response.chunks.map((c) =>
        "data" in c ? { ...c, data: c.data.replaceAll("Paris", "Lyon") } : c
      );
      const changed = join(dir, "changed.json");
      writeFileSync(
        changed,
        JSON.stringify({ ...rec, upstream_response: { ...rec.upstream_response, chunks } }),
      );
      const broken = join(dir, "broken.json");
      writeFileSync(broken, "{}");
      const { cmd, args } = mainCommand();
      // No configuration at all: a plain replay needs none.
      const run = (...files: string[]) =>
        spawnSync(cmd, [...args, "replay", ...files], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1" },
          encoding: "utf8",
          timeout: 60_000,
        });
      const same = run(fixture);
      assert.equal(same.status, 0, same.stderr + same.stdout);
      assert.match(same.stdout, /same: \d+ events/);
      const diff = run(changed);
      assert.equal(diff.status, 1, diff.stderr + diff.stdout);
      assert.match(diff.stdout, /^\+ .*Lyon/m);
      const bad = run(broken);
      assert.equal(bad.status, 2, bad.stderr + bad.stdout);
      assert.match(bad.stderr, /not a recorded exchange: [a-z_]+: /);
      assert.doesNotMatch(bad.stderr, /invalid request/);
      const folder = run(dir);
      assert.equal(folder.status, 2, folder.stderr + folder.stdout);
      assert.match(folder.stderr, /a directory: give its record files/);
      // Several files (a shell glob over RECORD_DIR): any difference makes it exit 1.
      const all = run(fixture, changed, broken, join(dir, "missing.json"));
      assert.equal(all.status, 1, all.stderr + all.stdout);
      assert.match(all.stdout, /4 files: 1 same, 1 different, 2 not replayed/);
      assert.match(all.stderr, /missing\.json: not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
