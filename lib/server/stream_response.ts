/**
 * Drives one streamed answer: upstream bytes → SSE decode → the protocol's converter → SSE
 * encode → the client's response body. Owns the stream's timers: `ping` while the upstream is
 * silent, and the idle timeout. Ends every stream either complete or with `event: error`, never cut.
 */
import type { StreamEvent } from "../anthropic/schema.ts";
import { errorBody, ProxyError, redactError, seconds, toProxyError } from "../anthropic/errors.ts";
import { SseDecoder } from "../upstreams/sse_decode.ts";
import { encodeEvents } from "../anthropic/sse_encode.ts";
import type { EventConverter } from "../upstreams/protocol.ts";

export type StreamOutcome = {
  status: "complete" | "error" | "client_gone";
  error?: ProxyError;
};

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

export function driveStream(opts: DriveOptions): ReadableStream<Uint8Array> {
  const reader = opts.body.getReader();
  const decoder = new SseDecoder();
  const conv = opts.converter;
  // Set while a read of the upstream is pending: only then is the upstream the one silent.
  // A client that reads slowly holds pull() back, and that is not the upstream's idleness.
  let waitingSince: number | undefined;
  let lastSent = Date.now();
  let lastContent = lastSent;
  let idle = false;
  let ended = false;
  let aborted: { reason: unknown } | undefined;
  const signal = opts.upstreamSignal;
  const onAbort = () => {
    aborted = { reason: signal?.reason };
    reader.cancel(signal?.reason).catch(() => {});
  };
  let timer: ReturnType<typeof setInterval> | undefined;

  const end = (outcome: StreamOutcome) => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    signal?.removeEventListener("abort", onAbort);
    opts.abortUpstream(outcome.status === "client_gone" ? "client" : "done");
    opts.onEnd(outcome);
  };

  let onFirst = opts.onFirstContent;
  let started = false;
  const emit = (
    controller: ReadableStreamDefaultController<Uint8Array>,
    events: StreamEvent[],
    content = true,
  ) => {
    if (events.length === 0) return false;
    controller.enqueue(encodeEvents(events));
    lastSent = lastContent = Date.now();
    // The converter's opening events (message_start) go out before the upstream said anything.
    if (started && content && onFirst) {
      onFirst();
      onFirst = undefined;
    }
    return true;
  };

  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, error: ProxyError) => {
    const err = opts.redact ? redactError(error, opts.redact) : error;
    try {
      controller.enqueue(errorFrame(err));
      controller.close();
    } catch {
      // The client is gone already; nothing to tell.
    }
    end({ status: "error", error: err });
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
      emit(controller, conv.start());
      started = true;
      const tick = Math.max(5, Math.min(opts.pingIntervalMs, opts.idleTimeoutMs) / 2);
      timer = setInterval(() => {
        const now = Date.now();
        if (waitingSince === undefined) return;
        if (now - waitingSince >= opts.idleTimeoutMs) {
          idle = true;
          // Cancelling the read makes the pending pull() see the idle flag and fail the stream.
          opts.abortUpstream("idle");
          reader.cancel().catch(() => {});
          return;
        }
        if (opts.keepAliveMs !== undefined && now - lastContent >= opts.keepAliveMs) {
          try {
            emit(controller, conv.keepAlive(), false);
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
      }, tick);
    },
    async pull(controller) {
      // Loop until something is enqueued: a pull() that enqueues nothing is not called again
      // by every runtime (Deno waits forever).
      while (!ended) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        waitingSince = Date.now();
        try {
          chunk = await reader.read();
        } catch (err) {
          if (ended) return;
          if (idle) return fail(controller, idleError(opts.idleTimeoutMs));
          return fail(controller, readError(aborted ? aborted.reason : err));
        } finally {
          waitingSince = undefined;
        }
        if (ended) return;
        if (idle) return fail(controller, idleError(opts.idleTimeoutMs));
        if (aborted) return fail(controller, readError(aborted.reason));
        const events: StreamEvent[] = [];
        try {
          const messages = chunk.done ? decoder.flush() : decoder.push(chunk.value);
          for (const m of messages) {
            append(events, conv.push(m));
            if (conv.sawDone) break;
          }
          // [DONE] ends the answer: an upstream that keeps the connection open after it must
          // not hold a finished message back until the idle timeout fails it.
          if (chunk.done || conv.sawDone) {
            append(events, conv.finish());
            emit(controller, events);
            controller.close();
            if (!chunk.done) reader.cancel().catch(() => {});
            end({ status: "complete" });
            return;
          }
        } catch (err) {
          // What arrived in the same read before the failure still reaches the client.
          emit(controller, events);
          reader.cancel().catch(() => {});
          return fail(controller, toProxyError(err));
        }
        if (emit(controller, events)) return;
      }
    },
    cancel() {
      // The client went away: stop the upstream generation at once.
      reader.cancel().catch(() => {});
      end({ status: "client_gone" });
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
