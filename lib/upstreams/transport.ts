/**
 * The upstream call: fetch with a total timeout, a time-to-headers timeout, the client's abort
 * signal, and retries with exponential backoff and jitter — only before anything has been sent
 * to the client, only for failures a retry can fix.
 */
import { ProxyError, seconds } from "../anthropic/errors.ts";
import type { Logger } from "../ops/log.ts";
import { after, type Deadline } from "../common/deadlines.ts";

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export type UpstreamCall = {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The client's request signal: a client that leaves cancels the upstream request. */
  clientSignal: AbortSignal;
  /** Headers must arrive within this (streaming only: a non-streamed answer sends them last). */
  firstByteTimeoutMs: number | undefined;
  /** The setting that gave firstByteTimeoutMs, named in the timeout's message. */
  firstByteSetting?: string;
  totalTimeoutMs: number;
  /** The setting that gave totalTimeoutMs, named in the timeout's message. */
  totalSetting?: string;
  maxRetries: number;
  /**
   * Whether the caller passes this failure on instead of a retry here: to the next entry of a
   * routing chain, or to another key of the provider's pool (at once, where a retry would wait
   * out this key's Retry-After). `answered`: the upstream's headers arrived.
   */
  handedOver?: (error: ProxyError, answered: boolean) => boolean;
  retryMaxDelayMs: number;
  /** The protocol's reading of an HTTP error answer (see Exchange.httpError). */
  httpError: (status: number, body: string, headers: Headers) => ProxyError;
  /** Called when an answer's headers arrive (each attempt), for the time-to-first-byte log. */
  onHeaders?: () => void;
};

/** Something a shutdown whose grace ran out can end early. */
export type Endable = { endForShutdown(): void };

/** An Endable's place on a shutdown list, until it is removed. */
export type Listing = { remove(): void };

export type UpstreamDeps = {
  fetch: Fetch;
  log: Logger;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  /**
   * Where a call is listed until its answer is read, so that a shutdown whose grace ran out
   * answers its client with a retryable error instead of closing the connection on it.
   */
  open?: { add(call: Endable): Listing };
};

/** An upstream answer with a 2xx status; `abort("done")` must be called once its body is done. */
export type UpstreamResponse = {
  /** The upstream's answer, body untouched (a stream consumer watches `signal` itself). */
  response: Response;
  /** Aborted with the error to report: a ProxyError for a timeout, ClientGone for a client. */
  signal: AbortSignal;
  /** Aborts the upstream request (client left, idle timeout) and clears the timers. */
  abort: (reason: "client" | "idle" | "done") => void;
  /**
   * Why the request was aborted, if it was. Reads of `response.body` then reject with the
   * error to report: a ProxyError for a timeout, ClientGone when the client left.
   */
  abortedBy: () => "client" | "idle" | "total" | "first-byte" | "shutdown" | "done" | undefined;
  /** Takes the call off the shutdown list: its reader (a client stream) is listed itself. */
  unlist: () => void;
  attempts: number;
};

/** What a call still running when the shutdown grace ends tells its client. */
export const SHUTTING_DOWN = new ProxyError(
  529,
  "overloaded_error",
  "the proxy is shutting down and ended this answer: send the request again",
  { "x-should-retry": "true" },
);

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const BASE_DELAY_MS = 500;
const MAX_ERROR_BODY = 64 * 1024;

/**
 * The abort reasons of a request that simply ended: made once, since every request ends with
 * one and a DOMException per request (with its stack) was a visible share of Deno's CPU.
 */
const ENDED = {
  idle: new DOMException("upstream request ended (idle)", "AbortError"),
  done: new DOMException("upstream request ended (done)", "AbortError"),
};

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

async function readCapped(body: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
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
    // Node's fetch says only "fetch failed" and puts what happened in the cause.
    const causeMessage = cause instanceof Error ? cause.message : "";
    const message = err.message === "fetch failed" && causeMessage ? causeMessage : err.message;
    return message.includes(code) ? message : `${message} (${code})`;
  }
  return String(err);
}

/**
 * Wraps the upstream body so that aborting the request always ends a pending read with the
 * abort's reason. Not every runtime errors a fetch body whose signal aborts after the headers
 * arrived (Deno sometimes keeps delivering it), and a REQUEST_TIMEOUT that does not cut the
 * stream is no timeout.
 */
