/**
 * The client streams and the upstream calls in progress, for a shutdown whose grace runs out:
 * each is ended with an error the client can act on (retry), `event: error` in a stream, a 529
 * before anything was sent, and logged, instead of a connection closed on it.
 */
import type { Endable } from "../upstreams/transport.ts";

export type { Endable };

export class OpenStreams {
  readonly #streams = new Set<Endable>();

  add(stream: Endable): void {
    this.#streams.add(stream);
  }

  delete(stream: Endable): void {
    this.#streams.delete(stream);
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Ends every stream still open; returns how many there were. */
  endAll(): number {
    const streams = [...this.#streams];
    this.#streams.clear();
    for (const s of streams) s.endForShutdown();
    return streams.length;
  }
}
