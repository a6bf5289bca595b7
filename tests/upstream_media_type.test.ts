/**
 * How the proxy tells a streamed upstream answer from a whole one: by the media type, which is
 * case-insensitive (RFC 9110 §8.3.1), whatever case a gateway writes it in; and by the body, when
 * a gateway labels an event stream as something else.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { completion, textStream, toolCallStream } from "./helpers/fake_upstream.ts";
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

const WEATHER = {
  name: "get_weather",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

describe("an upstream that streams when asked for a whole answer", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  for (const type of ["text/event-stream", "text/plain"]) {
    it(`its stream (${type}) is answered as the one message it holds`, async () => {
      h.reply({
        sse: [
          ...textStream("Let me look.", { finish: "tool_calls", usage: null }).slice(0, -1),
          ...toolCallStream([{ id: "call_1", name: "get_weather", args: '{"city":"Oslo"}' }], {
            usage: { prompt_tokens: 12, completion_tokens: 9 },
          }).slice(1),
        ],
        headers: { "content-type": type },
      });
      const res = await postJson(`${h.proxy.url}/v1/messages`, body({ tools: [WEATHER] }));
      const message = await res.json();
      assert.equal(res.status, 200, JSON.stringify(message));
      assert.equal(message.type, "message");
      assert.deepEqual(message.content, [
        { type: "text", text: "Let me look." },
        { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Oslo" } },
      ]);
      assert.equal(message.stop_reason, "tool_use");
      assert.equal(message.usage.output_tokens, 9);
    });
  }

  it("a call the token limit cut in that stream is left out for its note, as in a JSON answer", async () => {
    h.reply({
      sse: toolCallStream([{ id: "call_1", name: "get_weather", args: '{"city":"Os' }], {
        finish: "length",
      }),
    });
    const res = await postJson(`${h.proxy.url}/v1/messages`, body({ tools: [WEATHER] }));
    const message = await res.json();
    assert.equal(res.status, 200, JSON.stringify(message));
    assert.equal(message.stop_reason, "max_tokens");
    assert.deepEqual(message.content.map((b: { type: string }) => b.type), ["text"]);
    assert.match(message.content[0].text, /get_weather .*cut off by the token limit/);
  });

  it("a whole JSON answer labelled text/event-stream is still read as the JSON it is", async () => {
    h.reply({
      json: completion({ content: "Whole answer." }),
      headers: { "content-type": "text/event-stream" },
    });
    const res = await postJson(`${h.proxy.url}/v1/messages`, body({}));
    const message = await res.json();
    assert.equal(res.status, 200, JSON.stringify(message));
    assert.deepEqual(message.content, [{ type: "text", text: "Whole answer." }]);
  });

  it("an error inside that stream is the answer's error", async () => {
    h.reply({
      sse: [{ raw: `data: ${JSON.stringify({ error: { message: "boom", code: 429 } })}\n\n` }],
      done: false,
    });
    const res = await postJson(`${h.proxy.url}/v1/messages`, body({}));
    const answer = await res.json();
    assert.equal(answer.type, "error");
    assert.match(answer.error.message, /boom/);
  });
});
