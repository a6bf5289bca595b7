/**
 * Drives one streamed answer: upstream bytes → SSE decode → the protocol's converter → SSE
 * encode → the client's response body, pushed chunk by chunk as the upstream delivers them (see
 * body_source.ts), with the upstream paused while the client is behind. Owns the stream's
 * timers: `ping` while the upstream is silent, and the idle timeout. Ends every stream either
 * complete or with `event: error`, never cut.
 */
import type { StreamEvent } from "../anthropic/schema.ts";
import { errorBody, ProxyError, redactError, seconds, toProxyError } from "../anthropic/errors.ts";
import { SseDecoder } from "../upstreams/sse_decode.ts";
import { sourceOf, type SourceSink } from "../upstreams/body_source.ts";
import { encodeEvents } from "../anthropic/sse_encode.ts";
import { after, type Deadline } from "../common/deadlines.ts";
import type { EventConverter } from "../upstreams/protocol.ts";

export type StreamOutcome = {
  status: "complete" | "error" | "client_gone";
  error?: ProxyError;
};

/**
 * The status a streamed answer is logged with: the HTTP status went out as 200 before the end,
 * so the log says how it really ended (499, as nginx logs a client that left).
 */
export function loggedStatus(outcome: StreamOutcome): number {
  return outcome.status === "complete"
    ? 200
    : outcome.status === "client_gone"
    ? 499
    : outcome.error?.status ?? 500;
}

export type DriveOptions = {
  body: ReadableStream<Uint8Array>;
  converter: EventConverter;
  idleTimeoutMs: number;
  pingIntervalMs: number;
  /**
   * After this long without a content event (pings do not count), the converter's keep-alive
   * events go out: Claude Code's stream watchdog ignores pings. Undefined: never.
   */
  keepAliveMs?: number;
  /**
   * The upstream request's signal, aborted with the error to report (REQUEST_TIMEOUT): some
   * runtimes keep delivering a body after its request was aborted, so the read is cut here.
   */
  upstreamSignal?: AbortSignal;
  /** Aborts the upstream request: called when the client leaves or the upstream goes idle. */
  abortUpstream: (why: "client" | "idle" | "done") => void;
  /** Takes secrets out of an `event: error` message (upstreams echo keys in their errors). */
  redact?: (text: string) => string;
  /** Called once, when the stream has ended one way or another. */
  onEnd: (outcome: StreamOutcome) => void;
  /** Called once, when the first events after the opening ones go out (time to first token). */
  onFirstContent?: () => void;
};

const encoder = new TextEncoder();
const PING = encoder.encode(`event: ping\ndata: {"type":"ping"}\n\n`);

function errorFrame(err: ProxyError): Uint8Array {
  return encoder.encode(
    `event: error\ndata: ${JSON.stringify(errorBody(err.type, err.message))}\n\n`,
  );
}

/**
 * Chunks the client may have waiting before the upstream is paused: enough that a client
 * reading at the same pace never makes the driver pause and resume, bounded so a slow one
 * holds back the upstream instead of growing a buffer.
 */
const QUEUE_CHUNKS = 16;

/**
 * How long the upstream connection may go on after `[DONE]` before it is dropped (checked on
 * the stream's timer, so up to one tick more): the end of the HTTP body usually follows at
 * once, and waiting for it keeps the connection reusable.
 */
const DRAIN_MS = 1000;

