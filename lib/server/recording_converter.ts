/**
 * Any protocol's stream converter, wrapped to keep the upstream's `data:` payloads for the debug
 * log, one per line: the first ones up to a bound and always the last few (finish reason and
 * usage). Used only when the debug level is on.
 */
import type { StreamEvent, Usage } from "../anthropic/schema.ts";
import { debugBody, TEXT_HEAD } from "../ops/debug_body.ts";
import type { EventConverter } from "../upstreams/protocol.ts";
import type { SseMessage } from "../upstreams/sse_decode.ts";

export class RecordingConverter implements EventConverter {
  #inner: EventConverter;
  #head: string[] = [];
  #headChars = 0;
  #tail: string[] = [];
  #chunks = 0;

  constructor(inner: EventConverter) {
    this.#inner = inner;
  }

  start(): StreamEvent[] {
    return this.#inner.start();
  }

  push(msg: SseMessage): StreamEvent[] {
    this.#record(msg.data);
    return this.#inner.push(msg);
  }

  finish(): StreamEvent[] {
    return this.#inner.finish();
  }

  keepAlive(): StreamEvent[] {
    return this.#inner.keepAlive();
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
