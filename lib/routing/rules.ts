/**
 * The conditions of a `routes` entry, compiled once per configuration: each test reads only
 * what it needs of the request, and the input-token estimate is computed only when a rule
 * asks for it (and then once per request).
 */
import type { MessagesRequest } from "../anthropic/schema.ts";
import type { RouteCondition } from "./file_schema.ts";

/** What the routing conditions look at (a Messages or count_tokens request). */
export type RoutableRequest = Pick<
  MessagesRequest,
  "model" | "messages" | "tools" | "thinking" | "output_config"
>;

export type RequestTest = (req: RoutableRequest, inputTokens: () => number) => boolean;

/** Thinking enabled or adaptive (any mode but disabled), or an effort set. */
export function wantsThinking(req: RoutableRequest): boolean {
  const type = req.thinking?.type;
  return (type !== undefined && type !== "disabled") || req.output_config?.effort !== undefined;
}

/** Any image in the conversation, tool results included. */
export function hasImages(req: RoutableRequest): boolean {
  for (const m of req.messages) {
    if (typeof m.content === "string") continue;
    for (const b of m.content) {
      if (b.type === "image") return true;
      if (b.type === "tool_result" && Array.isArray(b.content)) {
        if (b.content.some((c) => c.type === "image")) return true;
      }
    }
  }
  return false;
}

/** `*` any run, `?` one character; whole name, any case. */
export function globTest(glob: string): (name: string) => boolean {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll(
    "?",
    ".",
  );
  const re = new RegExp(`^${source}$`, "i");
  return (name) => re.test(name);
}

/** All of a condition's tests (AND). */
export function compileCondition(cond: RouteCondition): RequestTest {
  const tests: RequestTest[] = [];
  if (cond.model !== undefined) {
    const test = globTest(cond.model);
    tests.push((req) => test(req.model));
  }
  if (cond.thinking !== undefined) {
    const want = cond.thinking;
    tests.push((req) => wantsThinking(req) === want);
  }
  if (cond.tools_include !== undefined) {
    const needle = cond.tools_include.toLowerCase();
    tests.push((req) =>
      (req.tools ?? []).some((t) =>
        t.name.toLowerCase().includes(needle) || (t.type ?? "").toLowerCase().includes(needle)
      )
    );
  }
  if (cond.images !== undefined) {
    const want = cond.images;
    tests.push((req) => hasImages(req) === want);
  }
  // Last: the only test that costs a pass over the whole conversation.
  if (cond.min_input_tokens !== undefined) {
    const min = cond.min_input_tokens;
    tests.push((_req, inputTokens) => inputTokens() >= min);
  }
  return (req, inputTokens) => tests.every((t) => t(req, inputTokens));
}
