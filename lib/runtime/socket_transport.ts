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
import { attachSource, type SourceSink } from "../upstreams/body_source.ts";
import type { Fetch } from "../upstreams/transport.ts";
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
  /** The request line's target and the fixed first part of the head, built once. */
  path: string;
  /** `Basic …` from credentials in the URL. */
  auth: string | undefined;
};

type Target = { origin: Origin; path: string };

export type SocketTransportOptions = {
  /** Extra trusted certificate authorities (PEM), for TLS upstreams with a private CA. */
  caCerts?: string[];
  /** How long a pooled connection may stay unused; tests shorten it. */
  idleMs?: number;
};

function abortError(): Error {
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

/** Header names and values a request line cannot carry (a key with a newline from a .env). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;
/** Framing is this client's to write. */
const OWN_HEADERS = new Set(["content-length", "transfer-encoding", "connection", "host"]);

function headerLines(init: RequestInit, target: Target): string {
  let lines = "";
  let hasAuth = false;
  let host = target.origin.host;
  const add = (name: string, value: string) => {
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
    if (BAD_VALUE.test(value)) throw new TypeError(`invalid character in header "${name}"`);
    const lower = name.toLowerCase();
    if (lower === "authorization") hasAuth = true;
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
  if (!hasAuth && target.origin.auth !== undefined) {
    lines += `authorization: ${target.origin.auth}\r\n`;
  }
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

/** The body's delivery: chunks queue until the consumer starts listening. */
type Delivery = {
  sink: SourceSink | undefined;
  queued: Uint8Array[];
  /** The body ended before anyone listened: true complete, an Error when cut short. */
  ended: true | Error | undefined;
  paused: boolean;
  wake: (() => void) | undefined;
  cancelled: boolean;
};

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
        path: "",
        auth: url.username || url.password
          ? `Basic ${
            btoa(
              String.fromCharCode(
                ...encoder.encode(
                  `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
                ),
              ),
            )
          }`
          : undefined,
      };
      if (origins.size < 256) origins.set(key, origin);
    }
    t = { origin, path: `${url.pathname}${url.search}` };
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

  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        return reject(signal.reason instanceof Error ? signal.reason : abortError());
      }
      let target: Target;
      let bytes: Uint8Array;
      const method = (init.method ?? "GET").toUpperCase();
      try {
        target = targetOf(input);
        bytes = requestBytes(method, target, init);
      } catch (err) {
        return reject(err);
      }

      let c: Connection | undefined;
      /** The response head has been handed out. */
      let answered = false;
      let finished = false;
      const delivery: Delivery = {
        sink: undefined,
        queued: [],
        ended: undefined,
        paused: true,
        wake: undefined,
        cancelled: false,
      };

      const release = () => signal?.removeEventListener("abort", onAbort);

      /**
       * Ends the exchange with an error: before the head, the fetch fails (a network error as
       * "fetch failed"); after, the body does. `aborted` errors are passed on as they are.
       */
      const fail = (err: Error, aborted = false) => {
        if (finished) return;
        finished = true;
        release();
        c?.close();
        if (!answered) return reject(aborted ? err : fetchFailed(err));
        if (delivery.sink) delivery.sink.error(err);
        else delivery.ended = err;
        delivery.wake?.();
      };

      // As with fetch, an abort fails the request, or its body, with the signal's reason: the
      // stream driver reports that reason (a timeout's own error) whichever of them sees it first.
      function onAbort() {
        const reason: unknown = signal?.reason;
        fail(reason instanceof Error ? reason : abortError(), true);
      }
      signal?.addEventListener("abort", onAbort, { once: true });

      const deliver = (chunk: Uint8Array) => {
        if (delivery.sink) delivery.sink.data(chunk);
        else delivery.queued.push(chunk);
      };

      const complete = (reusable: boolean) => {
        finished = true;
        release();
        if (reusable && !delivery.cancelled) pool.put(c!, Date.now());
        else c!.close();
        if (delivery.sink) delivery.sink.end();
        else delivery.ended = true;
      };

      const respond = (head: ResponseHead, noBody: boolean) => {
        // What a Response cannot hold fails the request, before it counts as answered.
        if (head.status < 200 || head.status > 599) {
          throw new HttpParseError(`invalid status ${head.status}`);
        }
        const headers = new Headers();
        for (const [k, v] of head.fields) headers.append(k, v);
        answered = true;
        if (noBody) {
          return resolve(
            new Response(null, { status: head.status, statusText: head.statusText, headers }),
          );
        }
        const start = (sink: SourceSink) => {
          if (delivery.sink !== undefined || delivery.cancelled) return;
          delivery.sink = sink;
          // Unpaused first: the sink may pause again while it takes the queued chunks.
          delivery.paused = false;
          for (const chunk of delivery.queued.splice(0)) sink.data(chunk);
          if (delivery.ended === true) return sink.end();
          if (delivery.ended instanceof Error) return sink.error(delivery.ended);
          if (!delivery.paused) resume();
        };
        const pause = () => {
          delivery.paused = true;
        };
        const resume = () => {
          delivery.paused = false;
          const wake = delivery.wake;
          delivery.wake = undefined;
          wake?.();
        };
        const cancel = () => {
          if (delivery.cancelled) return;
          delivery.cancelled = true;
          if (!finished) {
            finished = true;
            release();
            c?.close();
          }
          delivery.wake?.();
        };
        let listening = false;
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (listening) return resume();
            listening = true;
            start({
              data(chunk) {
                controller.enqueue(chunk);
                // Backpressure: stop reading the socket while 16 chunks wait for the reader.
                if ((controller.desiredSize ?? 0) <= -16) pause();
              },
              end() {
                try {
                  controller.close();
                } catch {
                  // already cancelled
                }
              },
              error(err) {
                try {
                  controller.error(err);
                } catch {
                  // already closed
                }
              },
            });
          },
          cancel,
        }, { highWaterMark: 0 });
        attachSource(stream, { start, pause, resume, cancel });
        resolve(
          new Response(stream, { status: head.status, statusText: head.statusText, headers }),
        );
      };

      /** Reads the response off the connection: head, then body, honouring pause. */
      const exchange = async (conn: Connection, reused: boolean) => {
        let writeError: unknown;
        let written = false;
        conn.write(bytes).then(() => (written = true), (err) => {
          writeError = err;
        });
        let head: ResponseHead | undefined;
        let headBytes: Uint8Array | undefined;
        let decoder: BodyDecoder | undefined;
        let reusable = false;
        const parts: Uint8Array[] = [];
        for (;;) {
          if (decoder !== undefined && delivery.paused && !finished) {
            await new Promise<void>((r) => (delivery.wake = r));
          }
          if (finished) return;
          let n: number | null;
          try {
            n = await conn.read();
          } catch (err) {
            if (finished) return;
            return fail(
              head === undefined
                ? ioError("read", err)
                : new Error("upstream connection closed mid-body"),
            );
          }
          if (finished) return;
          if (n === null) {
            if (decoder?.end()) return complete(false);
            if (head !== undefined) return fail(new Error("upstream connection closed mid-body"));
            if (writeError !== undefined) return fail(ioError("write", writeError));
            // Closed without a word: on a reused connection the server may have closed it
            // just as the request went out. Not sent again here (the server may have read it):
            // the retry loop in upstream.ts, which counts attempts, decides.
            return fail(
              netError(
                reused ? "socket hang up (reused connection)" : "socket hang up",
                "ECONNRESET",
              ),
            );
          }
          let data: Uint8Array = conn.buffer.subarray(0, n);
          try {
            while (head === undefined) {
              const all: Uint8Array = headBytes ? concat(headBytes, data) : data;
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
                if (parsed.status === 101) {
                  throw new HttpParseError("unexpected 101 Switching Protocols");
                }
                continue;
              }
              const framing = framingOf(parsed, method);
              head = parsed;
              decoder = new BodyDecoder(framing);
              reusable = keepsAlive(parsed, framing);
              respond(parsed, framing.kind === "none");
              if (framing.kind === "none") delivery.sink = NO_SINK;
            }
            if (decoder === undefined) continue;
            decoder.push(data, parts);
          } catch (err) {
            return fail(err instanceof Error ? err : new Error(String(err)));
          }
          if (parts.length === 1) deliver(parts[0]!.slice());
          else if (parts.length > 1) deliver(concat(...parts));
          parts.length = 0;
          if (decoder.done) {
            // A write still under way, or bytes after the body: the connection's state is unknown.
            return complete(reusable && written && decoder.excess === 0);
          }
        }
      };

      const run = async () => {
        const now = Date.now();
        const pooled = pool.take(target.origin, now);
        if (pooled) {
          c = pooled;
          return exchange(pooled, true);
        }
        let fresh: Connection;
        try {
          fresh = await connect(target.origin);
        } catch (err) {
          return fail(err instanceof Error ? err : new Error(String(err)));
        }
        if (finished) return fresh.close();
        c = fresh;
        return exchange(fresh, false);
      };
      run().catch((err) => fail(err instanceof Error ? err : new Error(String(err))));
    });
}

/** A sink for bodies that have none: their end must not be kept for a listener. */
const NO_SINK: SourceSink = { data() {}, end() {}, error() {} };

function concat(...parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** The process's transport under Deno: one pool for every upstream. */
export const socketFetch: Fetch = socketTransport();
