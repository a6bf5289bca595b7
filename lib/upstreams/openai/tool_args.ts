/**
 * Tool-call arguments as models really send them. Many open models (Qwen, GLM, Kimi, DeepSeek
 * behind various servers) send cumulative snapshots instead of deltas, double-encoded JSON
 * strings, or JSON cut off at the end of the stream. The happy path streams fragments as they
 * come; the rest is detected and repaired, and what cannot be repaired is reported as such.
 */

import { JsonForwarder, JsonStringDecoder } from "./json_forward.ts";

export type ToolInput = Record<string, unknown>;

/**
 * `reason` completes "the model's arguments …" (e.g. "are not valid JSON"). `repaired` means
 * guessed: cut-off JSON was completed. Unwrapping (a fence, a JSON string) and dropping trailing
 * commas change nothing the model meant, so they do not count.
 */
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

/**
 * What the client reads instead of a call whose arguments cannot be used, streamed or not: the
 * tool, why, and (cut to 500 characters) what the model sent, so the model can try again.
 */
export function unusableCallText(toolName: string, reason: string, raw: unknown): string {
  const text = typeof raw === "string" ? raw : raw === undefined ? "" : JSON.stringify(raw);
  const shown = text.length > 500 ? `${text.slice(0, 500)}…` : text;
  return `[proxy: the model called tool ${toolName} but its arguments ${reason}, so the call ` +
    `was not made. Arguments received: ${shown}]`;
}

/** Whole arguments (non-streaming, or buffered) → an input object, repaired where possible. */
export function parseToolArguments(raw: unknown): ParsedArgs {
  if (raw === null || raw === undefined) return { ok: true, input: {}, repaired: false };
  if (isRecord(raw)) return { ok: true, input: raw, repaired: false };
  if (typeof raw !== "string") return { ok: false, reason: "are not a JSON object" };
  if (raw.trim() === "") return { ok: true, input: {}, repaired: false };
  const parsed = parseLenient(raw);
  if (parsed === undefined) return { ok: false, reason: "are not valid JSON" };
  let { value, repaired } = parsed;
  // Double-encoded: a JSON string whose content is the JSON object.
  if (typeof value === "string") {
    const inner = parseLenient(value);
    if (inner !== undefined) {
      value = inner.value;
      repaired ||= inner.repaired;
    }
  }
  if (!isRecord(value)) return { ok: false, reason: "are not a JSON object" };
  return { ok: true, input: value, repaired };
}

/**
 * JSON as models write it → its value: as it is, out of a Markdown fence (```json … ```),
 * without trailing commas, or completed when cut off (the only guess: `repaired`). Undefined
 * when none of that helps.
 */
