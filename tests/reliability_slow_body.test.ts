/** A client that trickles its body, or stops half-way, does not hold a request open for ever. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { completion, type FakeUpstream, startFakeUpstream } from "./helpers/fake_upstream.ts";
import { startProxy, type TestProxy } from "./helpers/proxy.ts";

describe("a request body that never finishes", () => {
  let up: FakeUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startFakeUpstream([{ json: completion({ content: "x" }) }]);
    proxy = startProxy({ OPENAI_BASE_URL: up.url, REQUEST_TIMEOUT: "0.3" });
  });
  after(async () => {
    await proxy.close();
    await up.close();
  });

  it("is answered 408 within REQUEST_TIMEOUT, and nothing is sent upstream", async () => {
    const response = await new Promise<string>((resolve, reject) => {
      const socket = connect(proxy.port, "127.0.0.1");
      let text = "";
      socket.on("connect", () => {
        // Declares 1000 bytes and sends 20, then goes quiet.
        socket.write(
          "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
            'Content-Length: 1000\r\n\r\n{"model":"claude-ha',
        );
      });
      socket.on("data", (d: Buffer) => {
        text += d.toString("utf8");
        if (/\r\n\r\n[\s\S]*\}/.test(text)) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on("error", reject);
      setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer within 10 s; got: ${text}`));
      }, 10_000);
    });
    assert.match(response, /^HTTP\/1\.1 408/);
    const body = JSON.parse(response.slice(response.indexOf("{"), response.lastIndexOf("}") + 1));
    assert.equal(body.type, "error");
    assert.match(body.error.message, /REQUEST_TIMEOUT/);
    assert.equal(up.requests.length, 0);
  });
});
