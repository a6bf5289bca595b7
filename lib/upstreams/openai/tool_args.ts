/**
 * Tool-call arguments as models really send them. Many open models (Qwen, GLM, Kimi, DeepSeek
 * behind various servers) send cumulative snapshots instead of deltas, double-encoded JSON
 * strings, or JSON cut off at the end of the stream. The happy path streams fragments as they
 * come; the rest is detected and repaired, and what cannot be repaired is reported as such.
 */

export type ToolInput = Record<string, unknown>;

/** `reason` completes "the model's arguments …" (e.g. "are not valid JSON"). */
export type ParsedArgs =
  | { ok: true; input: ToolInput; repaired: boolean }
  | { ok: false; reason: string };

const isRecord = (v: unknown): v is ToolInput =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function tryParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Whole arguments (non-streaming, or buffered) → an input object, repaired where possible. */
export function parseToolArguments(raw: unknown): ParsedArgs {
  if (raw === null || raw === undefined) return { ok: true, input: {}, repaired: false };
  if (isRecord(raw)) return { ok: true, input: raw, repaired: false };
  if (typeof raw !== "string") return { ok: false, reason: "are not a JSON object" };
  if (raw.trim() === "") return { ok: true, input: {}, repaired: false };
  let parsed = tryParse(raw);
  let repaired = false;
  if (!parsed.ok) {
    const closer = jsonPrefixCloser(raw);
    if (closer !== undefined) {
      parsed = tryParse(raw + closer);
      repaired = true;
    }
  }
  if (!parsed.ok) return { ok: false, reason: "are not valid JSON" };
  let value = parsed.value;
  // Double-encoded: a JSON string whose content is the JSON object.
  if (typeof value === "string") {
    const inner = tryParse(value);
    if (inner.ok) {
      value = inner.value;
      repaired = true;
    }
  }
  if (!isRecord(value)) return { ok: false, reason: "are not a JSON object" };
  return { ok: true, input: value, repaired };
}

const LITERALS = ["true", "false", "null"];

/**
 * The text to append to a cut-off JSON document to make it complete, or undefined when no
 * suffix can (e.g. it ends on a comma). Appending is the only repair possible once the prefix
 * has been streamed to the client.
 */
export function jsonPrefixCloser(prefix: string): string | undefined {
  const stack: string[] = [];
  let inString = false;
  let escaped = false;
  // What the last significant token was, to know what may follow.
  let last: Last = "none" as Last;
  let i = 0;
  for (; i < prefix.length; i++) {
    const c = prefix[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') {
        inString = false;
        last = afterString(stack, last);
      }
      continue;
    }
    if (c === '"') {
      inString = true;
      continue;
    }
    if (c === "{" || c === "[") {
      stack.push(c === "{" ? "}" : "]");
      last = "open";
    } else if (c === "}" || c === "]") {
      if (stack.pop() !== c) return undefined;
      last = "value";
    } else if (c === ",") last = "comma";
    else if (c === ":") last = "colon";
    else if (/\s/.test(c)) continue;
    else {
      // A bare literal or number: find its end.
      let j = i;
      while (j < prefix.length && /[^\s,}\]:]/.test(prefix[j]!)) j++;
      const token = prefix.slice(i, j);
      if (j === prefix.length) {
        const literal = LITERALS.find((l) => l.startsWith(token));
        let completion: string | undefined;
        if (literal) completion = literal.slice(token.length);
        else if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(token)) completion = "";
        else if (/^-?\d+\.$|^-?\d+(\.\d+)?[eE][+-]?$|^-$/.test(token)) completion = "0";
        if (completion === undefined) return undefined;
        return completion + closeAll(stack);
      }
      i = j - 1;
      last = "value";
    }
  }
  if (stack.length === 0 && !inString) return last === "value" ? "" : undefined;
  let suffix = "";
  if (inString) {
    if (escaped) return undefined;
    // A partial \u escape cannot be closed by appending a quote.
    if (/\\u[0-9a-fA-F]{0,3}$/.test(prefix)) return undefined;
    suffix += '"';
    last = afterString(stack, last);
  }
  if (last === "key") suffix += ":null";
  else if (last === "colon") suffix += "null";
  else if (last === "comma") return undefined;
  return suffix + closeAll(stack);
}

