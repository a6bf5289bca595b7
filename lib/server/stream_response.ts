/**
 * Drives one streamed answer: upstream bytes → SSE decode → the protocol's converter → SSE
 * encode → the client's response body, pushed chunk by chunk as the upstream delivers them (see
 * body_source.ts), with the upstream paused while the client is behind. Owns the stream's
 * timers: `ping` while the upstream is silent, and the idle timeout. Ends every stream either
 * complete or with `event: error`, never cut.
 */
import type { Endable, Listing, OpenStreams } from "./open_streams.ts";
import type { StreamEvent } from "../anthropic/schema.ts";
import { errorBody, ProxyError, redactError, seconds, toProxyError } from "../anthropic/errors.ts";
import { SseDecoder } from "../upstreams/sse_decode.ts";
import { type BodySource, sourceOf, type SourceSink } from "../upstreams/body_source.ts";
import { encodeEvents } from "../anthropic/sse_encode.ts";
import { after, type Deadline } from "../common/deadlines.ts";
import type { EventConverter } from "../upstreams/protocol.ts";
import { ClientGone, SHUTTING_DOWN } from "../upstreams/transport.ts";

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
  /** The setting that gave idleTimeoutMs, named in the idle error (default STREAM_IDLE_TIMEOUT). */
  idleSetting?: string;
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
  /** Where the stream is listed while it runs, so that a shutdown can end it cleanly. */
  open?: OpenStreams;
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
  return new ReadableStream<Uint8Array>(new StreamDriver(opts));
}

/**
 * The driver of one stream: the upstream body's sink, the client stream's underlying source,
 * and the abort listener of the upstream signal, in one object with methods. A stream's driver
 * lives as long as the stream, and what it holds is copied by every garbage collection
 * meanwhile: one object instead of a closure per callback.
 */
class StreamDriver implements UnderlyingDefaultSource<Uint8Array>, SourceSink, Endable {
  readonly #opts: DriveOptions;
  readonly #source: BodySource;
  readonly #decoder = new SseDecoder();
  readonly #conv: EventConverter;
  // The upstream is the silent one only while it is not paused: a client that reads slowly
  // pauses it, and that is not the upstream's idleness.
  #paused = false;
  #lastUpstream = Date.now();
  #lastSent = this.#lastUpstream;
  #lastContent = this.#lastUpstream;
  #ended = false;
  #sourceDone = false;
  // Set from a complete answer to the end of the upstream body: the client has everything.
  #drainingSince: number | undefined;
  readonly #signal: AbortSignal | undefined;
  /** The stream's next tick; undefined once released (no more ticks). */
  #timer: Deadline | undefined;
  #released = false;
  #tickMs = 0;
  readonly #tick = () => {
    this.#check();
    if (!this.#released) this.#timer = after(this.#tickMs, this.#tick);
  };
  #out!: ReadableStreamDefaultController<Uint8Array>;
  #onFirst: (() => void) | undefined;
  #started = false;
  /** Its place on the shutdown list while it runs. */
  #listing: Listing | undefined;

  constructor(opts: DriveOptions) {
    this.#opts = opts;
    this.#source = sourceOf(opts.body);
    this.#conv = opts.converter;
    this.#signal = opts.upstreamSignal;
    this.#onFirst = opts.onFirstContent;
  }

