/** A request's JSON body: content type, size and time limits, syntax and nesting depth. */
import { invalidRequest, ProxyError } from "../anthropic/errors.ts";
import { exceedsDepth } from "../common/json_depth.ts";
import { readBody } from "./read_body.ts";

/** Deeper request bodies are refused; real ones (tool schemas included) stay far below. */
const MAX_BODY_DEPTH = 512;

export async function parseJsonBody(
  req: Request,
  limits: { maxRequestBytes: number; requestTimeoutMs: number },
): Promise<unknown> {
  const type = req.headers.get("content-type")?.toLowerCase() ?? "";
  // curl -d sends form encoding by default; anything else that is not JSON-ish is refused.
  if (type && !/json|text\/plain|application\/x-www-form-urlencoded/.test(type)) {
    throw new ProxyError(
      415,
      "invalid_request_error",
      `unsupported content-type "${type}": send application/json`,
    );
  }
  const text = await readBody(req, limits.maxRequestBytes, limits.requestTimeoutMs);
  if (text.trim() === "") throw invalidRequest("request body is empty: expected a JSON object");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof SyntaxError ? err.message : "parse error";
    throw invalidRequest(`request body is not valid JSON: ${detail}`);
  }
  // Validation, conversion, the serializer's memo and token counting all recurse; without a
  // fixed limit a deep body got a 200 or a 400 depending on the runtime's stack and on what
  // earlier requests had left in the memo. (~6 µs for a 75 KB Claude Code body.)
  if (exceedsDepth(value, MAX_BODY_DEPTH)) {
    throw invalidRequest(`request body is nested more than ${MAX_BODY_DEPTH} levels deep`);
  }
  return value;
}
