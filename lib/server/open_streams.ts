/**
 * The client streams in progress, for a shutdown whose grace runs out: each is ended with an
 * `event: error` the client can act on (retry), and logged, instead of being cut off mid-event
 * when the server closes its connections.
 */

/** A stream that can be ended early. */
export type Endable = { endForShutdown(): void };

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
