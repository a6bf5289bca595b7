/**
 * How the proxy tells a streamed upstream answer from a whole one: by the media type, which is
 * case-insensitive (RFC 9110 §8.3.1), whatever case a gateway writes it in; and by the body, when
 * a gateway labels an event stream as something else.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { textStream } from "./helpers/fake_upstream.ts";
import {
  assemble,
  assertGrammar,
  body,
  type Harness,
  parseSse,
  postJson,
  startHarness,
} from "./api_support.ts";

describe("the upstream's Content-Type", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("TEXT/EVENT-STREAM in capitals is a stream, as text/event-stream is", async () => {
    h.reply({
      sse: textStream("Shouted media type."),
      headers: { "content-type": "TEXT/EVENT-STREAM; charset=UTF-8" },
    });
    const res = await postJson(`${h.proxy.url}/v1/messages`, body({ stream: true }));
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const message = assemble(assertGrammar(parseSse(text)));
    assert.deepEqual(message.content, [{ type: "text", text: "Shouted media type." }]);
  });

  for (const type of ["text/plain; charset=utf-8", "application/octet-stream"]) {
    it(`an event stream labelled ${type} is read as the stream it is`, async () => {
      h.reply({ sse: textStream("Mislabelled stream."), headers: { "content-type": type } });
      const res = await postJson(`${h.proxy.url}/v1/messages`, body({ stream: true }));
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const message = assemble(assertGrammar(parseSse(text)));
      assert.deepEqual(message.content, [{ type: "text", text: "Mislabelled stream." }]);
    });
  }
});