  #release(why: "client" | "idle" | "done"): void {
    this.#released = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#drainingSince = undefined;
    if (!this.#sourceDone) {
      this.#sourceDone = true;
      this.#source.cancel();
    }
    this.#opts.abortUpstream(why);
  }

  #end(outcome: StreamOutcome, why: "client" | "idle" | "done"): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#listing?.remove();
    this.#signal?.removeEventListener("abort", this);
    // No timer of its own for this: the stream's timer releases a body that does not end.
    if (outcome.status === "complete" && !this.#sourceDone) this.#drainingSince = Date.now();
    else this.#release(why);
    this.#opts.onEnd(outcome);
  }

  #emit(events: StreamEvent[], content = true): void {
    if (events.length === 0) return;
    this.#out.enqueue(encodeEvents(events));
    this.#lastSent = this.#lastContent = Date.now();
    // The converter's opening events (message_start) go out before the upstream said anything.
    if (this.#started && content && this.#onFirst) {
      const onFirst = this.#onFirst;
      this.#onFirst = undefined;
      onFirst();
    }
  }

  #fail(error: ProxyError, why: "idle" | "done" = "done"): void {
    if (this.#ended) return;
    const redact = this.#opts.redact;
    const err = redact ? redactError(error, redact) : error;
    try {
      this.#out.enqueue(errorFrame(err));
      this.#out.close();
    } catch {
      // The client is gone already; nothing to tell.
    }
    this.#end({ status: "error", error: err }, why);
  }

  #complete(events: StreamEvent[]): void {
    append(events, this.#conv.finish());
    this.#emit(events);
    this.#out.close();
    this.#end({ status: "complete" }, "done");
  }

  endForShutdown(): void {
    this.#fail(SHUTTING_DOWN);
  }

  /** The upstream signal aborted: the error it carries is the one to report. */
  handleEvent(): void {
    this.#stop(this.#signal?.reason);
  }

  /**
   * The upstream read ended early. When the client's leaving aborted it (some runtimes say so
   * on the request's signal before they cancel the response), that is the outcome, not an
   * upstream failure.
   */
  #stop(err: unknown): void {
    if (err instanceof ClientGone || this.#signal?.reason instanceof ClientGone) {
      return this.#end({ status: "client_gone" }, "client");
    }
    this.#fail(readError(err));
  }

  data(chunk: Uint8Array): void {
    if (this.#ended) return;
    this.#lastUpstream = Date.now();
    const events: StreamEvent[] = [];
    const conv = this.#conv;
    try {
      for (const m of this.#decoder.push(chunk)) {
        append(events, conv.push(m));
        // [DONE] ends the answer: an upstream that keeps the connection open after it must
        // not hold a finished message back until the idle timeout fails it.
        if (conv.sawDone) return this.#complete(events);
      }
    } catch (err) {
      // What arrived in the same read before the failure still reaches the client.
      try {
        this.#emit(events);
      } catch {
        // closed meanwhile
      }
      return this.#fail(toProxyError(err));
    }
    this.#emit(events);
    if ((this.#out.desiredSize ?? 0) <= -QUEUE_CHUNKS) {
      this.#paused = true;
      this.#source.pause();
    }
  }

  end(): void {
    this.#sourceDone = true;
    if (this.#drainingSince !== undefined) return this.#release("done");
    if (this.#ended) return;
    const events: StreamEvent[] = [];
    try {
      for (const m of this.#decoder.flush()) {
        append(events, this.#conv.push(m));
        if (this.#conv.sawDone) break;
      }
      this.#complete(events);
    } catch (err) {
      try {
        this.#emit(events);
      } catch {
        // closed meanwhile
      }
      this.#fail(toProxyError(err));
    }
  }

  error(err: unknown): void {
    this.#sourceDone = true;
    if (this.#drainingSince !== undefined) return this.#release("done");
    this.#stop(err);
  }

  #check(): void {
    const now = Date.now();
    if (this.#drainingSince !== undefined) {
      if (now - this.#drainingSince >= DRAIN_MS) this.#release("done");
      return;
    }
    if (this.#paused || this.#ended) return;
    const opts = this.#opts;
    if (now - this.#lastUpstream >= opts.idleTimeoutMs) {
      return this.#fail(idleError(opts.idleTimeoutMs, opts.idleSetting), "idle");
    }
    if (opts.keepAliveMs !== undefined && now - this.#lastContent >= opts.keepAliveMs) {
      try {
        this.#emit(this.#conv.keepAlive(), false);
      } catch {
        // closed meanwhile
      }
      return;
    }
    if (now - this.#lastSent >= opts.pingIntervalMs) {
      try {
        this.#out.enqueue(PING);
        this.#lastSent = now;
      } catch {
        // closed meanwhile
      }
    }
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#out = controller;
    this.#emit(this.#conv.start());
    this.#started = true;
    const opts = this.#opts;
    this.#tickMs = Math.max(5, Math.min(opts.pingIntervalMs, opts.idleTimeoutMs) / 2);
    if (!this.#released) this.#timer = after(this.#tickMs, this.#tick);
    this.#listing = opts.open?.add(this);
    const signal = this.#signal;
    if (signal?.aborted) return this.handleEvent();
    signal?.addEventListener("abort", this, { once: true });
    this.#source.start(this);
  }

  pull(): void {
    if (!this.#paused || this.#ended) return;
    this.#paused = false;
    this.#lastUpstream = Date.now();
    this.#source.resume();
  }

  cancel(): void {
    // The client went away: stop the upstream generation at once.
    this.#end({ status: "client_gone" }, "client");
  }
}

function append(into: StreamEvent[], events: readonly StreamEvent[]): void {
  for (let i = 0; i < events.length; i++) into.push(events[i]!);
}

function idleError(ms: number, setting = "STREAM_IDLE_TIMEOUT"): ProxyError {
  return new ProxyError(
    529,
    "overloaded_error",
    `upstream sent nothing for ${seconds(ms)} (${setting}); the stream was cut`,
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
