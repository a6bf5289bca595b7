/**
 * The upstream call: fetch with a total timeout, a time-to-headers timeout, the client's abort
 * signal, and retries with exponential backoff and jitter — only before anything has been sent
 * to the client, only for failures a retry can fix.
 */
import { ProxyError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { type ErrorContext, upstreamHttpError } from "./upstream_errors.ts";

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export type UpstreamCall = {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The client's request signal: a client that leaves cancels the upstream request. */
  clientSignal: AbortSignal;
  /** Headers must arrive within this (streaming only: a non-streamed answer sends them last). */
  firstByteTimeoutMs: number | undefined;
  totalTimeoutMs: number;
  maxRetries: number;
  retryMaxDelayMs: number;
  errorContext: ErrorContext;
};

export type UpstreamDeps = {
  fetch: Fetch;
  log: Logger;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
};

/** An upstream answer with a 2xx status; `release` must be called once its body is done. */
export type UpstreamResponse = {
  response: Response;
  /** Aborts the upstream request (client left, idle timeout) and clears the timers. */
  abort: (reason: "client" | "idle" | "done") => void;
  /** Why the request was aborted, if it was. */
  abortedBy: () => "client" | "idle" | "total" | "first-byte" | "done" | undefined;
  attempts: number;
};

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const BASE_DELAY_MS = 500;
const MAX_ERROR_BODY = 64 * 1024;

/** Thrown when the client went away: nobody is left to answer. */
export class ClientGone extends Error {
  override name = "ClientGone";
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** `retry-after` (seconds or HTTP date) or `retry-after-ms`, in milliseconds. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get("retry-after-ms"));
  if (headers.has("retry-after-ms") && Number.isFinite(ms) && ms >= 0) return ms;
  const ra = headers.get("retry-after");
  if (!ra) return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const date = Date.parse(ra);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

export function backoffMs(attempt: number, random: () => number, cap: number): number {
  const base = BASE_DELAY_MS * 2 ** attempt;
  // Jitter between half and the full delay keeps many clients from retrying in step.
  return Math.min(cap, base * (0.5 + random() / 2));
}

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ERROR_BODY) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(Math.min(size, MAX_ERROR_BODY));
  let off = 0;
  for (const c of chunks) {
    const n = Math.min(c.byteLength, all.length - off);
    all.set(c.subarray(0, n), off);
    off += n;
    if (off >= all.length) break;
  }
  return new TextDecoder().decode(all);
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = cause && typeof cause === "object" && "code" in cause ? String(cause.code) : "";
    return [err.message, code].filter((s) => s).join(" ");
  }
  return String(err);
}

export async function callUpstream(call: UpstreamCall, deps: UpstreamDeps): Promise<UpstreamResponse> {
  const sleep = deps.sleep ?? defaultSleep;
  const random = deps.random ?? Math.random;
  const controller = new AbortController();
  let abortedBy: ReturnType<UpstreamResponse["abortedBy"]>;
  const abort = (why: NonNullable<typeof abortedBy>) => {
    if (abortedBy === undefined) abortedBy = why;
    clearTimeout(totalTimer);
    clearTimeout(firstByteTimer);
    call.clientSignal.removeEventListener("abort", onClientAbort);
    if (!controller.signal.aborted) controller.abort();
  };
  const onClientAbort = () => abort("client");
  if (call.clientSignal.aborted) throw new ClientGone("client disconnected");
  call.clientSignal.addEventListener("abort", onClientAbort, { once: true });
  const totalTimer = setTimeout(() => abort("total"), call.totalTimeoutMs);
  let firstByteTimer: ReturnType<typeof setTimeout> | undefined;
  const origin = new URL(call.url).origin;

  const timeoutError = () => {
    if (abortedBy === "client") return new ClientGone("client disconnected");
    const secs = (ms: number) => `${Math.round(ms / 100) / 10}s`;
    return abortedBy === "first-byte"
      ? new ProxyError(
        504,
        "timeout_error",
        `upstream did not start answering within ${secs(call.firstByteTimeoutMs ?? 0)} (FIRST_BYTE_TIMEOUT)`,
      )
      : new ProxyError(
        504,
        "timeout_error",
        `upstream request took longer than ${secs(call.totalTimeoutMs)} (REQUEST_TIMEOUT)`,
      );
  };

  for (let attempt = 0;; attempt++) {
    let res: Response;
    if (call.firstByteTimeoutMs !== undefined) {
      firstByteTimer = setTimeout(() => abort("first-byte"), call.firstByteTimeoutMs);
    }
    try {
      res = await deps.fetch(call.url, {
        method: "POST",
        headers: call.headers,
        body: call.body,
        signal: controller.signal,
      });
    } catch (err) {
      clearTimeout(firstByteTimer);
      if (abortedBy !== undefined) {
        const e = timeoutError();
        abort("done");
        throw e;
      }
      const error = new ProxyError(
        502,
        "api_error",
        `cannot reach upstream ${origin}: ${describeNetworkError(err)}`,
      );
      if (attempt < call.maxRetries) {
        const delay = backoffMs(attempt, random, call.retryMaxDelayMs);
        deps.log.warn("upstream connection failed, retrying", { attempt: attempt + 1, delay_ms: Math.round(delay) });
        await sleep(delay, controller.signal);
        if (abortedBy !== undefined) {
          const e = timeoutError();
          abort("done");
          throw e;
        }
        continue;
      }
      abort("done");
      throw error;
    }
    clearTimeout(firstByteTimer);
    if (res.ok) {
      return { response: res, abort, abortedBy: () => abortedBy, attempts: attempt + 1 };
    }
    let body: string;
    try {
      body = await readCapped(res);
    } catch {
      body = "";
    }
    const error = upstreamHttpError(res.status, body, res.headers, call.errorContext);
    const retryable = RETRYABLE.has(res.status) && error.type !== "billing_error";
    if (retryable && attempt < call.maxRetries) {
      const hinted = retryAfterMs(res.headers);
      // A wait longer than our cap is the client's to decide on: pass the error on with it.
      if (hinted === undefined || hinted <= call.retryMaxDelayMs) {
        const delay = hinted ?? backoffMs(attempt, random, call.retryMaxDelayMs);
        deps.log.warn("upstream error, retrying", {
          status: res.status,
          attempt: attempt + 1,
          delay_ms: Math.round(delay),
        });
        await sleep(delay, controller.signal);
        if (abortedBy !== undefined) {
          const e = timeoutError();
          abort("done");
          throw e;
        }
        continue;
      }
    }
    abort("done");
    throw error;
  }
}
