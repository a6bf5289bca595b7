/**
 * The fetch entry shared by Workers and `deno serve` (lib/runtime/fetch_entry.ts), in process:
 * public by default, and a configuration error answered as an Anthropic error naming the setting.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { lazyFetch, stringVars } from "../lib/runtime/fetch_entry.ts";
import { TEST_CLIENT_KEY, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";

const health = () => new Request("http://worker.local/health");

async function errorOf(res: Response): Promise<{ type: string; message: string }> {
  const body = await res.json() as { type: string; error: { type: string; message: string } };
  assert.equal(body.type, "error");
  return body.error;
}

describe("platform fetch entry", () => {
  it("serves with a key", async () => {
    const fetch = lazyFetch(() => ({
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      LOG_LEVEL: "ERROR",
    }));
    const res = await fetch(health());
    assert.equal(res.status, 200);
    assert.equal((await res.json() as { status: string }).status, "ok");
  });

  it("without ANTHROPIC_API_KEY answers every request with a 500 saying so", async () => {
    const fetch = lazyFetch(() => ({ OPENAI_API_KEY: TEST_UPSTREAM_KEY }));
    for (let i = 0; i < 2; i++) {
      const res = await fetch(health());
      assert.equal(res.status, 500);
      const error = await errorOf(res);
      assert.equal(error.type, "api_error");
      assert.match(error.message, /refusing to serve without ANTHROPIC_API_KEY/);
      assert.ok(!error.message.includes(TEST_UPSTREAM_KEY));
    }
  });

  it("ALLOW_REMOTE_WITHOUT_KEY=true serves without a key", async () => {
    const fetch = lazyFetch(() => ({
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      ALLOW_REMOTE_WITHOUT_KEY: "true",
      LOG_LEVEL: "ERROR",
    }));
    assert.equal((await fetch(health())).status, 200);
  });

  it("a bad setting is named in the 500", async () => {
    const fetch = lazyFetch(() => ({
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      REQUEST_TIMEOUT: "soon",
    }));
    const error = await errorOf(await fetch(health()));
    assert.match(error.message, /REQUEST_TIMEOUT: must be a number of seconds/);
    assert.ok(!error.message.includes(TEST_CLIENT_KEY));
  });

  it("reads the variables the platform passes to each call, and only strings", async () => {
    let calls = 0;
    const fetch = lazyFetch((env: Record<string, unknown>) => {
      calls++;
      return stringVars(env);
    });
    const env = {
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      LOG_LEVEL: "ERROR",
      KV: { get: () => null },
    };
    assert.equal((await fetch(health(), env)).status, 200);
    assert.equal((await fetch(health(), env)).status, 200);
    assert.equal(calls, 1, "built once");
    assert.deepEqual(Object.keys(stringVars(env)).sort(), [
      "ANTHROPIC_API_KEY",
      "LOG_LEVEL",
      "OPENAI_API_KEY",
    ]);
  });
});
