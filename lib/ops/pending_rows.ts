/**
 * Finished requests waiting for the usage history's next write, held as numbers and bytes in
 * a few typed arrays instead of as the records themselves. A record kept for the half second
 * until the next write outlives the garbage collector's young generation; at thousands of
 * requests a second, moving them to the old generation and freeing them there cost more than
 * writing them (bench/monitoring_cost.ts). Names repeat (a handful of models and targets), so
 * each is kept once; the rare row with an error or failed attempts keeps those aside.
 */
import type { RequestRecord } from "./request_events.ts";

/** The numbers of a row, in this order; NaN where a value is unknown. */
const TIME = 0;
const STATUS = 1;
const STREAM = 2;
const INPUT = 3;
const OUTPUT = 4;
const CACHED = 5;
const TTFB = 6;
const TTFT = 7;
const DURATION = 8;
const NUMBERS = 9;

/** Bytes kept for a request id (`req_` and 24 characters); a longer or non-ASCII one goes aside. */
const ID_BYTES = 40;
/** Names kept once each; past this, a row keeps its names aside. */
const MAX_NAMES = 1000;
const NO_NAME = -1;
/** The name is in the row's extras. */
const ASIDE = -2;

/** What a row keeps apart from its numbers: rare, or too long for its slot. */
type Extras = Partial<
  Pick<RequestRecord, "id" | "requestedModel" | "target" | "attempts" | "error">
>;

const decoder = new TextDecoder();

export class PendingRows {
  #capacity: number;
  #numbers: Float64Array;
  #ids: Uint8Array;
  #idLengths: Uint8Array;
  /** Name index of each row's requested model and target (or NO_NAME, ASIDE). */
  #models: Int32Array;
  #targets: Int32Array;
  #names: string[] = [];
  #nameIndex = new Map<string, number>();
  /** Extras by absolute row number. */
  #extras = new Map<number, Extras>();
  /** Rows [#start, #end) are waiting; row numbers count from the first ever pushed. */
  #start = 0;
  #end = 0;
  /** The absolute number of the row at slot 0. */
  #base = 0;

  constructor(capacity = 1024) {
    this.#capacity = capacity;
    this.#numbers = new Float64Array(capacity * NUMBERS);
    this.#ids = new Uint8Array(capacity * ID_BYTES);
    this.#idLengths = new Uint8Array(capacity);
    this.#models = new Int32Array(capacity);
    this.#targets = new Int32Array(capacity);
  }

  get length(): number {
    return this.#end - this.#start;
  }

