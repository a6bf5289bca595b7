/**
 * A `fetch`-shaped HTTP/1.1 upstream client on Deno's own sockets (`Deno.connect`,
 * `Deno.connectTls`), with a keep-alive pool.
 *
 * Why: under Deno the upstream transport is the largest share of the proxy's CPU per request
 * that the proxy can choose. Reading a streamed `fetch()` body costs ~4× what node:http costs
 * for the same bytes, and node:http is itself a JavaScript layer (ClientRequest, IncomingMessage,
 * the stream machinery) over the same sockets: this client reads each socket with one call per
 * packet and hands the body's bytes straight to the stream driver (see bench/). Under Bun the
 * native fetch is used instead (lib/runtime/serve.ts).
 *
 * What it does not do, as node:http did not: follow redirects, decompress, use an HTTP proxy,
 * speak HTTP/2, or send a request twice.
 */
import { attachSource, type BodySource, type SourceSink } from "../upstreams/body_source.ts";
import type { Fetch } from "../upstreams/transport.ts";
import { concatBytes } from "../common/bytes.ts";
import {
  BodyDecoder,
  framingOf,
  HttpParseError,
  keepsAlive,
  parseHead,
  type ResponseHead,
} from "./http1_decode.ts";

/**
 * Pooled connections are dropped after 4 s unused: servers close idle keep-alive connections
 * themselves, Node's http and uvicorn (vLLM, LiteLLM) after 5 s, and a request sent on a
 * connection the server is closing fails. One closed by the server earlier is noticed at once:
 * a pooled connection always has a read pending, and its end removes it from the pool.
 */
const IDLE_MS = 4_000;
const MAX_IDLE_PER_ORIGIN = 64;
const READ_BUFFER = 16 * 1024;

type Origin = {
  key: string;
  tls: boolean;
  hostname: string;
  port: number;
  /** The Host header: the URL's host, port included when it is not the default. */
  host: string;
};

type Target = {
  origin: Origin;
  /** The request line's target: path and query. */
  path: string;
  /** `Basic …` from credentials in this URL (never the origin's: URLs of one host may differ). */
  auth: string | undefined;
};

export type SocketTransportOptions = {
  /** Extra trusted certificate authorities (PEM), for TLS upstreams with a private CA. */
  caCerts?: string[];
  /** How long a pooled connection may stay unused; tests shorten it. */
  idleMs?: number;
};

/** What an aborted request fails with, as with fetch: the signal's reason, else an AbortError. */
function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error("the operation was aborted");
  err.name = "AbortError";
  return err;
}

/** A network failure as `fetch` reports one: "fetch failed", with the cause and its code. */
function fetchFailed(cause: unknown): TypeError {
  return new TypeError("fetch failed", { cause });
}

function netError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A connect failure, worded as node:http worded it ("connect ECONNREFUSED host:port"). */
function connectError(err: unknown, origin: Origin): Error {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && code !== "") {
    return netError(`connect ${code} ${origin.hostname}:${origin.port}`, code);
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/lookup address|Name or service not known|No address associated/i.test(message)) {
    return netError(`getaddrinfo ENOTFOUND ${origin.hostname}`, "ENOTFOUND");
  }
  return err instanceof Error ? err : new Error(message);
}

/** A socket read or write failure: its code where the runtime gives one, else its message. */
function ioError(op: "read" | "write", err: unknown): Error {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && code !== "") return netError(`${op} ${code}`, code);
  return err instanceof Error ? err : new Error(String(err));
}

const encoder = new TextEncoder();

