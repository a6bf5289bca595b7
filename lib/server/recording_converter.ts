/**
 * Any protocol's stream converter, wrapped to keep what passes through it: for the debug log,
 * the upstream's `data:` payloads, one per line, the first ones up to a bound and always the last
 * few (finish reason and usage); for RECORD_DIR, everything in and out, through a StreamTap.
 * Used only when the debug level or recording is on.
 */
import type { StreamEvent, Usage } from "../anthropic/schema.ts";
import { debugBody, TEXT_HEAD } from "../ops/debug_body.ts";
import type { EventConverter } from "../upstreams/protocol.ts";
import type { SseMessage } from "../upstreams/sse_decode.ts";
import type { StreamTap } from "./exchange_recorder.ts";

export class RecordingConverter implements EventConverter {
  #inner: EventConverter;
  #head: string[] = [];
  #headChars = 0;
  #tail: string[] = [];
  #chunks = 0;
  #debug: boolean;
  #tap: StreamTap | undefined;

  constructor(inner: EventConverter, opts: { debug: boolean; tap?: StreamTap | undefined }) {
    this.#inner = inner;
    this.#debug = opts.debug;
    this.#tap = opts.tap;
  }

  start(): StreamEvent[] {
    return this.#out(() => this.#inner.start());
  }

  push(msg: SseMessage): StreamEvent[] {
    if (this.#debug) this.#record(msg.data);
    this.#tap?.upstream(msg);
    return this.#out(() => this.#inner.push(msg));
  }

  finish(): StreamEvent[] {
    return this.#out(() => this.#inner.finish());
  }

  keepAlive(): StreamEvent[] {
    this.#tap?.keepAlive();
    return this.#out(() => this.#inner.keepAlive());
  }

  #out(convert: () => StreamEvent[]): StreamEvent[] {
    const tap = this.#tap;
    if (!tap) return convert();
    let events: StreamEvent[];
    try {
      events = convert();
    } catch (err) {
      tap.converterError();
      throw err;
    }
    tap.client(events);
    return events;
  }

  get sawDone(): boolean {
    return this.#inner.sawDone;
  }

  get ignoredEvents(): ReadonlySet<string> | undefined {
    return this.#inner.ignoredEvents;
  }

  get usageSoFar(): Usage {
    return this.#inner.usageSoFar;
  }

  #record(data: string): void {
    this.#chunks++;
    if (this.#headChars < TEXT_HEAD) {
      this.#head.push(data);
      this.#headChars += data.length;
      return;
    }
    this.#tail.push(data);
    if (this.#tail.length > 4) this.#tail.shift();
  }

  /** The recorded payloads, one per line, and how many chunks the upstream sent. */
  recorded(redact: (text: string) => string): { chunks: number; body: string } {
    const left = this.#chunks - this.#head.length - this.#tail.length;
    const gap = left > 0 ? [`…[${left} chunks left out]…`] : [];
    const lines = [...this.#head, ...gap, ...this.#tail].map((data) => debugBody(data, redact));
    return { chunks: this.#chunks, body: lines.join("\n") };
  }
}
