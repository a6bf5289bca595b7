/**
 * Kept-alive upstream connections: a request the proxy gave up on (client gone, timeout) or the
 * upstream reset is never sent again behind the proxy's back. Deno's node:http, the proxy's
 * transport under Deno before its own, did that on a reused socket (denoland/deno#36786): the
 * upstream generated a second, unread answer, and saw more attempts than MAX_RETRIES. Each test first warms the connection pool, so the request
 * under test rides a reused connection.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  completion,
  type FakeUpstream,
  type Recorded,
  type Reply,
  startFakeUpstream,
} from "./helpers/fake_upstream.ts";
import { startProxy, type TestProxy } from "./helpers/proxy.ts";

const ask = (text: string, stream: boolean) =>
  JSON.stringify({
    model: "claude-sonnet-4-6",
    max_tokens: 64,
    stream,
    messages: [{ role: "user", content: text }],
  });

function post(proxy: TestProxy, body: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${proxy.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    signal,
  });
}

/** What each upstream request asked, in arrival order. */
const asked = (up: FakeUpstream) =>
  up.requests.map((r: Recorded) => r.body?.messages?.[0]?.content as string);

/** Replies by what was asked: "slow" never answers, "reset" drops the connection. */
function script(req: Recorded): Reply {
  const text = req.body?.messages?.[0]?.content;
  if (text === "slow") return { stall: true };
  if (text === "reset") return { reset: true };
  return { json: completion({ content: "fine" }) };
}

async function withProxy(
  env: Record<string, string>,
  body: (up: FakeUpstream, proxy: TestProxy) => Promise<void>,
): Promise<void> {
  const up = await startFakeUpstream(script);
  const proxy = startProxy({ OPENAI_BASE_URL: up.url, RETRY_MAX_DELAY: "0.02", ...env });
  try {
    // Three at once leave up to three idle connections in the pool.
    const warm = await Promise.all([1, 2, 3].map(() => post(proxy, ask("warm", false))));
    for (const res of warm) {
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    await body(up, proxy);
  } finally {
    await proxy.close();
    await up.close();
  }
}

/** Waits for `done()`, checking every 5 ms for at most 5 s. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(done(), "timed out waiting");
}

/** One more request through the proxy: whatever the proxy sent before it has arrived by then. */
async function roundTrip(proxy: TestProxy): Promise<void> {
  const res = await post(proxy, ask("after", false));
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

describe("an abandoned upstream request is not sent again on a new connection", () => {
  it("FIRST_BYTE_TIMEOUT on a reused connection", async () => {
    await withProxy({ FIRST_BYTE_TIMEOUT: "0.2" }, async (up, proxy) => {
      const res = await post(proxy, ask("slow", true));
      assert.equal(res.status, 504);
      await res.body?.cancel();
      await up.requests[3]!.closed;
      await roundTrip(proxy);
      assert.deepEqual(asked(up), ["warm", "warm", "warm", "slow", "after"]);
    });
  });

  it("a client that leaves before the upstream answered", async () => {
    await withProxy({}, async (up, proxy) => {
      const client = new AbortController();
      const pending = post(proxy, ask("slow", false), client.signal).catch(() => undefined);
      await until(() => up.requests.length === 4);
      client.abort();
      await pending;
      await up.requests[3]!.closed;
      await roundTrip(proxy);
      assert.deepEqual(asked(up), ["warm", "warm", "warm", "slow", "after"]);
    });
  });

  it("REQUEST_TIMEOUT before the upstream answered", async () => {
    await withProxy({ REQUEST_TIMEOUT: "0.2" }, async (up, proxy) => {
      const res = await post(proxy, ask("slow", false));
      assert.equal(res.status, 504);
      await res.body?.cancel();
      await up.requests[3]!.closed;
      await roundTrip(proxy);
      assert.deepEqual(asked(up), ["warm", "warm", "warm", "slow", "after"]);
    });
  });
});

describe("attempts stay 1 + MAX_RETRIES on reused connections", () => {
  for (const retries of [0, 2]) {
    it(`a reset on every attempt, MAX_RETRIES=${retries}`, async () => {
      await withProxy({ MAX_RETRIES: String(retries) }, async (up, proxy) => {
        const res = await post(proxy, ask("reset", true));
        assert.equal(res.status, 502);
        await res.body?.cancel();
        assert.deepEqual(asked(up).slice(3), Array(1 + retries).fill("reset"));
      });
    });
  }
});
