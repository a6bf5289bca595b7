/**
 * Tool schemas reach OpenAI-compatible upstreams with their regex `pattern`s, written in the
 * ECMAScript dialect JSON Schema uses. Upstreams compile them in other dialects and fail the
 * whole request on one they cannot read: OpenAI checks each with Python's `re`, which has no
 * `\p{…}` classes, `\u{…}` escapes or `(?<name>…)` groups — Claude Code's Artifact tool carries
 * `\p{Cc}` and got "400 Invalid schema for function 'Artifact': … is not a 'regex'"
 * (https://github.com/Alishahryar1/free-claude-code/issues/1730); RE2-based validators (Gemini,
 * the Responses API) and grammar builders reject lookaround and backreferences
 * (https://github.com/diegosouzapw/OmniRoute/pull/7100). Such a pattern is left out: the model
 * loses a hint, while the client still checks every tool input against its own full schema.
 */

type Json = unknown;
type JsonObject = Record<string, Json>;

const isObject = (v: Json): v is JsonObject =>
  v !== null && typeof v === "object" && !Array.isArray(v);

// Unicode property classes, code-point escapes, named groups, lookaround, backreferences
// (numbered and named). `\\` pairs are skipped so an escaped backslash never counts.
const NON_PORTABLE = /\\[pP]\{|\\u\{|\\k<|\\[1-9]|\(\?<[A-Za-z_]|\(\?<?[=!]/;

/** Whether a regex uses only what ECMAScript, Python `re` and RE2 all read the same way. */
export function isPortablePattern(pattern: string): boolean {
  return !NON_PORTABLE.test(pattern.replaceAll("\\\\", ""));
}

/** Keywords whose value maps names (not keywords) to subschemas. */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions"]);
/** Keywords whose value is data, never a subschema. */
const DATA = new Set(["enum", "const", "default", "examples", "required"]);

/**
 * The schema without the `pattern`s (and `patternProperties` keys) no portable dialect reads;
 * the same object when there is none.
 */
export function withPortablePatterns(schema: JsonObject): JsonObject {
  return portableObject(schema, 0);
}

// Deeper schemas are refused before they get here (json_schema.ts MAX_SCHEMA_DEPTH); this bound
// only keeps the walk finite whatever it is given.
const MAX_DEPTH = 128;

function portableNode(node: Json, depth: number): Json {
  if (depth > MAX_DEPTH) return node;
  if (Array.isArray(node)) {
    const out = node.map((s) => portableNode(s, depth + 1));
    return out.some((s, i) => s !== node[i]) ? out : node;
  }
  return isObject(node) ? portableObject(node, depth) : node;
}

function portableObject(schema: JsonObject, depth: number): JsonObject {
  let out: JsonObject | undefined;
  const set = (key: string, value: Json) => {
    out ??= { ...schema };
    if (value === undefined) delete out[key];
    else out[key] = value;
  };
  for (const [key, value] of Object.entries(schema)) {
    if (DATA.has(key)) continue;
    if (key === "pattern") {
      if (typeof value === "string" && !isPortablePattern(value)) set(key, undefined);
      continue;
    }
    if (SCHEMA_MAPS.has(key) && isObject(value)) {
      let map: JsonObject | undefined;
      for (const [name, sub] of Object.entries(value)) {
        if (key === "patternProperties" && !isPortablePattern(name)) {
          map ??= { ...value };
          delete map[name];
          continue;
        }
        const next = portableNode(sub, depth + 1);
        if (next !== sub) {
          map ??= { ...value };
          map[name] = next;
        }
      }
      if (map) set(key, map);
      continue;
    }
    const next = portableNode(value, depth + 1);
    if (next !== value) set(key, next);
  }
  return out ?? schema;
}
