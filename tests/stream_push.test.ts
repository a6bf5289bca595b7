/**
 * The stream driver takes the upstream body as pushed chunks (lib/upstreams/body_source.ts):
 * a client that falls behind pauses the upstream and resumes it when it reads again, the
 * transport's own source and the stream reader give the same answer, and an upstream that
 * sends [DONE] before ending its body gets an answered client at once and keeps its
 * connection for the next request.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { driveStream, type StreamOutcome } from "../lib/server/stream_response.ts";
import { StreamConverter } from "../lib/upstreams/chat/stream.ts";
import { attachSource, type BodySource, type SourceSink } from "../lib/upstreams/body_source.ts";
import { startProxy, TEST_CLIENT_KEY, testTransport } from "./helpers/proxy.ts";
import { chunk, textStream, usageChunk } from "./helpers/fake_upstream.ts";

const enc = new TextEncoder();
const frame = (c: unknown) => enc.encode(`data: ${JSON.stringify(c)}\n\n`);

function converter(): StreamConverter {
  return new StreamConverter({
    messageId: "msg_fixed",
    model: "claude-sonnet-4-6",
    inputTokensEstimate: 9,
    toolNames: new Map(),
  });
}

/** A source driven by the test, recording the driver's calls. */
function scriptedSource() {
  const calls: string[] = [];
  let sink: SourceSink | undefined;
  const source: BodySource = {
    start: (s) => {
      sink = s;
      calls.push("start");
    },
    pause: () => calls.push("pause"),
    resume: () => calls.push("resume"),
    cancel: () => calls.push("cancel"),
  };
  return { source, calls, sink: () => sink! };
}

/** A body stream nobody reads, standing for what a transport returns with its source. */
function inertBody(source: BodySource): ReadableStream<Uint8Array> {
  const body = new ReadableStream<Uint8Array>({}, { highWaterMark: 0 });
  attachSource(body, source);
  return body;
}

const text = (events: string) =>
  [...events.matchAll(/"text_delta","text":"((?:[^"\\]|\\.)*)"/g)].map((m) =>
    JSON.parse(`"${m[1]}"`)
  )
    .join("");

describe("stream driver on a pushed upstream body", () => {
  it("pauses the upstream while the client is behind and resumes it when the client reads", async () => {
    const { source, calls, sink } = scriptedSource();
    let outcome: StreamOutcome | undefined;
    const out = driveStream({
      body: inertBody(source),
      converter: converter(),
      idleTimeoutMs: 60_000,
      pingIntervalMs: 60_000,
      abortUpstream: () => {},
      onEnd: (o) => (outcome = o),
    });
    const reader = out.getReader();
    assert.deepEqual(calls, ["start"]);
    sink().data(frame(chunk({ role: "assistant", content: "" })));
    // The client reads nothing: after a bounded number of chunks the upstream is paused.
    let sent = 0;
    while (!calls.includes("pause") && sent < 100) {
      sink().data(frame(chunk({ content: `${sent++},` })));
    }
    assert.ok(calls.includes("pause"), "the upstream was never paused");
    assert.ok(sent <= 32, `paused only after ${sent} chunks`);
    assert.equal(calls.includes("resume"), false);
    // The client catches up: the upstream is resumed and the rest of the answer flows.
    let got = "";
    const dec = new TextDecoder();
    while (!calls.includes("resume")) got += dec.decode((await reader.read()).value);
    sink().data(frame(chunk({ content: "end" })));
    sink().data(frame(chunk({}, "stop")));
    sink().data(frame(usageChunk({ prompt_tokens: 9, completion_tokens: 3 })));
    sink().data(enc.encode("data: [DONE]\n\n"));
    sink().end();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      got += dec.decode(r.value);
    }
    const want = Array.from({ length: sent }, (_, i) => `${i},`).join("") + "end";
    assert.equal(text(got), want);
    assert.match(got, /event: message_stop/);
    assert.equal(outcome?.status, "complete");
    // A body that ended complete is not cancelled: its connection stays reusable.
    assert.equal(calls.includes("cancel"), false);
  });

  it("a client that leaves cancels the upstream source", async () => {
    const { source, calls, sink } = scriptedSource();
    const aborted: string[] = [];
    let outcome: StreamOutcome | undefined;
    const out = driveStream({
      body: inertBody(source),
      converter: converter(),
      idleTimeoutMs: 60_000,
      pingIntervalMs: 60_000,
      abortUpstream: (why) => aborted.push(why),
      onEnd: (o) => (outcome = o),
    });
    const reader = out.getReader();
    sink().data(frame(chunk({ role: "assistant", content: "hi" })));
    await reader.read();
    await reader.cancel();
    assert.ok(calls.includes("cancel"));
    assert.deepEqual(aborted, ["client"]);
    assert.equal(outcome?.status, "client_gone");
    // Whatever the upstream still delivers goes nowhere.
    sink().data(frame(chunk({ content: "late" })));
  });

  it("the runtime transport's own source and its body stream give the same answer", async () => {
    const body = [
      ...textStream("one, two, three", { parts: 5 }).map((c) => JSON.stringify(c)),
    ];
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const c of body) res.write(`data: ${c}\n\n`);
      res.end("data: [DONE]\n\n");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const drive = async (readFirst: boolean) => {
        const res = await testTransport(url, { method: "POST", body: "{}" });
        // A reader that took the stream first wins: the driver then reads it as a stream.
        const upstream = readFirst ? res.body!.pipeThrough(new TransformStream()) : res.body!;
        const out = driveStream({
          body: upstream,
          converter: converter(),
          idleTimeoutMs: 60_000,
          pingIntervalMs: 60_000,
          abortUpstream: () => {},
          onEnd: () => {},
        });
        return await new Response(out).text();
      };
      const pushed = await drive(false);
      const read = await drive(true);
      assert.equal(text(pushed), "one, two, three");
      assert.equal(pushed, read);
    } finally {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    }
  });
});

describe("[DONE] before the end of the upstream body", () => {
  it("answers the client at once and reuses the upstream connection", async () => {
    let connections = 0;
    const releases: (() => void)[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (const c of textStream("done early")) res.write(`data: ${JSON.stringify(c)}\n\n`);
        res.write("data: [DONE]\n\n");
        // The body ends only after the client has its whole answer: a proxy that waited for
        // the end of the body would never answer.
        releases.push(() => res.end());
      });
    });
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const proxy = startProxy({
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      LOG_LEVEL: "ERROR",
    });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${proxy.url}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
          body: JSON.stringify({
            model: "claude-sonnet-4-6",
            max_tokens: 100,
            stream: true,
            messages: [{ role: "user", content: "hi" }],
          }),
        });
        const got = await res.text();
        assert.equal(text(got), "done early");
        assert.match(got, /event: message_stop/);
        releases.shift()?.();
        // The body's end has to reach the proxy before the next request for the connection to
        // be free again; any client would open a second one otherwise.
        await new Promise((r) => setTimeout(r, 30));
      }
      assert.equal(connections, 1, `the proxy opened ${connections} upstream connections`);
    } finally {
      for (const release of releases) release();
      await proxy.close();
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    }
  });
});
