/** The HTTP/1.1 response reader behind the Deno transport (lib/runtime/http1_decode.ts). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BodyDecoder, framingOf, keepsAlive, parseHead } from "../lib/runtime/http1_decode.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Feeds `wire` to a decoder in the given pieces; returns the body and the decoder. */
function decode(wire: string, cuts: number[], kind: "chunked" | number) {
  const d = new BodyDecoder(kind === "chunked" ? { kind } : { kind: "length", length: kind });
  const bytes = enc.encode(wire);
  let body = "";
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    // A fresh copy per piece, as a socket read gives: the decoder rewrites it in place.
    const piece = bytes.slice(from, to);
    const n = d.push(piece);
    body += dec.decode(piece.subarray(0, n), { stream: true });
    from = to;
  }
  return { body, d };
}

const CHUNKED = "5;name=value\r\nhello\r\n7\r\n, world\r\n" + "A\n0123456789\n" +
  "0\r\nx-trailer: yes\r\nx-other: 1\r\n\r\n";
const BODY = "hello, world0123456789";

describe("chunked body decoding", () => {
  it("gives the same body wherever the reads split it, bare LF lines included", () => {
    for (let a = 0; a <= CHUNKED.length; a++) {
      const { body, d } = decode(CHUNKED, [a], "chunked");
      assert.equal(body, BODY, `split at ${a}`);
      assert.equal(d.done, true);
      assert.equal(d.excess, 0);
    }
    for (let a = 0; a <= CHUNKED.length; a += 3) {
      for (let b = a; b <= CHUNKED.length; b += 5) {
        assert.equal(decode(CHUNKED, [a, b], "chunked").body, BODY, `split at ${a}, ${b}`);
      }
    }
  });

  it("counts bytes after the body as excess and is not done before the last chunk", () => {
    const { d } = decode(`${CHUNKED}HTTP/1.1 200`, [], "chunked");
    assert.equal(d.excess, 12);
    const partial = decode("5\r\nhello\r\n", [], "chunked");
    assert.equal(partial.body, "hello");
    assert.equal(partial.d.done, false);
    assert.equal(partial.d.end(), false, "a connection end cuts it short");
  });

  it("refuses malformed framing", () => {
    const bad = [
      ["zz\r\n", /invalid chunk size/],
      ["\r\n", /invalid chunk size/],
      ["5\r\nhelloX\r\n", /chunk data longer than its size/],
      [`${"1".repeat(13)}\r\n`, /too large/],
      [`5;${"x".repeat(5000)}\r\n`, /chunk size line too long/],
      [`0\r\n${"x: y\r\n".repeat(12000)}\r\n`, /trailer larger than 64 KiB/],
    ] as const;
    for (const [wire, message] of bad) {
      assert.throws(() => decode(wire, [], "chunked"), message, JSON.stringify(wire.slice(0, 20)));
    }
  });
});

describe("length-delimited bodies and heads", () => {
  it("takes exactly Content-Length bytes", () => {
    const { body, d } = decode("abcdefEXTRA", [2, 4], 6);
    assert.equal(body, "abcdef");
    assert.equal(d.done, true);
    assert.equal(d.excess, 5);
  });

  it("reads status, fields and framing, and waits for a whole head", () => {
    const text =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip, chunked\r\n" +
      "Connection: keep-alive, close\r\nX-A: 1\r\nx-a: 2\r\n\r\nbody";
    const bytes = enc.encode(text);
    assert.equal(parseHead(bytes.subarray(0, 40)), undefined);
    const head = parseHead(bytes)!;
    assert.equal(head.status, 200);
    assert.equal(head.statusText, "OK");
    assert.deepEqual(head.fields.filter(([k]) => k === "x-a"), [["x-a", "1"], ["x-a", "2"]]);
    assert.equal(dec.decode(bytes.subarray(head.length)), "body");
    const framing = framingOf(head, "POST");
    assert.deepEqual(framing, { kind: "chunked" });
    assert.equal(keepsAlive(head, framing), false);
    assert.deepEqual(framingOf(head, "HEAD"), { kind: "none" });
    const both = parseHead(
      enc.encode("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n"),
    )!;
    assert.deepEqual(framingOf(both, "POST"), { kind: "chunked" });
    assert.equal(keepsAlive(both, framingOf(both, "POST")), false, "both framings: not reused");
    const plain = parseHead(enc.encode("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"))!;
    assert.equal(keepsAlive(plain, framingOf(plain, "POST")), true);
  });
});