export function driveStream(opts: DriveOptions): ReadableStream<Uint8Array> {
  const source = sourceOf(opts.body);
  const decoder = new SseDecoder();
  const conv = opts.converter;
  // The upstream is the silent one only while it is not paused: a client that reads slowly
  // pauses it, and that is not the upstream's idleness.
  let paused = false;
  let lastUpstream = Date.now();
  let lastSent = lastUpstream;
  let lastContent = lastUpstream;
  let ended = false;
  let sourceDone = false;
  // Set from a complete answer to the end of the upstream body: the client has everything.
  let drainingSince: number | undefined;
  const signal = opts.upstreamSignal;
  /** The stream's next tick; undefined once released (no more ticks). */
  let timer: Deadline | undefined;
  let released = false;
  let out!: ReadableStreamDefaultController<Uint8Array>;

  const release = (why: "client" | "idle" | "done") => {
    released = true;
    timer?.cancel();
    timer = undefined;
    drainingSince = undefined;
    if (!sourceDone) {
      sourceDone = true;
      source.cancel();
    }
    opts.abortUpstream(why);
  };

  const end = (outcome: StreamOutcome, why: "client" | "idle" | "done") => {
    if (ended) return;
    ended = true;
    signal?.removeEventListener("abort", onAbort);
    // No timer of its own for this: the stream's timer releases a body that does not end.
    if (outcome.status === "complete" && !sourceDone) drainingSince = Date.now();
    else release(why);
    opts.onEnd(outcome);
  };

  let onFirst = opts.onFirstContent;
  let started = false;
  const emit = (events: StreamEvent[], content = true) => {
    if (events.length === 0) return;
    out.enqueue(encodeEvents(events));
    lastSent = lastContent = Date.now();
    // The converter's opening events (message_start) go out before the upstream said anything.
    if (started && content && onFirst) {
      onFirst();
      onFirst = undefined;
    }
  };

  const fail = (error: ProxyError, why: "idle" | "done" = "done") => {
    if (ended) return;
    const err = opts.redact ? redactError(error, opts.redact) : error;
    try {
      out.enqueue(errorFrame(err));
      out.close();
    } catch {
      // The client is gone already; nothing to tell.
    }
    end({ status: "error", error: err }, why);
  };

  const complete = (events: StreamEvent[]) => {
    append(events, conv.finish());
    emit(events);
    out.close();
    end({ status: "complete" }, "done");
  };

  function onAbort() {
    fail(readError(signal?.reason));
  }

  const sink: SourceSink = {
    data(chunk) {
      if (ended) return;
      lastUpstream = Date.now();
      const events: StreamEvent[] = [];
      try {
        for (const m of decoder.push(chunk)) {
          append(events, conv.push(m));
          // [DONE] ends the answer: an upstream that keeps the connection open after it must
          // not hold a finished message back until the idle timeout fails it.
          if (conv.sawDone) return complete(events);
        }
      } catch (err) {
        // What arrived in the same read before the failure still reaches the client.
        try {
          emit(events);
        } catch {
          // closed meanwhile
        }
        return fail(toProxyError(err));
      }
      emit(events);
      if ((out.desiredSize ?? 0) <= -QUEUE_CHUNKS) {
        paused = true;
        source.pause();
      }
    },
    end() {
      sourceDone = true;
      if (drainingSince !== undefined) return release("done");
      if (ended) return;
      const events: StreamEvent[] = [];
      try {
        for (const m of decoder.flush()) {
          append(events, conv.push(m));
          if (conv.sawDone) break;
        }
        complete(events);
      } catch (err) {
        try {
          emit(events);
        } catch {
          // closed meanwhile
        }
        fail(toProxyError(err));
      }
    },
    error(err) {
      sourceDone = true;
      if (drainingSince !== undefined) return release("done");
      fail(readError(err));
    },
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      out = controller;
      emit(conv.start());
      started = true;
      const tickMs = Math.max(5, Math.min(opts.pingIntervalMs, opts.idleTimeoutMs) / 2);
      const tick = () => {
        check();
        if (!released) timer = after(tickMs, tick);
      };
      const check = () => {
        const now = Date.now();
        if (drainingSince !== undefined) {
          if (now - drainingSince >= DRAIN_MS) release("done");
          return;
        }
        if (paused || ended) return;
        if (now - lastUpstream >= opts.idleTimeoutMs) {
          return fail(idleError(opts.idleTimeoutMs), "idle");
        }
        if (opts.keepAliveMs !== undefined && now - lastContent >= opts.keepAliveMs) {
          try {
            emit(conv.keepAlive(), false);
          } catch {
            // closed meanwhile
          }
          return;
        }
        if (now - lastSent >= opts.pingIntervalMs) {
          try {
            controller.enqueue(PING);
            lastSent = now;
          } catch {
            // closed meanwhile
          }
        }
      };
      if (!released) timer = after(tickMs, tick);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      source.start(sink);
    },
    pull() {
      if (!paused || ended) return;
      paused = false;
      lastUpstream = Date.now();
      source.resume();
    },
    cancel() {
      // The client went away: stop the upstream generation at once.
      end({ status: "client_gone" }, "client");
    },
  });
}

function append(into: StreamEvent[], events: readonly StreamEvent[]): void {
  for (let i = 0; i < events.length; i++) into.push(events[i]!);
}

function idleError(ms: number): ProxyError {
  return new ProxyError(
    529,
    "overloaded_error",
    `upstream sent nothing for ${seconds(ms)} (STREAM_IDLE_TIMEOUT); the stream was cut`,
  );
}

function readError(err: unknown): ProxyError {
  // The upstream call aborts with the error to report (REQUEST_TIMEOUT).
  if (err instanceof ProxyError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new ProxyError(
    529,
    "overloaded_error",
    `upstream connection failed during the stream: ${detail}`,
  );
}
