/**
 * JSON.stringify for the upstream request body, made cheap for what repeats.
 *
 * Two measured reasons:
 * - On a Claude-Code-sized body (~130 KB) V8 in Deno 2.9 takes ~410 µs to stringify the object
 *   whole but ~215 µs for its top-level fields one by one (Bun: 154 vs 146 µs).
 * - Each turn of an agent conversation resends the same tools and the same history plus a
 *   little. Comparing an element with the one seen last turn costs a quarter of serializing it
 *   (64 KB of tools: ~20 µs against ~85 µs), so array elements (tools, messages) are
 *   serialized once and reused while they stay deep-equal.
 * The output is byte-for-byte JSON.stringify's (tests/json_text.test.ts); the memo only ever
 * returns text produced from an equal value, so it cannot change what is sent.
 */

/** Fields whose array elements are memoized. */
const MEMO_FIELDS = new Set(["messages", "tools"]);
/** Elements smaller than this are serialized directly: comparing them saves nothing. */
const MIN_MEMO_LENGTH = 512;
const MAX_ENTRIES = 4_096;
const MAX_TOTAL_CHARS = 32 * 1024 * 1024;

type Entry = { source: unknown; json: string };

/** A bounded LRU of serialized array elements, keyed by a cheap structural sketch. */
export class JsonMemo {
  #entries = new Map<string, Entry>();
  #chars = 0;
  hits = 0;
  misses = 0;

  element(value: unknown): string {
    const key = sketch(value);
    const hit = this.#entries.get(key);
    if (hit !== undefined && deepEqual(hit.source, value)) {
      this.hits++;
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.json;
    }
    const json = JSON.stringify(value) ?? "null";
    if (json.length >= MIN_MEMO_LENGTH) {
      this.misses++;
      this.#store(key, { source: value, json });
    }
    return json;
  }

  #store(key: string, entry: Entry): void {
    const old = this.#entries.get(key);
    if (old) {
      this.#chars -= old.json.length;
      this.#entries.delete(key);
    }
    this.#entries.set(key, entry);
    this.#chars += entry.json.length;
    while (this.#entries.size > MAX_ENTRIES || this.#chars > MAX_TOTAL_CHARS) {
      const oldest = this.#entries.entries().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value[0]);
      this.#chars -= oldest.value[1].json.length;
    }
  }
}

/**
 * Serializes a plain JSON object field by field; `memo` reuses the text of repeated elements
 * of its `messages` and `tools` arrays.
 */
export function stringifyObject(value: Record<string, unknown>, memo?: JsonMemo): string {
  let out = "{";
  let first = true;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const field = value[key];
    let json: string | undefined;
    if (memo && Array.isArray(field) && MEMO_FIELDS.has(key)) {
      json = "[";
      for (let i = 0; i < field.length; i++) {
        // JSON.stringify writes null for undefined array elements; element() does the same.
        json += (i === 0 ? "" : ",") + memo.element(field[i]);
      }
      json += "]";
    } else {
      // JSON.stringify leaves out undefined, functions and symbols the same way.
      json = JSON.stringify(field);
    }
    if (json === undefined) continue;
    out += (first ? "" : ",") + JSON.stringify(key) + ":" + json;
    first = false;
  }
  return out + "}";
}

/**
 * A short description of a value's shape that two equal values always share: keys, types,
 * string lengths and the ends of strings, down to a small budget of nodes. Unequal values may
 * share it too; deepEqual decides.
 */
function sketch(value: unknown): string {
  let out = "";
  let budget = 24;
  const walk = (v: unknown): void => {
    if (budget-- <= 0) return;
    if (typeof v === "string") {
      out += `s${v.length}:${v.slice(0, 24)}|${v.length > 48 ? v.slice(-24) : ""};`;
    } else if (Array.isArray(v)) {
      out += `a${v.length}[`;
      for (const item of v) walk(item);
      out += "]";
    } else if (v !== null && typeof v === "object") {
      out += "{";
      for (const k in v) {
        out += `${k}=`;
        walk((v as Record<string, unknown>)[k]);
      }
      out += "}";
    } else out += `${String(v)};`;
  };
  walk(value);
  return out;
}

/** Structural equality for JSON data, key order included (it decides the serialized text). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i]) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false;
    }
  }
  return true;
}