type Last = "open" | "comma" | "colon" | "value" | "key" | "none";

/** A string right after `{` or `,` inside an object is a key; anywhere else it is a value. */
function afterString(stack: string[], last: Last): Last {
  const inObject = stack[stack.length - 1] === "}";
  return inObject && (last === "open" || last === "comma") ? "key" : "value";
}

function closeAll(stack: string[]): string {
  return stack.slice().reverse().join("");
}

/** Client tool name → its input schema, for checking what the model sends. */
export function toolSchemas(
  tools: readonly { name: string; input_schema?: unknown }[] | undefined,
): ReadonlyMap<string, unknown> {
  const map = new Map<string, unknown>();
  for (const tool of tools ?? []) if (tool.input_schema) map.set(tool.name, tool.input_schema);
  return map;
}

/** Required properties and top-level primitive types, the errors models actually make. */
export function checkAgainstSchema(input: ToolInput, schema: unknown): string | undefined {
  if (!isRecord(schema)) return undefined;
  const required = Array.isArray(schema.required) ? schema.required : [];
  const missing = required.filter((k): k is string => typeof k === "string" && !(k in input));
  if (missing.length > 0) return `missing required ${missing.join(", ")}`;
  const props = isRecord(schema.properties) ? schema.properties : {};
  for (const [key, value] of Object.entries(input)) {
    const prop = props[key];
    if (!isRecord(prop) || typeof prop.type !== "string") continue;
    if (!matchesType(value, prop.type)) return `${key} should be ${prop.type}`;
  }
  return undefined;
}

function matchesType(value: unknown, type: string): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return isRecord(value);
    default:
      return true;
  }
}

/**
 * One streamed tool call's arguments. Fragments that start like a JSON object are forwarded
 * at once; anything else (a double-encoded string, prose) is held back and decided at the end.
 */
export class StreamedArgs {
  #received = "";
  #mode: "undecided" | "stream" | "buffer" = "undecided";

  get streaming(): boolean {
    return this.#mode === "stream";
  }

  /** Everything received so far. */
  get text(): string {
    return this.#received;
  }

  /** Returns the text to forward now ("" while undecided or buffering). */
  push(fragment: string): string {
    // A cumulative snapshot repeats everything received so far: keep only what is new. (As a
    // delta, text that starts with everything before it would not be valid JSON.)
    if (this.#received.length > 0 && fragment.startsWith(this.#received)) {
      fragment = fragment.slice(this.#received.length);
    }
    if (fragment === "") return "";
    this.#received += fragment;
    if (this.#mode === "stream") return fragment;
    if (this.#mode === "buffer") return "";
    const first = this.#received.trimStart()[0];
    if (first === undefined) return "";
    if (first === "{") {
      this.#mode = "stream";
      return this.#received;
    }
    this.#mode = "buffer";
    return "";
  }

  /** The arguments so far already form a whole JSON object (a new call may follow). */
  get complete(): boolean {
    const parsed = tryParse(this.#received);
    return parsed.ok && isRecord(parsed.value);
  }

  /**
   * At the end: for streamed arguments, the suffix that completes them; for held-back ones,
   * the whole JSON to send; or why they cannot be used.
   */
  finish():
    | { ok: true; append: string; input: ToolInput; repaired: boolean }
    | { ok: false; reason: string; raw: string } {
    if (this.#mode === "stream") {
      const whole = tryParse(this.#received);
      if (whole.ok && isRecord(whole.value)) {
        return { ok: true, append: "", input: whole.value, repaired: false };
      }
      const closer = jsonPrefixCloser(this.#received);
      if (closer !== undefined) {
        const fixed = tryParse(this.#received + closer);
        if (fixed.ok && isRecord(fixed.value)) {
          return { ok: true, append: closer, input: fixed.value, repaired: true };
        }
      }
      return { ok: false, reason: "were cut off or are not valid JSON", raw: this.#received };
    }
    const parsed = parseToolArguments(this.#received);
    if (!parsed.ok) return { ok: false, reason: parsed.reason, raw: this.#received };
    const json = Object.keys(parsed.input).length === 0 && this.#received.trim() === ""
      ? ""
      : JSON.stringify(parsed.input);
    return { ok: true, append: json, input: parsed.input, repaired: parsed.repaired };
  }
}
