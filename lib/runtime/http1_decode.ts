/**
 * Reading an HTTP/1.1 response off a byte stream: the head (status line and header fields) and
 * the body's framing (Content-Length, chunked, or up to the connection's end). Pure: bytes in,
 * parts out, so the socket transport (socket_transport.ts) keeps only the I/O.
 */

/** Larger heads are refused, as node:http does (its limit is 16 KiB; some gateways send more). */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4 * 1024;

export class HttpParseError extends Error {
  override name = "HttpParseError";
  readonly code = "HPE_INVALID";
}

export type ResponseHead = {
  status: number;
  statusText: string;
  /** Lower-cased names, in order; repeated fields stay separate. */
  fields: [string, string][];
  /** HTTP/1.1 (HTTP/1.0 connections are never reused). */
  http11: boolean;
  /** The framing fields, gathered while parsing: every value, comma-joined. */
  transferEncoding: string;
  contentLength: string;
  connection: string;
  /** Bytes of the buffer the head took, its blank line included. */
  length: number;
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

/** Where the head's blank line ends, or -1 when the buffer does not hold a whole head yet. */
function headEnd(bytes: Uint8Array): number {
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) {
    if (bytes[i + 1] === 10) return i + 2;
    if (bytes[i + 1] === 13 && bytes[i + 2] === 10) return i + 3;
  }
  return -1;
}

/** Header bytes are Latin-1 (RFC 9110 §5.5); a byte is a character. */
function latin1(bytes: Uint8Array): string {
  let out = "";
  // In slices: a call's arguments are bounded.
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return out;
}

function withoutCr(line: string): string {
  return line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
}

/**
 * The response head at the start of `bytes`, or undefined when more bytes are needed. Throws
 * HttpParseError for a malformed or oversized head.
 */
export function parseHead(bytes: Uint8Array): ResponseHead | undefined {
  const end = headEnd(bytes);
  if (end === -1) {
    if (bytes.length > MAX_HEAD_BYTES) {
      throw new HttpParseError(`response head larger than ${MAX_HEAD_BYTES / 1024} KiB`);
    }
    return undefined;
  }
  if (end > MAX_HEAD_BYTES) {
    throw new HttpParseError(`response head larger than ${MAX_HEAD_BYTES / 1024} KiB`);
  }
  const lines = latin1(bytes.subarray(0, end)).split("\n");
  const statusLine = withoutCr(lines[0]!);
  const m = STATUS_LINE.exec(statusLine);
  if (!m) {
    throw new HttpParseError(
      `not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 80))}`,
    );
  }
  const fields: [string, string][] = [];
  let transferEncoding = "";
  let contentLength = "";
  let connection = "";
  const join = (a: string, b: string) => a === "" ? b : `${a},${b}`;
  for (let i = 1; i < lines.length; i++) {
    const line = withoutCr(lines[i]!);
    if (line === "") break;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    // A folded line or a name with spaces is what request smuggling is made of: refused.
    if (!TOKEN.test(name)) {
      throw new HttpParseError(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
    }
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    fields.push([key, value]);
    if (key === "transfer-encoding") transferEncoding = join(transferEncoding, value);
    else if (key === "content-length") contentLength = join(contentLength, value);
    else if (key === "connection") connection = join(connection, value);
  }
  return {
    status: Number(m[2]),
    statusText: m[3] ?? "",
    fields,
    http11: m[1] === "1",
    transferEncoding,
    contentLength,
    connection,
    length: end,
  };
}

/** How the body of a response ends. */
export type Framing =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  /** Up to the end of the connection, which then cannot be reused. */
  | { kind: "close" };

const NONE: Framing = { kind: "none" };
const CHUNKED: Framing = { kind: "chunked" };
const CLOSE: Framing = { kind: "close" };

/** The body's framing by RFC 9112 §6.3, for a response to `method`. */
export function framingOf(head: ResponseHead, method: string): Framing {
  if (
    method === "HEAD" || head.status === 204 || head.status === 304 ||
    (head.status >= 100 && head.status < 200)
  ) return NONE;
  const te = head.transferEncoding;
  if (te !== "") {
    const last = te.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "").at(-1);
    return last === "chunked" ? CHUNKED : CLOSE;
  }
  const cl = head.contentLength;
  if (cl === "") return CLOSE;
  if (/^\d{1,15}$/.test(cl)) return { kind: "length", length: Number(cl) };
  // Repeated fields (or a list) are allowed only when they agree.
  const lengths = cl.split(",").map((s) => s.trim());
  if (!lengths.every((v) => /^\d{1,15}$/.test(v) && v === lengths[0])) {
    throw new HttpParseError(`invalid Content-Length: ${JSON.stringify(lengths.join(", "))}`);
  }
  return { kind: "length", length: Number(lengths[0]) };
}

/** Whether the connection may carry another request after this response. */
export function keepsAlive(head: ResponseHead, framing: Framing): boolean {
  if (!head.http11 || framing.kind === "close") return false;
  // Both framings in one answer: read by Transfer-Encoding, but the connection is not trusted
  // with another request (RFC 9112 §6.3).
  if (head.transferEncoding !== "" && head.contentLength !== "") return false;
  const c = head.connection;
  return c === "" || !c.toLowerCase().split(",").some((t) => t.trim() === "close");
}