export function guardBody(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let onAbort: (() => void) | undefined;
  const release = () => {
    if (onAbort) signal.removeEventListener("abort", onAbort);
    onAbort = undefined;
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      onAbort = () => {
        release();
        try {
          controller.error(signal.reason);
        } catch {
          // already closed
        }
        reader.cancel(signal.reason).catch(() => {});
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (err) {
        release();
        if (!signal.aborted) controller.error(err);
        return;
      }
      if (signal.aborted) return;
      if (result.done) {
        release();
        controller.close();
      } else controller.enqueue(result.value);
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * A whole upstream body as text, rejecting with the abort's reason as soon as `signal` aborts
 * (see guardBody for why the runtime's own abort is not relied on). Reading with the runtime's
 * own `text()` instead of through a JavaScript stream wrapper keeps the one-shot path native.
 */
export async function readText(response: Response, signal: AbortSignal): Promise<string> {
  if (signal.aborted) throw signal.reason;
  const text = response.text();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  // Whichever loses the race must not surface as an unhandled rejection.
  text.catch(() => {});
  aborted.catch(() => {});
  try {
    return await Promise.race([text, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

/**
 * A call's whole (not streamed) answer as text, ending the call; a failure while reading becomes
 * the error the client should see: the client left, the request ran out of time, or the
 * connection broke.
 */
export async function readAnswer(upstream: UpstreamResponse): Promise<string> {
  let text: string;
  try {
    text = await readText(upstream.response, upstream.signal);
  } catch (err) {
    const why = upstream.abortedBy();
    upstream.abort("done");
    if (why === "client") throw new ClientGone("client disconnected");
    // The request was aborted with the timeout's error, which names its setting.
    const reason: unknown = upstream.signal.reason;
    if ((why === "total" || why === "shutdown") && reason instanceof ProxyError) throw reason;
    throw new ProxyError(
      502,
      "api_error",
      `upstream connection failed while reading the answer: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
  upstream.abort("done");
  return text;
}

/** The same error with more response headers (ProxyError is immutable). */
function withHeaders(err: ProxyError, headers: Record<string, string>): ProxyError {
  return new ProxyError(err.status, err.type, err.message, { ...headers, ...err.headers });
}

/** The upstream's `retry-after-ms`, passed on as is: the SDKs read it before `retry-after`. */
function retryAfterMsHeader(headers: Headers): Record<string, string> {
  const ms = headers.get("retry-after-ms")?.trim();
  return ms && /^\d+(\.\d+)?$/.test(ms) ? { "retry-after-ms": ms } : {};
}

/**
 * An upstream URL as errors show it: path included (a base URL missing its /v1 is a common
 * mistake), the query left out, where some gateways take keys.
 */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return url.split("?")[0]!;
  }
}

/** Claude Code and the SDKs retry on their own; say so explicitly where a retry can help. */
const MAY_RETRY = { "x-should-retry": "true" } as const;

export async function callUpstream(
  call: UpstreamCall,
  deps: UpstreamDeps,
): Promise<UpstreamResponse> {
  const sleep = deps.sleep ?? defaultSleep;
  const random = deps.random ?? Math.random;
  const controller = new AbortController();
  let abortedBy: ReturnType<UpstreamResponse["abortedBy"]>;
  // The closures below outlive this call for as long as the answer streams; they must not hold
  // `call`, whose body (the whole conversation, ~90 KB for a Claude Code turn) would then stay
  // in memory for every stream in flight and be copied by each garbage collection.
  const { clientSignal, firstByteTimeoutMs, firstByteSetting, totalTimeoutMs, totalSetting } = call;

  const timeoutError = (why: "total" | "first-byte") =>
    why === "first-byte"
      ? new ProxyError(
        504,
        "timeout_error",
        `upstream did not start answering within ${seconds(firstByteTimeoutMs ?? 0)} ` +
          `(${firstByteSetting ?? "FIRST_BYTE_TIMEOUT"})`,
        MAY_RETRY,
      )
      : new ProxyError(
        504,
        "timeout_error",
        `upstream request took longer than ${seconds(totalTimeoutMs)} ` +
          `(${totalSetting ?? "REQUEST_TIMEOUT"})`,
      );

  const abort = (why: NonNullable<typeof abortedBy>) => {
    if (abortedBy === undefined) abortedBy = why;
    listing?.remove();
    totalTimer.cancel();
    firstByteTimer?.cancel();
    clientSignal.removeEventListener("abort", onClientAbort);
    if (controller.signal.aborted) return;
    // The reason is what a pending read of the body rejects with: the error to report.
    const reason = why === "total" || why === "first-byte"
      ? timeoutError(why)
      : why === "client"
      ? new ClientGone("client disconnected")
      : why === "shutdown"
      ? SHUTTING_DOWN
      : ENDED[why];
    controller.abort(reason);
  };
  const onClientAbort = () => abort("client");
  if (clientSignal.aborted) throw new ClientGone("client disconnected");
  clientSignal.addEventListener("abort", onClientAbort, { once: true });
  const totalTimer = after(totalTimeoutMs, () => abort("total"));
  let firstByteTimer: Deadline | undefined;
  // Declared after `abort`, which only runs later (timers, the client, the caller).
  const listing = deps.open?.add({ endForShutdown: () => abort("shutdown") });

  /** The error for a request we aborted ourselves; releases everything. */
  const abortedError = (): Error => {
    const why = abortedBy;
    abort("done");
    if (why === "client" || why === undefined) return new ClientGone("client disconnected");
    if (why === "total" || why === "first-byte") return timeoutError(why);
    if (why === "shutdown") return SHUTTING_DOWN;
    return new ProxyError(502, "api_error", "upstream request was aborted", MAY_RETRY);
  };

  for (let attempt = 0;; attempt++) {
    let res: Response;
    if (firstByteTimeoutMs !== undefined) {
      firstByteTimer = after(firstByteTimeoutMs, () => abort("first-byte"));
    }
    try {
      res = await deps.fetch(call.url, {
        method: "POST",
        headers: call.headers,
        body: call.body,
        signal: controller.signal,
        // Bun's fetch would follow one (a POST turned GET on 301/302, the conversation sent
        // wherever it points), the socket transport under Deno never does: both report it instead.
        redirect: "manual",
      });
      // Bun's fetch hands over a status no Response can be made with (700): a broken answer,
      // as the socket transport under Deno reports it.
      if (res.status > 599) {
        res.body?.cancel().catch(() => {});
        throw new Error(`invalid status ${res.status}`);
      }
    } catch (err) {
      firstByteTimer?.cancel();
      if (abortedBy !== undefined) throw abortedError();
      const error = new ProxyError(
        502,
        "api_error",
        `cannot reach upstream ${shownUrl(call.url)}: ${describeNetworkError(err)}`,
        MAY_RETRY,
      );
      if (attempt < call.maxRetries && !call.handedOver?.(error, false)) {
        const delay = backoffMs(attempt, random, call.retryMaxDelayMs);
        deps.log.warn("upstream connection failed, retrying", {
          attempt: attempt + 1,
          delay_ms: Math.round(delay),
          error: error.message,
        });
        await sleep(delay, controller.signal);
        if (abortedBy !== undefined) throw abortedError();
        continue;
      }
      abort("done");
      throw error;
    }
    firstByteTimer?.cancel();
    call.onHeaders?.();
    if (res.ok) {
      // The body is not wrapped here: every stream hop costs Deno ~8 µs per chunk, so the
      // streaming consumer watches `signal` itself, and the one-shot reader uses readText.
      return {
        response: res,
        signal: controller.signal,
        abort,
        abortedBy: () => abortedBy,
        unlist: () => listing?.remove(),
        attempts: attempt + 1,
      };
    }
    let body: string;
    try {
      body = await readCapped(res.body ? guardBody(res.body, controller.signal) : null);
    } catch {
      body = "";
    }
    if (abortedBy !== undefined) throw abortedError();
    if (deps.log.enabled("debug")) {
      // The logger redacts keys; the body is capped at MAX_ERROR_BODY when read.
      deps.log.debug("upstream error body", { status: res.status, attempt: attempt + 1, body });
    }
    let error = call.httpError(res.status, body, res.headers);
    const retryable = RETRYABLE.has(res.status) && error.type !== "billing_error";
    if (retryable) error = withHeaders(error, { ...MAY_RETRY, ...retryAfterMsHeader(res.headers) });
    if (retryable && attempt < call.maxRetries && !call.handedOver?.(error, true)) {
      const hinted = retryAfterMs(res.headers);
      // A wait longer than our cap is the client's to decide on: pass the error on with it.
      if (hinted === undefined || hinted <= call.retryMaxDelayMs) {
        const delay = hinted ?? backoffMs(attempt, random, call.retryMaxDelayMs);
        deps.log.warn("upstream error, retrying", {
          status: res.status,
          attempt: attempt + 1,
          delay_ms: Math.round(delay),
          error: error.type,
          message: error.message,
        });
        await sleep(delay, controller.signal);
        if (abortedBy !== undefined) throw abortedError();
        continue;
      }
    }
    abort("done");
    throw error;
  }
}
