/**
 * An upstream body that hands its chunks to a callback as they arrive, with pause/resume for
 * backpressure: the form the stream driver consumes.
 *
 * Why not just the body's ReadableStream: under Deno every ReadableStream hop costs a promise
 * and a pull per chunk, which for a 50-chunk answer was a measurable share of the proxy's CPU
 * under load (see bench/). A transport that reads the socket itself (Deno's, socket_transport.ts)
 * attaches a source to the body it returns (`attachSource`), and the driver takes that instead of reading
 * the stream; any other body is read through `sourceOf`'s reader adapter. The body stream stays
 * a valid, untouched ReadableStream either way, so lib/ remains fetch-shaped.
 */

export type SourceSink = {
  data(chunk: Uint8Array): void;
  /** The body ended complete. */
  end(): void;
  /** The body failed (connection lost, cut short). */
  error(err: unknown): void;
};

export type BodySource = {
  /** Starts delivery; called at most once. Callbacks never come after `cancel`. */
  start(sink: SourceSink): void;
  /** Stops delivering until `resume` (the client reads slower than the upstream sends). */
  pause(): void;
  resume(): void;
  /** Releases the body and its connection; nothing is delivered after this. */
  cancel(reason?: unknown): void;
};

const attached = new WeakMap<ReadableStream<Uint8Array>, BodySource>();

/** Registers the event-driven source behind `body` (by the transport that made it). */
export function attachSource(body: ReadableStream<Uint8Array>, source: BodySource): void {
  attached.set(body, source);
}

/**
 * The source for an upstream body: the transport's own when it attached one and nobody has
 * started reading the stream, else an adapter that reads the stream.
 */
export function sourceOf(body: ReadableStream<Uint8Array>): BodySource {
  const own = attached.get(body);
  attached.delete(body);
  return own && !body.locked ? own : readerSource(body);
}

/** A source over any ReadableStream: one read at a time while not paused. */
export function readerSource(body: ReadableStream<Uint8Array>): BodySource {
  const reader = body.getReader();
  let sink: SourceSink | undefined;
  let reading = false;
  let paused = false;
  let cancelled = false;

  const loop = async () => {
    if (reading || !sink) return;
    reading = true;
    try {
      while (!paused && !cancelled) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (err) {
          if (!cancelled) sink.error(err);
          return;
        }
        if (cancelled) return;
        if (result.done) return sink.end();
        sink.data(result.value);
      }
    } finally {
      reading = false;
    }
  };

  return {
    start(s) {
      sink = s;
      loop();
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      loop();
    },
    cancel(reason) {
      cancelled = true;
      reader.cancel(reason).catch(() => {});
    },
  };
}