const enum Chunk {
  /** Hex digits of a chunk size. */
  Size,
  /** After the digits: an extension (`;name=value`) or whitespace, up to the line's end. */
  SizeRest,
  Data,
  /** The CRLF after a chunk's data. */
  DataEnd,
  /** Trailer fields after the last chunk, up to an empty line. */
  Trailer,
  Done,
}

const CR = 13;
const LF = 10;

function hexValue(b: number): number {
  if (b >= 48 && b <= 57) return b - 48;
  if (b >= 97 && b <= 102) return b - 87;
  if (b >= 65 && b <= 70) return b - 55;
  return -1;
}

/**
 * A body decoder. `push` takes the bytes read from the connection, moves the body bytes among
 * them to the front of the same buffer (the chunk framing squeezed out, nothing allocated) and
 * returns how many there are: the caller copies those once. `done` turns true at the body's
 * end; bytes after it are `excess`.
 */
export class BodyDecoder {
  done = false;
  excess = 0;
  #framing: Framing;
  #remaining: number;
  #state = Chunk.Size;
  /** Digits of the current size line; bytes of its line, extension included. */
  #digits = 0;
  #lineBytes = 0;
  /** Bytes of the current trailer line, and of all trailer lines. */
  #trailerLine = 0;
  #trailerBytes = 0;
  #sawCr = false;

  constructor(framing: Framing) {
    this.#framing = framing;
    this.#remaining = framing.kind === "length" ? framing.length : 0;
    if (framing.kind === "none" || (framing.kind === "length" && framing.length === 0)) {
      this.done = true;
    }
  }

  push(bytes: Uint8Array): number {
    if (this.done) {
      this.excess += bytes.length;
      return 0;
    }
    switch (this.#framing.kind) {
      case "close":
        return bytes.length;
      case "length": {
        const n = Math.min(this.#remaining, bytes.length);
        this.#remaining -= n;
        if (this.#remaining === 0) {
          this.done = true;
          this.excess += bytes.length - n;
        }
        return n;
      }
      case "chunked":
        return this.#chunked(bytes);
      default:
        return 0;
    }
  }

  /** The connection ended: whether that completes the body, or cuts it short. */
  end(): boolean {
    if (this.#framing.kind === "close") this.done = true;
    return this.done;
  }

  #chunked(bytes: Uint8Array): number {
    const len = bytes.length;
    let i = 0;
    let w = 0;
    while (i < len) {
      const state = this.#state;
      if (state === Chunk.Data) {
        const n = Math.min(this.#remaining, len - i);
        if (w !== i) bytes.copyWithin(w, i, i + n);
        w += n;
        i += n;
        this.#remaining -= n;
        if (this.#remaining === 0) {
          this.#state = Chunk.DataEnd;
          this.#sawCr = false;
        }
        continue;
      }
      const b = bytes[i++]!;
      if (state === Chunk.Size || state === Chunk.SizeRest) {
        if (++this.#lineBytes > MAX_CHUNK_LINE) {
          throw new HttpParseError("chunk size line too long");
        }
        if (b === LF) {
          if (this.#digits === 0) throw new HttpParseError("invalid chunk size: no digits");
          this.#lineBytes = 0;
          this.#digits = 0;
          this.#state = this.#remaining === 0 ? Chunk.Trailer : Chunk.Data;
          this.#trailerLine = 0;
          continue;
        }
        if (state === Chunk.Size) {
          const v = hexValue(b);
          if (v >= 0) {
            if (++this.#digits > 12) throw new HttpParseError("invalid chunk size: too large");
            this.#remaining = this.#remaining * 16 + v;
            continue;
          }
          if (this.#digits === 0 && b !== 32 && b !== 9) {
            throw new HttpParseError(`invalid chunk size: byte ${b}`);
          }
          if (b !== 59 && b !== 32 && b !== 9 && b !== CR) {
            throw new HttpParseError(`invalid chunk size: byte ${b}`);
          }
          this.#state = Chunk.SizeRest;
        }
        // SizeRest: an extension or whitespace, read to the line's end and ignored.
        continue;
      }
      if (state === Chunk.DataEnd) {
        if (b === CR && !this.#sawCr) {
          this.#sawCr = true;
          continue;
        }
        if (b !== LF) throw new HttpParseError("chunk data longer than its size");
        this.#state = Chunk.Size;
        this.#remaining = 0;
        continue;
      }
      // Trailer: lines up to an empty one, which ends the body.
      if (++this.#trailerBytes > MAX_HEAD_BYTES) {
        throw new HttpParseError(`chunked trailer larger than ${MAX_HEAD_BYTES / 1024} KiB`);
      }
      if (b === LF) {
        if (this.#trailerLine === 0) {
          this.#state = Chunk.Done;
          this.done = true;
          this.excess += len - i;
          return w;
        }
        this.#trailerLine = 0;
      } else if (b !== CR || this.#trailerLine > 0) {
        this.#trailerLine++;
      }
    }
    return w;
  }
}