function parseLenient(text: string): { value: unknown; repaired: boolean } | undefined {
  const direct = tryParse(text);
  if (direct.ok) return { value: direct.value, repaired: false };
  let body = text.trim();
  if (body.startsWith("```")) {
    const nl = body.indexOf("\n");
    body = nl < 0 ? "" : body.slice(nl + 1).trimEnd();
    if (body.endsWith("```")) body = body.slice(0, -3);
    body = body.trim();
    const fenced = tryParse(body);
    if (fenced.ok) return { value: fenced.value, repaired: false };
  }
  if (body.startsWith("{") || body.startsWith("[")) {
    const json = new JsonForwarder();
    const forwarded = json.push(body);
    if (json.tail.trim() === "") {
      const closer = json.done ? "" : jsonPrefixCloser(forwarded);
      if (closer !== undefined) {
        const fixed = tryParse(forwarded + closer);
        if (fixed.ok) return { value: fixed.value, repaired: closer !== "" };
      }
    }
  }
  const closer = jsonPrefixCloser(body);
  if (closer === undefined) return undefined;
  const fixed = tryParse(body + closer);
  return fixed.ok ? { value: fixed.value, repaired: true } : undefined;
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

/**
 * Why repaired arguments cannot be used, if they cannot. Only repairs are checked: arguments the
 * model sent whole go to the client as they are, whose own validation answers the model (as
 * Anthropic's API does); a repair that guessed wrong must not look like the model's own call.
 */
export function repairProblem(
  input: ToolInput,
  repaired: boolean,
  schema: unknown,
  cutByLimit = false,
): string | undefined {
  if (!repaired) return undefined;
  // Completed, a string cut short would pass any schema: a Write of half a file, run as whole.
  if (cutByLimit) return CUT_BY_LIMIT;
  const problem = checkAgainstSchema(input, schema);
  return problem === undefined
    ? undefined
    : `were malformed, and the repaired ones fail the tool's schema (${problem})`;
}

/** Why arguments the answer's token limit cut short cannot be used, whatever they still parse as. */
export const CUT_BY_LIMIT = "were cut off by the token limit (max_tokens)";

/**
 * Why a call with these arguments cannot be made: unreadable, a repair that fails the schema,
 * or any repair at all when the token limit cut them (`cutByLimit`).
 */
export function whyUnusable(
  args: ParsedArgs,
  schema: unknown,
  cutByLimit = false,
): string | undefined {
  return args.ok ? repairProblem(args.input, args.repaired, schema, cutByLimit) : args.reason;
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
 * One streamed tool call's arguments. Arguments that start like a JSON object are forwarded as
 * they come, and so are those inside a Markdown fence or a JSON string once that wrapper is
 * known: only a trailing comma (until the next character decides) and a cut escape are held
 * back. Anything else (prose, a bare value) is held and decided at the end.
 */
export class StreamedArgs {
  #received = "";
  #mode: "undecided" | "stream" | "buffer" = "undecided";
  #json: JsonForwarder | undefined;
  #string: JsonStringDecoder | undefined;
  #fenced = false;

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
    if (this.#mode === "stream") return this.#forward(fragment);
    if (this.#mode === "buffer") return "";
    return this.#decide();
  }

  #forward(raw: string): string {
    const json = this.#json!;
    return json.push(this.#string ? this.#string.push(raw) : raw);
  }

  /** Looks at what has arrived for a wrapper and a `{`; starts streaming once both are known. */
  #decide(): string {
    let body = this.#received.trimStart();
    if (body === "") return "";
    let fenced = false;
    if (body.startsWith("`")) {
      // ```json\n{…}\n``` : the fence line must be complete before the JSON can start.
      if ("```".startsWith(body)) return "";
      const nl = body.indexOf("\n");
      if (!body.startsWith("```")) return this.#buffer();
      if (nl < 0) return "";
      fenced = true;
      body = body.slice(nl + 1).trimStart();
      if (body === "") return "";
    }
    let string: JsonStringDecoder | undefined;
    if (body.startsWith('"')) {
      string = new JsonStringDecoder();
      const decoded = string.push(body.slice(1)).trimStart();
      if (decoded === "") return string.closed ? this.#buffer() : "";
      if (!decoded.startsWith("{")) return this.#buffer();
      string = new JsonStringDecoder();
    } else if (!body.startsWith("{")) return this.#buffer();
    this.#mode = "stream";
    this.#fenced = fenced;
    this.#string = string;
    this.#json = new JsonForwarder();
    return this.#forward(string ? body.slice(1) : body);
  }

  #buffer(): string {
    this.#mode = "buffer";
    return "";
  }

  /** What follows the JSON value is only what may follow it (blanks, a closing fence). */
  #tailIsClean(): boolean {
    const json = this.#json!;
    if (this.#string) {
      if (json.tail.trim() !== "") return false;
      if (!this.#string.closed) return !json.done || this.#string.tail === "";
    }
    const after = this.#string ? this.#string.tail : json.tail;
    return this.#fenced ? /^\s*(```\s*)?$/.test(after) : after.trim() === "";
  }

  /** The arguments so far already form a whole JSON object (a new call may follow). */
  get complete(): boolean {
    if (this.#mode === "stream") {
      if (!this.#json!.done || !this.#tailIsClean()) return false;
      const whole = tryParse(this.#json!.forwarded);
      return whole.ok && isRecord(whole.value);
    }
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
      const json = this.#json!;
      const forwarded = json.forwarded;
      const cutOff = {
        ok: false as const,
        reason: "were cut off or are not valid JSON",
        raw: this.#received,
      };
      if (json.done) {
        const whole = tryParse(forwarded);
        if (!whole.ok || !isRecord(whole.value) || !this.#tailIsClean()) return cutOff;
        return { ok: true, append: "", input: whole.value, repaired: false };
      }
      const closer = jsonPrefixCloser(forwarded);
      if (closer === undefined) return cutOff;
      const fixed = tryParse(forwarded + closer);
      if (!fixed.ok || !isRecord(fixed.value)) return cutOff;
      return { ok: true, append: closer, input: fixed.value, repaired: true };
    }
    const parsed = parseToolArguments(this.#received);
    if (!parsed.ok) return { ok: false, reason: parsed.reason, raw: this.#received };
    const json = Object.keys(parsed.input).length === 0 && this.#received.trim() === ""
      ? ""
      : JSON.stringify(parsed.input);
    return { ok: true, append: json, input: parsed.input, repaired: parsed.repaired };
  }
}
