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

// The keywords OpenAI documents for strict structured outputs. Others (`default`, `minLength`,
// `allOf`, `propertyNames`, …) fail a strict request with a 400, so a schema with any keyword
// outside this list is sent without `strict`, where the model follows it as a guide.
// https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
const STRICT_KEYWORDS = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "enum",
  "anyOf",
  "$ref",
  "$defs",
  "definitions",
  "description",
  "pattern",
  "format",
  "multipleOf",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "minItems",
  "maxItems",
]);
// Documented limits of a strict schema.
const STRICT_MAX_NESTING = 10;
const STRICT_MAX_PROPERTIES = 5_000;

/**
 * Whether OpenAI's strict mode accepts a schema: the root is an object (not `anyOf`), every
 * object lists all its properties in `required` and sets `additionalProperties: false`, and
 * only supported keywords appear, within the documented limits.
 */
export function meetsStrictMode(schema: Json): boolean {
  if (!isObject(schema) || schema.type !== "object" || schema.anyOf !== undefined) return false;
  return strictNode(schema, 0, { properties: 0 });
}

function strictNode(node: Json, depth: number, count: { properties: number }): boolean {
  if (!isObject(node) || depth > STRICT_MAX_NESTING) return false;
  for (const key in node) if (!STRICT_KEYWORDS.has(key)) return false;
  const { properties, items, anyOf } = node;
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (types.includes("object") || properties !== undefined) {
    if (node.additionalProperties !== false) return false;
    if (properties !== undefined && !isObject(properties)) return false;
    const keys = properties ? Object.keys(properties) : [];
    count.properties += keys.length;
    if (count.properties > STRICT_MAX_PROPERTIES) return false;
    const required = Array.isArray(node.required) ? node.required : [];
    if (!keys.every((k) => required.includes(k))) return false;
    if (!keys.every((k) => strictNode(properties![k], depth + 1, count))) return false;
  } else if (node.additionalProperties !== undefined) return false;
  if (items !== undefined && !strictNode(items, depth + 1, count)) return false;
  if (anyOf !== undefined) {
    if (!Array.isArray(anyOf) || !anyOf.every((s) => strictNode(s, depth + 1, count))) return false;
  }
  for (const key of ["$defs", "definitions"]) {
    const defs = node[key];
    if (defs === undefined) continue;
    if (!isObject(defs) || !Object.values(defs).every((s) => strictNode(s, depth + 1, count))) {
      return false;
    }
  }
  return true;
}

// Keywords outside the OpenAPI 3 subset that Gemini's OpenAI endpoint accepts; it answers 400
// ("Invalid JSON payload received. Unknown name …") on each of these.
// https://ai.google.dev/api/caching#Schema
const GEMINI_DROPPED = new Set([
  "$schema",
  "$id",
  "$comment",
  "$anchor",
  "additionalProperties",
  "propertyNames",
  "patternProperties",
  "unevaluatedProperties",
  "unevaluatedItems",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
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
  "minContains",
  "maxContains",
  "uniqueItems",
  "prefixItems",
  "contentEncoding",
  "contentMediaType",
  "readOnly",
  "writeOnly",
  "deprecated",
  "$defs",
  "definitions",
  "$ref",
]);
// The only string formats Gemini accepts; numbers take int32/int64/float/double.
const GEMINI_FORMATS = new Set(["enum", "date-time", "int32", "int64", "float", "double"]);

type Defs = Record<string, Json>;

/**
 * Rewrites a tool schema for Gemini: local `$ref`s are inlined, `const` becomes a one-value
 * `enum`, a type list becomes `type` + `nullable` (or `anyOf`), `required` names only existing
 * properties, and every keyword Gemini rejects goes.
 */
export function simplifySchema(schema: Json): Json {
  const defs: Defs = {};
  if (isObject(schema)) {
    for (const key of ["definitions", "$defs"]) {
      const d = schema[key];
      if (isObject(d)) Object.assign(defs, d);
    }
  }
  return simplify(schema, defs, 0, new Set(), { nodes: 0 });
}

// Inlined references can multiply a schema; past this many nodes it is refused, not expanded.
const MAX_SCHEMA_NODES = 100_000;

function resolveRef(ref: string, defs: Defs): Json | undefined {
  const m = ref.match(/^#\/(?:\$defs|definitions)\/(.+)$/);
  if (!m) return undefined;
  return defs[m[1]!.replaceAll("~1", "/").replaceAll("~0", "~")];
}

function simplify(
  schema: Json,
  defs: Defs,
  depth: number,
  refs: Set<string>,
  count: { nodes: number },
): Json {
  if (depth > MAX_SCHEMA_DEPTH || ++count.nodes > MAX_SCHEMA_NODES) {
    throw new SchemaTooDeepError("tool schema is nested too deeply");
  }
  if (Array.isArray(schema)) return schema.map((s) => simplify(s, defs, depth + 1, refs, count));
  if (!isObject(schema)) return schema;
  if (typeof schema.$ref === "string") {
    const target = resolveRef(schema.$ref, defs);
    // A recursive or unresolvable reference has no inline form: an untyped object stands in.
    if (target === undefined || refs.has(schema.$ref)) {
      return typeof schema.description === "string"
        ? { type: "object", description: schema.description }
        : { type: "object" };
    }
    const { $ref: _ref, ...siblings } = schema;
    const merged = isObject(target) ? { ...target, ...siblings } : siblings;
    return simplify(merged, defs, depth + 1, new Set([...refs, schema.$ref]), count);
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (GEMINI_DROPPED.has(key)) continue;
    if (key === "format" && !(typeof value === "string" && GEMINI_FORMATS.has(value))) continue;
    if (key === "type" && Array.isArray(value)) {
      const types = value.filter((t): t is string => typeof t === "string" && t !== "null");
      if (types.length < value.length) out.nullable = true;
      if (types.length === 1) out.type = types[0];
      else if (types.length > 1) out.anyOf = types.map((t) => ({ type: t }));
      continue;
    }
    // Gemini's enum is for strings only.
    if (key === "enum") {
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) out.enum = value;
      continue;
    }
    // Keys under `properties` are property names, not keywords: keep them all.
    if (key === "properties" && isObject(value)) {
      const props: JsonObject = {};
      for (const [name, sub] of Object.entries(value)) {
        props[name] = simplify(sub, defs, depth + 1, refs, count);
      }
      out.properties = props;
      continue;
    }
    out[key] = simplify(value, defs, depth + 1, refs, count);
  }
  if (typeof schema.const === "string" && out.enum === undefined) {
    out.enum = [schema.const];
    if (out.type === undefined) out.type = "string";
  }
  // A required name without a property is a 400 on Gemini.
  if (Array.isArray(out.required)) {
    const props = isObject(out.properties) ? out.properties : {};
    const required = out.required.filter((k) => typeof k === "string" && k in props);
    if (required.length > 0) out.required = required;
    else delete out.required;
  }
  return out;
}
