/**
 * JSON Schema handling for tool parameters and structured output.
 */

type Json = unknown;
type JsonObject = Record<string, Json>;

const isObject = (v: Json): v is JsonObject =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Deeper schemas are refused: no real tool needs them and recursion must stay bounded. */
export const MAX_SCHEMA_DEPTH = 64;

export class SchemaTooDeepError extends Error {
  override name = "SchemaTooDeepError";
}

/**
 * OpenAI's strict structured outputs accept a schema only if every object lists all its
 * properties in `required` and sets `additionalProperties: false`.
 * https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
 */
export function meetsStrictMode(schema: Json, depth = 0): boolean {
  if (depth > MAX_SCHEMA_DEPTH) return false;
  if (Array.isArray(schema)) return schema.every((s) => meetsStrictMode(s, depth + 1));
  if (!isObject(schema)) return true;
  const props = schema.properties;
  if (schema.type === "object" || isObject(props)) {
    if (schema.additionalProperties !== false) return false;
    const keys = isObject(props) ? Object.keys(props) : [];
    const required = Array.isArray(schema.required) ? schema.required : [];
    if (!keys.every((k) => required.includes(k))) return false;
  }
  return Object.values(schema).every((v) => meetsStrictMode(v, depth + 1));
}

// Keywords outside the OpenAPI 3 subset that Gemini's OpenAI endpoint accepts; it answers 400
// on each of these. https://ai.google.dev/api/caching#Schema
const GEMINI_DROPPED = new Set([
  "$schema",
  "$id",
  "$comment",
  "additionalProperties",
  "propertyNames",
  "patternProperties",
  "unevaluatedProperties",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "default",
  "examples",
  "const",
  "dependentRequired",
  "dependentSchemas",
  "if",
  "then",
  "else",
  "not",
  "contains",
  "$defs",
  "definitions",
]);
const GEMINI_FORMATS = new Set(["enum", "date-time"]);

/** Rewrites a schema for strict upstreams: `const` becomes a one-value `enum`, the rest goes. */
export function simplifySchema(schema: Json, depth = 0): Json {
  if (depth > MAX_SCHEMA_DEPTH) throw new SchemaTooDeepError("tool schema is nested too deeply");
  if (Array.isArray(schema)) return schema.map((s) => simplifySchema(s, depth + 1));
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "const") {
      if (schema.enum === undefined) out.enum = [value];
      continue;
    }
    if (GEMINI_DROPPED.has(key)) continue;
    if (key === "format" && !(typeof value === "string" && GEMINI_FORMATS.has(value))) continue;
    // Keys under `properties` are property names, not keywords: keep them all.
    if (key === "properties" && isObject(value)) {
      const props: JsonObject = {};
      for (const [name, sub] of Object.entries(value)) props[name] = simplifySchema(sub, depth + 1);
      out.properties = props;
      continue;
    }
    out[key] = simplifySchema(value, depth + 1);
  }
  return out;
}

/** Depth of nested objects/arrays, stopping early past `limit`. */
export function exceedsDepth(value: Json, limit: number, depth = 0): boolean {
  if (depth > limit) return true;
  if (Array.isArray(value)) return value.some((v) => exceedsDepth(v, limit, depth + 1));
  if (isObject(value)) {
    for (const key in value) if (exceedsDepth(value[key], limit, depth + 1)) return true;
  }
  return false;
}
