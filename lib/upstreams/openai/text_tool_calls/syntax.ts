/**
 * What every text tool-call syntax shares: the tags that open and close a call region, and a
 * parser from the region's body to calls. A region that does not parse, that names a tool the
 * request did not offer, or whose input fails the tool's schema, stays text.
 */

/** One call read from text: the tool's upstream name and its input. */
export type TextCall = { name: string; input: Record<string, unknown> };

/**
 * The request's tools, by the name the model sees: the input schema of each (undefined when the
 * tool has none), or no entry for a tool that does not exist.
 */
export type ToolLookup = (name: string) => { schema: unknown } | undefined;

export type Syntax = Readonly<{
  /** Which model family writes it, for tests and docs. */
  family: string;
  start: string;
  end: string;
  /** The text between `start` and `end` → its calls, or undefined when it is not one. */
  parse(body: string, tools: ToolLookup): TextCall[] | undefined;
  /**
   * Whether the body so far can still become a call. Prose that mentions a tag is released as
   * soon as it cannot, instead of being held to the end of the answer.
   */
  plausible?(bodySoFar: string): boolean;
}>;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The JSON Schema `type` of one property, as a list ([] when unknown). */
function propertyTypes(schema: unknown, key: string): string[] {
  if (!isRecord(schema) || !isRecord(schema.properties)) return [];
  const prop = schema.properties[key];
  if (!isRecord(prop)) return [];
  const t = prop.type;
  if (typeof t === "string") return [t];
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === "string") : [];
}

/**
 * A parameter written as raw text (Qwen3-Coder, GLM, MiniMax) → its value. String properties
 * keep the text as written; anything else is read as JSON when it is JSON, as the reference
 * parsers do (vLLM's qwen3coder and glm4_moe tool parsers), and kept as text otherwise.
 */
export function typedValue(raw: string, schema: unknown, key: string): unknown {
  const types = propertyTypes(schema, key);
  if (types.includes("string")) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Every match of a global regex, as its capture groups. */
export function* matches(re: RegExp, text: string): Generator<string[]> {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    yield m.slice(1).map((g) => g ?? "");
    if (m[0] === "") re.lastIndex++;
  }
}

/** Drops the matched parts; what is left must be blank for the body to be well formed. */
export function onlyBlankOutside(text: string, re: RegExp): boolean {
  return text.replace(re, "").trim() === "";
}
