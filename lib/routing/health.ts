/**
 * What the proxy learns about its providers while it runs: keys that rest after a 429 or a
 * 401/403, and a circuit breaker per provider. Kept in memory only, per process, and lost on
 * restart by design; a reload of the configuration file keeps it (it is keyed by name).
 * The clock is passed in, so tests drive time.
 */

export type BreakerSettings = Readonly<{ failuresToOpen: number; cooldownMs: number }>;

type ProviderState<E> = {
  /** Round-robin position in the key pool. */
  next: number;
  /** Key → time until which it is skipped. */
  restingUntil: Map<string, number>;
  /** Key → the upstream's refusal of it (401, 403), while it rests for that. */
  refusals: Map<string, E>;
  failures: number;
  /** Open until this time; 0 when closed. */
  openUntil: number;
  /** A half-open trial request is in flight. */
  trial: boolean;
};

/**
 * Why a provider cannot be tried now, for the request log; `refusal` when every key rests
 * because the upstream refused it: the client then hears that refusal, not "try later".
 */
export type Skip<E = unknown> = {
  reason: "circuit open" | "keys resting";
  retryInMs: number;
  refusal?: E;
};

/** `E`: how the caller keeps an upstream's refusal of a key (its error). */
export class Health<E = unknown> {
  #state = new Map<string, ProviderState<E>>();
  #now: () => number;
  #records: boolean;

  /**
   * `records: false` learns nothing (no key rests, no open breaker): for `doctor`, which must
   * see every model's own answer, not a provider skipped after earlier checks failed.
   */
  constructor(now: () => number = Date.now, records = true) {
    this.#now = now;
    this.#records = records;
  }

  #of(provider: string): ProviderState<E> {
    let s = this.#state.get(provider);
    if (s === undefined) {
      s = {
        next: 0,
        restingUntil: new Map(),
        refusals: new Map(),
        failures: 0,
        openUntil: 0,
        trial: false,
      };
      this.#state.set(provider, s);
    }
    return s;
  }

  /**
   * Whether the breaker lets a request through: closed, or open past its cooldown (then this
   * request is the one trial, and others skip until it reports).
   */
  admit(provider: string): Skip | undefined {
    const s = this.#state.get(provider);
    if (s === undefined || s.openUntil === 0) return undefined;
    const now = this.#now();
    if (now < s.openUntil) return { reason: "circuit open", retryInMs: s.openUntil - now };
    if (s.trial) return { reason: "circuit open", retryInMs: 0 };
    s.trial = true;
    return undefined;
  }

  /** The next key of the pool that is not resting; `undefined` key for a provider without keys. */
  pickKey(provider: string, keys: readonly string[]): { key: string | undefined } | Skip<E> {
    if (keys.length === 0) return { key: undefined };
    const s = this.#of(provider);
    const now = this.#now();
    let soonest = Infinity;
    let refusal: E | undefined;
    let allRefused = true;
    for (let i = 0; i < keys.length; i++) {
      const index = (s.next + i) % keys.length;
      const key = keys[index]!;
      const until = s.restingUntil.get(key) ?? 0;
      if (until <= now) {
        s.next = (index + 1) % keys.length;
        s.refusals.delete(key);
        return { key };
      }
      soonest = Math.min(soonest, until - now);
      const refused = s.refusals.get(key);
      if (refused === undefined) allRefused = false;
      else refusal ??= refused;
    }
    return {
      reason: "keys resting",
      retryInMs: soonest,
      ...(allRefused && refusal !== undefined ? { refusal } : {}),
    };
  }

  /** Whether a key of the pool other than `key` is not resting now. */
  hasFreeKeyBesides(provider: string, keys: readonly string[], key: string | undefined): boolean {
    const resting = this.#state.get(provider)?.restingUntil;
    const now = this.#now();
    return keys.some((k) => k !== key && (resting?.get(k) ?? 0) <= now);
  }

  /**
   * A key that got 429 (for its Retry-After) or 401/403 is skipped for a while; `refusal` is
   * the 401/403 itself.
   */
  restKey(provider: string, key: string, ms: number, refusal?: E): void {
    if (!this.#records) return;
    const s = this.#of(provider);
    s.restingUntil.set(key, this.#now() + ms);
    if (refusal === undefined) s.refusals.delete(key);
    else s.refusals.set(key, refusal);
  }

  /** The provider answered (whatever the answer): the breaker closes. */
  succeeded(provider: string): void {
    const s = this.#state.get(provider);
    if (s === undefined) return;
    s.failures = 0;
    s.openUntil = 0;
    s.trial = false;
  }

  /** Connect error, timeout or 5xx: counts toward opening the breaker, and reopens a trial's. */
  failed(provider: string, settings: BreakerSettings): void {
    if (!this.#records) return;
    const s = this.#of(provider);
    s.failures++;
    if (s.trial || s.failures >= settings.failuresToOpen) {
      s.openUntil = this.#now() + settings.cooldownMs;
    }
    s.trial = false;
  }

  /** A request that ended without a verdict on the provider (the client left). */
  released(provider: string): void {
    const s = this.#state.get(provider);
    if (s !== undefined) s.trial = false;
  }

  /** How many of the provider's keys rest now. */
  restingKeys(provider: string): number {
    const s = this.#state.get(provider);
    if (s === undefined) return 0;
    const now = this.#now();
    let n = 0;
    for (const until of s.restingUntil.values()) if (until > now) n++;
    return n;
  }

  /** `closed`, `open`, or `half-open` (cooldown over, waiting for its trial). */
  breakerState(provider: string): "closed" | "open" | "half-open" {
    const s = this.#state.get(provider);
    if (s === undefined || s.openUntil === 0) return "closed";
    return this.#now() < s.openUntil ? "open" : "half-open";
  }
}
