/** How deep a parsed JSON value nests, without walking past a limit. */

/** Depth of nested objects/arrays, stopping early past `limit`. */
export function exceedsDepth(value: unknown, limit: number, depth = 0): boolean {
  if (depth > limit) return true;
  if (Array.isArray(value)) return value.some((v) => exceedsDepth(v, limit, depth + 1));
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    for (const key in record) if (exceedsDepth(record[key], limit, depth + 1)) return true;
  }
  return false;
}
