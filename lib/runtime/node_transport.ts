/**
 * A `fetch`-shaped upstream transport on node:http / node:https.
 *
 * Why: in Deno 2.9, reading a streamed `fetch()` body from JavaScript costs ~4× the CPU of
 * reading the same bytes through node:http (measured here: ~1.4 ms vs ~0.4 ms per 50-chunk
 * stream; see bench/). main.ts picks this transport under Deno and keeps the native `fetch`
 * under Bun, where fetch is the fastest. lib/ stays fetch-shaped either way.
 */
import { Buffer } from "node:buffer";
import http from "node:http";
import https from "node:https";
import { attachSource, type SourceSink } from "../upstreams/body_source.ts";
import type { Fetch } from "../upstreams/transport.ts";

/**
 * Connections are kept for the next request (a stream's connection too: see the driver's drain
 * after [DONE]), but dropped after 4 s unused: servers close idle keep-alive connections
 * themselves, Node's http and uvicorn (vLLM, LiteLLM) after 5 s, and a request sent on a
 * connection the server is closing fails. In Deno's node:http this socket timeout closes only
 * idle pooled sockets: a request that waits longer for its answer, or for its next chunk, goes on.
 */
const AGENT_OPTIONS = { keepAlive: true, maxFreeSockets: 64, timeout: 4_000 };
const agents = {
  "http:": new http.Agent(AGENT_OPTIONS),
  "https:": new https.Agent(AGENT_OPTIONS),
};

function abortError(): Error {
  const err = new Error("the operation was aborted");
  err.name = "AbortError";
  return err;
}

function headersOf(init: RequestInit): Record<string, string> {
  const out: Record<string, string> = {};
  const h = init.headers;
  if (h === undefined || h instanceof Headers || Array.isArray(h)) {
    new Headers(h).forEach((v, k) => (out[k] = v));
  } else {
    // The proxy's own calls pass a plain record: copied without a Headers object per request.
    for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = String(v);
  }
  return out;
}

const encoder = new TextEncoder();

type Target = {
  https: boolean;
  options: { protocol: string; hostname: string; port: string; path: string; auth?: string };
};

/**
 * Each upstream URL parsed once: the proxy calls the same few, and node:http would otherwise turn
 * a URL into request options on every call.
 */
const targets = new Map<string, Target>();

function targetOf(input: string): Target {
  let t = targets.get(input);
  if (t === undefined) {
    const url = new URL(input);
    t = {
      https: url.protocol === "https:",
      options: {
        protocol: url.protocol,
        // node:http wants an IPv6 literal without its brackets.
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: url.port,
        path: `${url.pathname}${url.search}`,
        // Credentials in the URL (user:password@host) become Basic auth, as with a URL object.
        ...(url.username || url.password
          ? {
            auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
          }
          : {}),
      },
    };
    // Bounded: URLs come from the configuration, but a cap costs nothing.
    if (targets.size < 256) targets.set(input, t);
  }
  return t;
}

export const nodeFetch: Fetch = (input, init) =>
  new Promise<Response>((resolve, reject) => {
    const target = targetOf(input);
    const lib = target.https ? https : http;
    const agent = target.https ? agents["https:"] : agents["http:"];
    const signal = init.signal ?? undefined;
    // What the closures below need of `init`, taken out: they live as long as the answer
    // streams, and `init` holds the request body.
    const method = init.method ?? "GET";
    if (signal?.aborted) return reject(abortError());
    // Encoded once: its length is the Content-Length, and the socket gets the bytes as they are
    // (a string would be measured and then encoded again; ~90 KB for a Claude Code turn).
    const body = typeof init.body === "string" ? encoder.encode(init.body) : undefined;
    const headers = headersOf(init);
    if (body !== undefined) headers["content-length"] = String(body.byteLength);

    const req = lib.request({ ...target.options, method, headers, agent });
    // Deno's node:http sends a request again when its reused keep-alive socket closes before
    // the response head (denoland/deno#36786): also when we destroyed it (client gone,
    // FIRST_BYTE_TIMEOUT) or the upstream reset it after reading the request. The upstream
    // then generates an answer nobody reads, or sees more attempts than MAX_RETRIES. A socket
    // marked fresh is never re-sent on; the retry loop in upstream.ts, which counts, covers
    // the rare stale one (Deno drops connections the server closed while idle from the pool).
    req.on("socket", () => (req.reusedSocket = false));
    let settled = false;
    const onAbort = () => {
      req.destroy(abortError());
      if (!settled) {
        settled = true;
        reject(abortError());
      }
    };
    signal?.addEventListener("abort", onAbort, { once: true });

    req.on("error", (err) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      reject(new TypeError(`fetch failed: ${err.message}`, { cause: err }));
    });

    req.on("response", (res) => {
      settled = true;
      const done = () => signal?.removeEventListener("abort", onAbort);
      // One consumer only: the stream driver through the attached source, or a reader of the
      // stream (text(), an error body). The stream is lazy (highWaterMark 0) so that creating
      // it attaches nothing to `res` until someone reads it.
      const listen = (sink: SourceSink) => {
        let ended = false;
        const fail = (err: Error) => {
          if (ended) return;
          ended = true;
          done();
          sink.error(err);
        };
        res.on("data", (chunk: Buffer) => {
          if (!ended) sink.data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        });
        res.on("end", () => {
          if (ended) return;
          ended = true;
          done();
          sink.end();
        });
        res.on("error", fail);
        res.on("aborted", () => fail(new Error("upstream connection closed mid-body")));
        // A body cut short without an error event still ends the stream honestly.
        res.on("close", () => {
          if (!res.complete) fail(new Error("upstream connection closed mid-body"));
        });
      };
      const cancel = () => {
        done();
        res.destroy();
      };
      let listening = false;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (listening) return void res.resume();
          listening = true;
          listen({
            data(chunk) {
              controller.enqueue(chunk);
              // Backpressure: stop reading the socket while 16 chunks wait for the consumer.
              if ((controller.desiredSize ?? 0) <= -16) res.pause();
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
      attachSource(stream, {
        start: listen,
        pause: () => res.pause(),
        resume: () => res.resume(),
        cancel,
      });
      const responseHeaders = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (typeof v === "string") responseHeaders.set(k, v);
        else if (Array.isArray(v)) { for (const item of v) responseHeaders.append(k, item); }
      }
      const status = res.statusCode ?? 502;
      // A Response cannot carry a body for these statuses.
      const noBody = status === 204 || status === 304 || method === "HEAD";
      if (noBody) res.resume();
      resolve(
        new Response(noBody ? null : stream, {
          status,
          statusText: res.statusMessage,
          headers: responseHeaders,
        }),
      );
    });

    req.end(body);
  });
