/**
 * The client streams and the upstream calls in progress, for a shutdown whose grace runs out:
 * each is ended with an error the client can act on (retry), `event: error` in a stream, a 529
 * before anything was sent, and logged, instead of a connection closed on it.
 *
 * An array with swap-removal, not a Set: under Bun, a long-lived Set that gains and loses an
 * object per request cost about a fifth of a small request's CPU (bench/monitoring_cost.ts
 * --calibrate, against the same code without the listing); an array costs nothing measurable,
 * as the deadline heap (lib/common/deadlines.ts) does.
 */
import type { Endable, Listing } from "../upstreams/transport.ts";

export type { Endable, Listing };

class Entry implements Listing {
  constructor(
    readonly owner: OpenStreams,
    readonly item: Endable,
    /** Position in the owner's list; -1 once removed. */
    public slot: number,
  ) {}

  remove(): void {
    this.owner.remove(this);
  }
}

export class OpenStreams {
  readonly #entries: Entry[] = [];

  /** Lists `item` until the listing it returns is removed. */
  add(item: Endable): Listing {
    const e = new Entry(this, item, this.#entries.length);
    this.#entries.push(e);
    return e;
  }

  /** Harmless for an entry already removed. */
  remove(e: Entry): void {
    const i = e.slot;
    if (i < 0 || this.#entries[i] !== e) return;
    e.slot = -1;
    const last = this.#entries.pop()!;
    if (last !== e) {
      this.#entries[i] = last;
      last.slot = i;
    }
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Ends everything still listed; returns how many there were. */
  endAll(): number {
    const entries = this.#entries.splice(0);
    for (const e of entries) e.slot = -1;
    for (const e of entries) e.item.endForShutdown();
    return entries.length;
  }
}
