/** Request bodies are decoded as strict UTF-8 on both read paths (Content-Length and chunked). */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { completion, type FakeUpstream, startFakeUpstream } from "./helpers/fake_upstream.ts";
import { startProxy, type TestProxy } from "./helpers/proxy.ts";

const valid = (text: string) =>
  JSON.stringify({
    model: "claude-haiku-4-5",
    max_tokens: 5,
    messages: [{ role: "user", content: text }],
  });

/** A body stream without a known length, so the proxy reads it chunk by chunk. */
function chunked(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      c.enqueue(bytes.subarray(0, 7));
      c.enqueue(bytes.subarray(7));
      c.close();
    },
  });
}

describe("request body decoding", () => {
  let up: FakeUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startFakeUpstream(() => ({ json: completion({ content: "ok" }) }));
    proxy = startProxy({ OPENAI_BASE_URL: up.url });
  });
  after(async () => {
    await proxy.close();
    await up.close();
  });

  const post = (body: BodyInit, extra: RequestInit = {}) =>
    fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      ...extra,
    });

  for (
    const [name, send] of [
      ["with Content-Length", (b: Uint8Array<ArrayBuffer>) => post(b)],
      [
        "chunked",
        (b: Uint8Array<ArrayBuffer>) => post(chunked(b), { duplex: "half" } as RequestInit),
      ],
    ] as const
  ) {
    it(`${name}: a real U+FFFD and other non-ASCII text pass through intact`, async () => {
      const text = "r\u00e9sum\u00e9 \uFFFD \u{1F600} \u4e2d\u6587";
      const res = await send(new TextEncoder().encode(valid(text)));
      assert.equal(res.status, 200, await res.clone().text());
      await res.text();
      assert.equal(up.requests.at(-1)!.body.messages.at(-1).content, text);
    });

    it(`${name}: invalid UTF-8 is a 400 invalid_request_error`, async () => {
      const good = new TextEncoder().encode(valid("abc"));
      const bad = new Uint8Array([
        ...good.subarray(0, good.length - 10),
        0xff,
        0xfe,
        ...good.subarray(good.length - 10),
      ]);
      const res = await send(bad);
      assert.equal(res.status, 400);
      const body = await res.json();
      assert.equal(body.error.type, "invalid_request_error");
      assert.match(body.error.message, /UTF-8/);
    });
  }
});
