/**
 * The in-process feed of finished requests: the request log publishes each one here, and
 * metrics, the usage history and the dashboard's live view subscribe. Nothing else produces
 * events, so what the dashboard shows is what the log says.
 */

/** A finished request as metrics, history and the dashboard keep it: counts, never content. */
export type RequestRecord = {
  id: string;
  /** `Date.now()` when the request arrived. */
  time: number;
  method: string;
  path: string;
  status: number;
  requestedModel?: string;
  /** `provider/model` that answered. */
  target?: string;
  /** Failed attempts before the answer, each `provider/model: status type`. */
  attempts?: string[];
  stream?: boolean;
  inputTokens?: number;
  outputTokens?: number;
  cachedTokens?: number;
  ttfbMs?: number;
  ttftMs?: number;
  durationMs: number;
  /** The error the client got (message already redacted). */
  error?: { type: string; message: string };
  /** A request went out to an upstream; undefined for one answered by the proxy alone. */
  upstreamCalled?: boolean;
};

/** A call of the Messages API: what the usage history and the dashboard count. */
export function isMessagesCall(r: RequestRecord): boolean {
  return r.method === "POST" && r.path === "/v1/messages";
}

/** A stream still being answered. */
export type OpenStream = {
  id: string;
  time: number;
  requestedModel?: string;
  target?: string;
};

export type RequestEvent =
  | { kind: "open"; stream: OpenStream }
  | { kind: "done"; record: RequestRecord };

export type Listener = (event: RequestEvent) => void;

export class RequestEvents {
  #listeners = new Set<Listener>();
  #open = new Map<string, OpenStream>();
  #onError: (err: unknown) => void;

  /** `onError` hears a listener's failure; a listener never fails the request that published. */
  constructor(onError: (err: unknown) => void = () => {}) {
    this.#onError = onError;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get openCount(): number {
    return this.#open.size;
  }

  get openStreams(): OpenStream[] {
    return [...this.#open.values()];
  }

  opened(stream: OpenStream): void {
    this.#open.set(stream.id, stream);
    this.#emit({ kind: "open", stream });
  }

  finished(record: RequestRecord): void {
    // Most requests never opened a stream: no lookup (and no hash of a fresh id) for them.
    if (this.#open.size > 0) this.#open.delete(record.id);
    this.#emit({ kind: "done", record });
  }

  #emit(event: RequestEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#onError(err);
      }
    }
  }
}
