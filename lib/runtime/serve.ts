/**
 * The thin runtime adapter: serves a `(Request) => Response` handler with `Deno.serve` under
 * Deno and `Bun.serve` under Bun, with a graceful shutdown. The rest of lib/ is runtime-free.
 */

import type { Fetch } from "../upstreams/transport.ts";

export type Handler = (req: Request) => Response | Promise<Response>;

export type RunningServer = {
  hostname: string;
  port: number;
  /**
   * Stops accepting, lets in-flight requests finish for up to `graceMs` (less once `hurry`
   * aborts), calls `atDeadline` for those still running, lets them finish for up to
   * AFTER_DEADLINE_MS more, then closes.
   */
  shutdown: (graceMs: number, opts?: ShutdownOptions) => Promise<void>;
};

export type ShutdownOptions = {
  /** The grace is over for what still runs: streams are ended with an error they can act on. */
  atDeadline?: () => void;
  /** Ends the grace now (a second Ctrl-C). */
  hurry?: AbortSignal;
};

/** What the requests still running at the deadline get to send their last bytes. */
const AFTER_DEADLINE_MS = 250;

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleepUnless(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

type BunServer = {
  port: number;
  hostname: string;
  stop(closeActive?: boolean): Promise<void> | void;
  pendingRequests: number;
};
type BunLike = {
  file(path: string): { exists(): Promise<boolean>; text(): Promise<string> };
  serve(opts: {
    hostname: string;
    port: number;
    fetch: Handler;
    idleTimeout: number;
    maxRequestBodySize: number;
    error?: (err: unknown) => Response;
  }): BunServer;
};

type DenoServer = {
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
  finished: Promise<void>;
};
type DenoLike = {
  readTextFile(path: string): Promise<string>;
  serve(
    opts: {
      hostname: string;
      port: number;
      onListen?: () => void;
      onError?: (err: unknown) => Response;
    },
    handler: Handler,
  ): DenoServer;
};

const runtime = globalThis as unknown as { Bun?: BunLike; Deno?: DenoLike };

export const runtimeName: "bun" | "deno" | "other" = runtime.Bun
  ? "bun"
  : runtime.Deno
  ? "deno"
  : "other";

/**
 * The upstream transport for this runtime: an HTTP/1.1 client on Deno's sockets under Deno
 * (its fetch body reads cost ~4× the CPU, see socket_transport.ts), the native fetch elsewhere.
 * Imported on demand: Bun never loads it.
 */
export async function upstreamFetch(): Promise<Fetch> {
  if (runtimeName === "deno") return (await import("./socket_transport.ts")).socketFetch;
  return (input, init) => fetch(input, init);
}

/**
 * A text file's content, or undefined when there is none. With the runtime's own API:
 * node:fs would cost Bun ~4 MB of resident memory for one read at start-up.
 */
export async function readTextFile(path: string): Promise<string | undefined> {
  try {
    if (runtime.Bun) {
      const file = runtime.Bun.file(path);
      return (await file.exists()) ? await file.text() : undefined;
    }
    if (runtime.Deno) return await runtime.Deno.readTextFile(path);
  } catch (err) {
    if ((err as { name?: unknown }).name === "NotFound") return undefined;
    throw err;
  }
  throw new Error("unsupported runtime: run with Deno or Bun");
}

function internalError(): Response {
  return new Response(
    JSON.stringify({
      type: "error",
      error: { type: "api_error", message: "internal proxy error" },
    }),
    { status: 500, headers: { "content-type": "application/json" } },
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function serve(
  handler: Handler,
  opts: { hostname: string; port: number; maxBodyBytes: number },
): RunningServer {
  if (runtime.Bun) {
    const server = runtime.Bun.serve({
      hostname: opts.hostname,
      port: opts.port,
      fetch: handler,
      // Bun closes connections idle for 10 s by default: long generations need more.
      idleTimeout: 0,
      // The handler enforces the configured limit with an Anthropic 413 and never reads past
      // it (it streams the body); Bun's own limit would answer a bare 413 first, for a
      // Content-Length over it, so it is effectively switched off.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      error: internalError,
    });
    return {
      hostname: server.hostname,
      port: server.port,
      shutdown: async (graceMs, opts = {}) => {
        const stopped = server.stop(false);
        const until = async (deadline: number, signal?: AbortSignal) => {
          while (server.pendingRequests > 0 && Date.now() < deadline && !signal?.aborted) {
            await sleep(50);
          }
        };
        await until(Date.now() + graceMs, opts.hurry);
        if (server.pendingRequests > 0 && opts.atDeadline) {
          opts.atDeadline();
          await until(Date.now() + AFTER_DEADLINE_MS);
        }
        await server.stop(true);
        await stopped;
      },
    };
  }
  if (runtime.Deno) {
    const server = runtime.Deno.serve(
      { hostname: opts.hostname, port: opts.port, onListen: () => {}, onError: internalError },
      handler,
    );
    return {
      hostname: server.addr.hostname,
      port: server.addr.port,
      shutdown: async (graceMs, opts = {}) => {
        let finished = false;
        const drained = server.shutdown().then(() => (finished = true));
        await Promise.race([drained, sleepUnless(graceMs, opts.hurry)]);
        if (finished || !opts.atDeadline) return;
        opts.atDeadline();
        await Promise.race([drained, sleep(AFTER_DEADLINE_MS)]);
      },
    };
  }
  throw new Error("unsupported runtime: run with Deno or Bun");
}
