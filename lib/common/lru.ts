/** A small LRU map from string keys to counts, bounded by entries and total key length. */

/** Counters of one cache (or the sum over several). */
export interface CacheStats {
  hits: number;
  misses: number;
  entries: number;
  /** Total length (UTF-16 code units) of the keys held. */
  keyChars: number;
}

export class LruCache {
  readonly #map = new Map<string, number>();
  #keyChars = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxKeyChars: number,
    /** Keys longer than this are never stored. */
    readonly maxKeyLength: number,
  ) {}

  accepts(key: string): boolean {
    return key.length <= this.maxKeyLength;
  }

  get(key: string): number | undefined {
    const value = this.#map.get(key);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Move to the most-recently-used end.
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  set(key: string, value: number): void {
    if (!this.accepts(key)) return;
    if (this.#map.has(key)) this.#map.delete(key);
    else this.#keyChars += key.length;
    this.#map.set(key, value);
    while (this.#map.size > this.maxEntries || this.#keyChars > this.maxKeyChars) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.#map.delete(oldest.value);
      this.#keyChars -= oldest.value.length;
    }
  }

  stats(): CacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      entries: this.#map.size,
      keyChars: this.#keyChars,
    };
  }

  clear(): void {
    this.#map.clear();
    this.#keyChars = 0;
    this.hits = 0;
    this.misses = 0;
  }
}