  push(r: RequestRecord): void {
    if (this.#end === this.#capacity) this.#makeRoom();
    const slot = this.#end++;
    const row = this.#base + slot;
    const n = this.#numbers;
    const at = slot * NUMBERS;
    n[at + TIME] = r.time;
    n[at + STATUS] = r.status;
    n[at + STREAM] = r.stream === undefined ? NaN : r.stream ? 1 : 0;
    n[at + INPUT] = r.inputTokens ?? NaN;
    n[at + OUTPUT] = r.outputTokens ?? NaN;
    n[at + CACHED] = r.cachedTokens ?? NaN;
    n[at + TTFB] = r.ttfbMs ?? NaN;
    n[at + TTFT] = r.ttftMs ?? NaN;
    n[at + DURATION] = r.durationMs;
    let extras: Extras | undefined;
    if (!this.#putId(slot, r.id)) extras = { id: r.id };
    const model = this.#name(r.requestedModel);
    if (model === ASIDE) (extras ??= {}).requestedModel = r.requestedModel;
    this.#models[slot] = model;
    const target = this.#name(r.target);
    if (target === ASIDE) (extras ??= {}).target = r.target;
    this.#targets[slot] = target;
    if (r.attempts !== undefined) (extras ??= {}).attempts = r.attempts;
    if (r.error !== undefined) (extras ??= {}).error = r.error;
    if (extras !== undefined) this.#extras.set(row, extras);
  }

  /** Forgets the oldest `count` rows. */
  dropOldest(count: number): void {
    const n = Math.min(count, this.length);
    if (this.#extras.size > 0) {
      for (let i = 0; i < n; i++) this.#extras.delete(this.#base + this.#start + i);
    }
    this.#start += n;
    if (this.#start === this.#end) this.#reset();
  }

  /** The `i`th waiting row (0 the oldest) as a record. */
  record(i: number): RequestRecord {
    const slot = this.#start + i;
    const n = this.#numbers;
    const at = slot * NUMBERS;
    const extras = this.#extras.get(this.#base + slot);
    const stream = n[at + STREAM]!;
    return {
      id: extras?.id ?? this.#id(slot),
      time: n[at + TIME]!,
      method: "POST",
      path: "/v1/messages",
      status: n[at + STATUS]!,
      requestedModel: this.#nameAt(this.#models[slot]!) ?? extras?.requestedModel,
      target: this.#nameAt(this.#targets[slot]!) ?? extras?.target,
      attempts: extras?.attempts,
      stream: Number.isNaN(stream) ? undefined : stream === 1,
      inputTokens: known(n[at + INPUT]!),
      outputTokens: known(n[at + OUTPUT]!),
      cachedTokens: known(n[at + CACHED]!),
      ttfbMs: known(n[at + TTFB]!),
      ttftMs: known(n[at + TTFT]!),
      durationMs: n[at + DURATION]!,
      error: extras?.error,
    };
  }

  /** Keeps an ASCII id that fits in its slot; false for any other, kept aside. */
  #putId(slot: number, id: string): boolean {
    const length = id.length;
    this.#idLengths[slot] = 0;
    if (length > ID_BYTES) return false;
    const bytes = this.#ids;
    const from = slot * ID_BYTES;
    for (let k = 0; k < length; k++) {
      const c = id.charCodeAt(k);
      if (c > 0x7f) return false;
      bytes[from + k] = c;
    }
    this.#idLengths[slot] = length;
    return true;
  }

  #id(slot: number): string {
    const from = slot * ID_BYTES;
    return decoder.decode(this.#ids.subarray(from, from + this.#idLengths[slot]!));
  }

  #name(name: string | undefined): number {
    if (name === undefined) return NO_NAME;
    const i = this.#nameIndex.get(name);
    if (i !== undefined) return i;
    if (this.#names.length >= MAX_NAMES) return ASIDE;
    this.#nameIndex.set(name, this.#names.length);
    this.#names.push(name);
    return this.#names.length - 1;
  }

  #nameAt(i: number): string | undefined {
    return i >= 0 ? this.#names[i] : undefined;
  }

  #reset(): void {
    this.#base += this.#end;
    this.#start = 0;
    this.#end = 0;
  }

  /** Full at the end: move the waiting rows to the front, or grow when they fill half of it. */
  #makeRoom(): void {
    const start = this.#start;
    const end = this.#end;
    const grow = start === 0 || end - start > this.#capacity / 2;
    const capacity = grow ? this.#capacity * 2 : this.#capacity;
    /** The waiting rows of `a` (`width` elements each) at the front of itself or of a new one. */
    const move = <T extends RowArray>(a: T, width: number, make: (length: number) => T): T => {
      const into = grow ? make(capacity * width) : a;
      if (grow) into.set(a.subarray(start * width, end * width));
      else a.copyWithin(0, start * width, end * width);
      return into;
    };
    this.#numbers = move(this.#numbers, NUMBERS, (n) => new Float64Array(n));
    this.#ids = move(this.#ids, ID_BYTES, (n) => new Uint8Array(n));
    this.#idLengths = move(this.#idLengths, 1, (n) => new Uint8Array(n));
    this.#models = move(this.#models, 1, (n) => new Int32Array(n));
    this.#targets = move(this.#targets, 1, (n) => new Int32Array(n));
    this.#capacity = capacity;
    this.#base += start;
    this.#start = 0;
    this.#end = end - start;
  }
}

type RowArray = Float64Array | Uint8Array | Int32Array;

const known = (v: number): number | undefined => (Number.isNaN(v) ? undefined : v);