/** Credentials in a URL (user:password@host) as Basic auth, as fetch and node:http send them. */
function basicAuth(url: URL): string | undefined {
  if (!url.username && !url.password) return undefined;
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${btoa(String.fromCharCode(...encoder.encode(pair)))}`;
}

/** Content codings decoded, by their names in Content-Encoding. */
const CODINGS: Record<string, CompressionFormat | undefined> = {
  gzip: "gzip",
  "x-gzip": "gzip",
  deflate: "deflate",
};

/** Header names and values a request line cannot carry (a key with a newline from a .env). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;
/** Framing is this client's to write. */
const OWN_HEADERS = new Set(["content-length", "transfer-encoding", "connection", "host"]);

function headerLines(init: RequestInit, target: Target): string {
  let lines = "";
  let hasAuth = false;
  let hasEncoding = false;
  let host = target.origin.host;
  const add = (name: string, value: string) => {
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
    if (BAD_VALUE.test(value)) throw new TypeError(`invalid character in header "${name}"`);
    const lower = name.toLowerCase();
    if (lower === "authorization") hasAuth = true;
    else if (lower === "accept-encoding") hasEncoding = true;
    if (lower === "host") host = value;
    if (!OWN_HEADERS.has(lower)) lines += `${name}: ${value}\r\n`;
  };
  const h = init.headers;
  if (h === undefined) {
    // nothing
  } else if (h instanceof Headers || Array.isArray(h)) {
    new Headers(h).forEach((v, k) => add(k, v));
  } else {
    // The proxy's own calls pass a plain record: no Headers object per request.
    for (const [k, v] of Object.entries(h)) add(k, String(v));
  }
  if (!hasAuth && target.auth !== undefined) {
    lines += `authorization: ${target.auth}\r\n`;
  }
  // Without the header any coding is acceptable (RFC 9110 §12.5.3), and CDNs in front of some
  // providers then compress; a local hop is not worth the CPU of decompressing every answer.
  if (!hasEncoding) lines += "accept-encoding: identity\r\n";
  return `host: ${host}\r\n${lines}`;
}

function bodyBytes(body: RequestInit["body"]): Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError("this transport sends string or byte bodies only");
}

/**
 * One request's bytes: the head and the body in one buffer, so that the socket gets one write
 * (a ~90 KB Claude Code turn included).
 */
function requestBytes(method: string, target: Target, init: RequestInit): Uint8Array {
  const body = bodyBytes(init.body);
  let head = `${method} ${target.path} HTTP/1.1\r\n${headerLines(init, target)}`;
  if (body !== undefined) head += `content-length: ${body.byteLength}\r\n`;
  else if (method !== "GET" && method !== "HEAD") head += "content-length: 0\r\n";
  head += "\r\n";
  if (body === undefined) return encoder.encode(head);
  // Header bytes are at most 3 per character encoded; measured exactly after encodeInto.
  const out = new Uint8Array(head.length * 3 + body.byteLength);
  const { written } = encoder.encodeInto(head, out);
  out.set(body, written);
  return out.subarray(0, written + body.byteLength);
}

/** A socket with its read buffer and, while pooled, the read that watches for its end. */
class Connection {
  readonly buffer = new Uint8Array(READ_BUFFER);
  /** A read started while the connection was idle; the next request takes it over. */
  pendingRead: Promise<number | null> | undefined;
  idleSince = 0;
  idle = false;
  closed = false;
  constructor(readonly origin: Origin, readonly conn: Deno.Conn) {}

  read(): Promise<number | null> {
    const pending = this.pendingRead;
    this.pendingRead = undefined;
    return pending ?? this.conn.read(this.buffer);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed by the runtime
    }
  }
}

/** Keep-alive connections per origin, most recently used first out. */
class Pool {
  readonly #idle = new Map<string, Connection[]>();
  #sweep: ReturnType<typeof setTimeout> | undefined;
  constructor(readonly idleMs: number) {}

  take(origin: Origin, now: number): Connection | undefined {
    const list = this.#idle.get(origin.key);
    while (list !== undefined && list.length > 0) {
      const c = list.pop()!;
      c.idle = false;
      if (!c.closed && now - c.idleSince < this.idleMs) {
        c.conn.ref();
        return c;
      }
      c.close();
    }
    return undefined;
  }

  put(c: Connection, now: number): void {
    let list = this.#idle.get(c.origin.key);
    if (list === undefined) this.#idle.set(c.origin.key, list = []);
    if (list.length >= MAX_IDLE_PER_ORIGIN) return c.close();
    c.idle = true;
    c.idleSince = now;
    list.push(c);
    // An idle connection must not keep the process alive (a CLI command that has finished).
    c.conn.unref();
    // The server may close it at any moment: a read now sees that, and whatever it returns
    // while the connection is idle (end, error, or bytes nobody asked for) ends it.
    const watch = c.conn.read(c.buffer);
    c.pendingRead = watch;
    const drop = () => {
      if (!c.idle) return;
      c.idle = false;
      c.pendingRead = undefined;
      c.close();
      const at = list.indexOf(c);
      if (at !== -1) list.splice(at, 1);
    };
    watch.then(drop, drop);
    this.#scheduleSweep();
  }

  /** Closes connections unused for idleMs; one timer for the whole pool, not one per socket. */
  #scheduleSweep(): void {
    if (this.#sweep !== undefined) return;
    const sweep = setTimeout(() => {
      this.#sweep = undefined;
      const now = Date.now();
      let left = 0;
      for (const [key, list] of this.#idle) {
        for (const c of list.splice(0)) {
          if (now - c.idleSince >= this.idleMs) {
            c.idle = false;
            c.close();
          } else list.push(c);
        }
        if (list.length === 0) this.#idle.delete(key);
        left += list.length;
      }
      if (left > 0) this.#scheduleSweep();
    }, Math.max(250, this.idleMs / 4));
    this.#sweep = sweep;
    Deno.unrefTimer(sweep);
  }
}

/** What an exchange needs of its transport. */
type Link = { pool: Pool; connect: (origin: Origin) => Promise<Connection> };

/**
 * One request and its response: written on a pooled or new connection, read head first, then
 * the body as the consumer takes it. One object with methods (no closures per request): under
 * load each exchange lives as long as its stream, and what it holds is copied by every
 * garbage collection meanwhile. It is the body's source (see body_source.ts) and the abort
 * listener of the request's signal.
 */
class Exchange implements BodySource {
  #bytes: Uint8Array | undefined;
  #signal: AbortSignal | undefined;
  #resolve: ((res: Response) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  #conn: Connection | undefined;
  /** The response head has been handed out. */
  #answered = false;
  #finished = false;
  #sink: SourceSink | undefined;
  /** Body chunks read before anyone listened. */
  #queued: Uint8Array[] | undefined;
  /** The body ended before anyone listened: true complete, an Error when cut short. */
  #ended: true | Error | undefined;
  #paused = true;
  #wake: (() => void) | undefined;
  #cancelled = false;

  constructor(
    readonly link: Link,
    readonly method: string,
    readonly target: Target,
    bytes: Uint8Array,
    signal: AbortSignal | undefined,
    resolve: (res: Response) => void,
    reject: (err: unknown) => void,
  ) {
    this.#bytes = bytes;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    signal?.addEventListener("abort", this, { once: true });
  }

  // As with fetch, an abort fails the request, or its body, with the signal's reason: the
  // stream driver reports that reason (a timeout's own error) whichever of them sees it first.
  handleEvent(): void {
    this.#fail(abortReason(this.#signal), true);
  }

  async run(): Promise<void> {
    const link = this.link;
    try {
      const pooled = link.pool.take(this.target.origin, Date.now());
      if (pooled) {
        this.#conn = pooled;
        return await this.#exchange(pooled, true);
      }
      const fresh = await link.connect(this.target.origin);
      if (this.#finished) return fresh.close();
      this.#conn = fresh;
      await this.#exchange(fresh, false);
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #release(): void {
    this.#signal?.removeEventListener("abort", this);
    this.#signal = undefined;
  }

  /**
   * Ends the exchange with an error: before the head, the fetch fails (a network error as
   * "fetch failed"); after, the body does. `aborted` errors are passed on as they are.
   */
  #fail(err: Error, aborted = false): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#release();
    this.#conn?.close();
    if (!this.#answered) {
      this.#reject?.(aborted ? err : fetchFailed(err));
      this.#resolve = this.#reject = undefined;
      return;
    }
    if (this.#sink) this.#sink.error(err);
    else this.#ended = err;
    this.#wakeUp();
  }

  #complete(reusable: boolean): void {
    this.#finished = true;
    this.#release();
    if (reusable && !this.#cancelled) this.link.pool.put(this.#conn!, Date.now());
    else this.#conn!.close();
    if (this.#sink) this.#sink.end();
    else this.#ended = true;
  }

  #deliver(chunk: Uint8Array): void {
    if (this.#sink) this.#sink.data(chunk);
    else (this.#queued ??= []).push(chunk);
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #respond(head: ResponseHead, noBody: boolean): void {
    // What a Response cannot hold fails the request, before it counts as answered.
    if (head.status < 200 || head.status > 599) {
      throw new HttpParseError(`invalid status ${head.status}`);
    }
    const headers = new Headers();
    for (const [k, v] of head.fields) headers.append(k, v);
    this.#answered = true;
    const init = { status: head.status, statusText: head.statusText, headers };
    const resolve = this.#resolve!;
    this.#resolve = this.#reject = undefined;
    if (noBody) {
      this.#sink = NO_SINK;
      return resolve(new Response(null, init));
    }
    const stream = new ReadableStream<Uint8Array>(new StreamSource(this), { highWaterMark: 0 });
    // A server that compresses all the same is decoded, as fetch does.
    const coding = CODINGS[headers.get("content-encoding")?.trim().toLowerCase() ?? ""];
    // An empty body has nothing to decode (a decoder would call it truncated).
    if (coding !== undefined && headers.get("content-length") !== "0") {
      headers.delete("content-encoding");
      headers.delete("content-length");
      const decoded = stream.pipeThrough<Uint8Array>(
        new DecompressionStream(coding) as unknown as TransformStream<Uint8Array, Uint8Array>,
      );
      return resolve(new Response(decoded, init));
    }
    attachSource(stream, this);
    resolve(new Response(stream, init));
  }

  start(sink: SourceSink): void {
    if (this.#sink !== undefined || this.#cancelled) return;
    this.#sink = sink;
    // Unpaused first: the sink may pause again while it takes the queued chunks.
    this.#paused = false;
    const queued = this.#queued;
    this.#queued = undefined;
    if (queued) { for (const chunk of queued) sink.data(chunk); }
    if (this.#ended === true) return sink.end();
    if (this.#ended instanceof Error) return sink.error(this.#ended);
    if (!this.#paused) this.#wakeUp();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#wakeUp();
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    if (!this.#finished) {
      this.#finished = true;
      this.#release();
      this.#conn?.close();
    }
    this.#wakeUp();
  }

  /** Writes the request and reads the response off the connection, honouring pause. */
  async #exchange(conn: Connection, reused: boolean): Promise<void> {
    let writeError: unknown;
    let written = false;
    conn.write(this.#bytes!).then(() => (written = true), (err) => {
      writeError = err;
    });
    // Not held while the answer streams: for a Claude Code turn, ~90 KB per stream.
    this.#bytes = undefined;
    let head: ResponseHead | undefined;
    let headBytes: Uint8Array | undefined;
    let decoder: BodyDecoder | undefined;
    let reusable = false;
    for (;;) {
      if (decoder !== undefined && this.#paused && !this.#finished) {
        await new Promise<void>((r) => (this.#wake = r));
      }
      if (this.#finished) return;
      let n: number | null;
      try {
        n = await conn.read();
      } catch (err) {
        if (this.#finished) return;
        return this.#fail(
          head === undefined
            ? ioError("read", err)
            : new Error("upstream connection closed mid-body"),
        );
      }
      if (this.#finished) return;
      if (n === null) {
        if (decoder?.end()) return this.#complete(false);
        if (head !== undefined) return this.#fail(new Error("upstream connection closed mid-body"));
        if (writeError !== undefined) return this.#fail(ioError("write", writeError));
        // Closed without a word: on a reused connection the server may have closed it just as
        // the request went out. Not sent again here (the server may have read it): the retry
        // loop in upstream.ts, which counts attempts, decides.
        return this.#fail(
          netError(reused ? "socket hang up (reused connection)" : "socket hang up", "ECONNRESET"),
        );
      }
      let data: Uint8Array = conn.buffer.subarray(0, n);
      while (head === undefined) {
        const all: Uint8Array = headBytes ? concatBytes([headBytes, data]) : data;
        const parsed = parseHead(all);
        if (parsed === undefined) {
          // Kept as a copy: the read buffer is reused.
          headBytes = all === data ? data.slice() : all;
          data = data.subarray(data.length);
          break;
        }
        headBytes = undefined;
        data = all.subarray(parsed.length);
        // Interim answers (100 Continue, 103 Early Hints) precede the real one.
        if (parsed.status >= 100 && parsed.status < 200) {
          if (parsed.status === 101) throw new HttpParseError("unexpected 101 Switching Protocols");
          continue;
        }
        const framing = framingOf(parsed, this.method);
        head = parsed;
        decoder = new BodyDecoder(framing);
        reusable = keepsAlive(parsed, framing);
        this.#respond(parsed, framing.kind === "none");
      }
      if (decoder === undefined) continue;
      // The body bytes, moved to the front of the read buffer, copied out once.
      const body = decoder.push(data);
      if (body > 0) this.#deliver(data.slice(0, body));
      if (decoder.done) {
        // A write still under way, or bytes after the body: the connection's state is unknown.
        return this.#complete(reusable && written && decoder.excess === 0);
      }
    }
  }
}

/**
 * The body as a ReadableStream, for readers other than the stream driver (text(), an error
 * body): it starts the exchange's delivery on the first pull, and stops reading the socket
 * while 16 chunks wait for the reader.
 */
class StreamSource implements UnderlyingDefaultSource<Uint8Array>, SourceSink {
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  constructor(readonly exchange: Exchange) {}

  pull(controller: ReadableStreamDefaultController<Uint8Array>): void {
    if (this.#controller) return this.exchange.resume();
    this.#controller = controller;
    this.exchange.start(this);
  }

  cancel(): void {
    this.exchange.cancel();
  }

  data(chunk: Uint8Array): void {
    this.#controller!.enqueue(chunk);
    if ((this.#controller!.desiredSize ?? 0) <= -16) this.exchange.pause();
  }

  end(): void {
    try {
      this.#controller!.close();
    } catch {
      // already cancelled
    }
  }

  error(err: unknown): void {
    try {
      this.#controller!.error(err);
    } catch {
      // already closed
    }
  }
}

export function socketTransport(options: SocketTransportOptions = {}): Fetch {
  const pool = new Pool(options.idleMs ?? IDLE_MS);
  const origins = new Map<string, Origin>();
  const targets = new Map<string, Target>();

  /** Each upstream URL parsed once: the proxy calls the same few. */
  function targetOf(input: string): Target {
    let t = targets.get(input);
    if (t !== undefined) return t;
    const url = new URL(input);
    const tls = url.protocol === "https:";
    if (!tls && url.protocol !== "http:") {
      throw new TypeError(`unsupported URL scheme: ${url.protocol}`);
    }
    const port = Number(url.port || (tls ? 443 : 80));
    const key = `${url.protocol}//${url.host}`;
    let origin = origins.get(key);
    if (origin === undefined) {
      origin = {
        key,
        tls,
        // Deno wants an IPv6 literal without its brackets.
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port,
        host: url.host,
      };
      if (origins.size < 256) origins.set(key, origin);
    }
    t = { origin, path: `${url.pathname}${url.search}`, auth: basicAuth(url) };
    // Bounded: URLs come from the configuration (and web_fetch's pages), but a cap costs nothing.
    if (targets.size < 256) targets.set(input, t);
    return t;
  }

  async function connect(origin: Origin): Promise<Connection> {
    let conn: Deno.Conn;
    try {
      if (origin.tls) {
        const tls = await Deno.connectTls({
          hostname: origin.hostname,
          port: origin.port,
          ...(options.caCerts ? { caCerts: options.caCerts } : {}),
        });
        // Done now so that a certificate problem is reported as such, not as a failed write.
        try {
          await tls.handshake();
        } catch (err) {
          tls.close();
          throw err;
        }
        conn = tls;
      } else {
        const tcp = await Deno.connect({ hostname: origin.hostname, port: origin.port });
        // Small writes (a request, then nothing) must not wait for Nagle.
        tcp.setNoDelay(true);
        conn = tcp;
      }
    } catch (err) {
      throw connectError(err, origin);
    }
    return new Connection(origin, conn);
  }

  const link: Link = { pool, connect };
  return (input, init) => {
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const method = (init.method ?? "GET").toUpperCase();
    let target: Target;
    let bytes: Uint8Array;
    try {
      target = targetOf(input);
      bytes = requestBytes(method, target, init);
    } catch (err) {
      return Promise.reject(err);
    }
    const { promise, resolve, reject } = Promise.withResolvers<Response>();
    new Exchange(link, method, target, bytes, signal, resolve, reject).run();
    return promise;
  };
}

/** A sink for bodies that have none: their end must not be kept for a listener. */
const NO_SINK: SourceSink = { data() {}, end() {}, error() {} };

/** The process's transport under Deno: one pool for every upstream. */
export const socketFetch: Fetch = socketTransport();
