/**
 * Reads a request body as UTF-8 text within a byte limit, refusing an oversized body as soon
 * as the limit is passed (or from its Content-Length) instead of holding all of it in memory.
 */
import { invalidRequest, ProxyError } from "../anthropic/errors.ts";
import { after, type Deadline } from "../common/deadlines.ts";
import { concatBytes } from "../common/bytes.ts";

function tooLarge(limit: number): ProxyError {
  return new ProxyError(
    413,
    "request_too_large",
    `request body exceeds ${limit} bytes (MAX_REQUEST_BYTES)`,
  );
}

/**
 * `timeoutMs` bounds the whole read: a client that trickles its body (or stops half-way)
 * would otherwise hold the request open for ever.
 */
export async function readBody(req: Request, limit: number, timeoutMs: number): Promise<string> {
  const declared = Number(req.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    req.body?.cancel().catch(() => {});
    throw tooLarge(limit);
  }
  if (!req.body) return "";
  // With a Content-Length, HTTP framing bounds the body: read it natively in one go
  // (Deno: ~75 µs for 130 KB against ~185 µs through a reader loop and a fatal decoder).
  if (Number.isFinite(declared) && req.headers.has("content-length")) {
    return decodeUtf8(await withTimeout(req.arrayBuffer(), timeoutMs));
  }
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timedOut = false;
  const timer = after(timeoutMs, () => {
    timedOut = true;
    reader.cancel().catch(() => {});
  });
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch {
        throw timedOut ? slowBody(timeoutMs) : invalidRequest("the request body could not be read");
      }
      if (timedOut) throw slowBody(timeoutMs);
      const { done, value } = result;
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        reader.cancel().catch(() => {});
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
  } finally {
    timer.cancel();
  }
  return decodeUtf8(chunks.length === 1 ? chunks[0]! : concatBytes(chunks, size));
}

const lenient = new TextDecoder();

/**
 * Strict UTF-8 decoding. The lenient decoder is several times faster than the fatal one in
 * Deno, and only invalid input (or a real U+FFFD, which is rare) needs the strict check.
 */
function decodeUtf8(bytes: Uint8Array | ArrayBuffer): string {
  const text = lenient.decode(bytes);
  if (!text.includes("\uFFFD")) return text;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalidRequest("request body is not valid UTF-8");
  }
}

/** The body read, or a 408 when the client does not send it all in time. */
function withTimeout<T>(read: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: Deadline | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = after(timeoutMs, () => reject(slowBody(timeoutMs)));
  });
  return Promise.race([
    read.catch(() => {
      throw invalidRequest("the request body could not be read");
    }),
    timeout,
  ]).finally(() => timer?.cancel());
}

function slowBody(timeoutMs: number): ProxyError {
  return new ProxyError(
    408,
    "invalid_request_error",
    `request body not received within ${Math.round(timeoutMs / 100) / 10}s (REQUEST_TIMEOUT)`,
  );
}
