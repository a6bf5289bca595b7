/** zod issues → one readable sentence that names the wrong fields. */
import type { z } from "zod";

const MAX_ISSUES = 3;

type Issue = z.core.$ZodIssue;

/**
 * A union (content as a string or blocks, a block of any type) reports only "Invalid input" at
 * its own path; the branch that got furthest names the field that is really wrong
 * (`messages[0].content[0].text`, not `messages[0].content`).
 */
function innermost(issue: Issue): { path: PropertyKey[]; message: string } {
  if (issue.code !== "invalid_union" || issue.errors.length === 0) {
    return { path: issue.path, message: issue.message };
  }
  let best: Issue | undefined;
  for (const branch of issue.errors) {
    for (const inner of branch) if (!best || inner.path.length > best.path.length) best = inner;
  }
  if (!best) return { path: issue.path, message: issue.message };
  if (best.path.length === 0) {
    // Every branch failed on the value itself: say which types would do.
    const expected = issue.errors.flatMap((branch) =>
      branch.flatMap((i) => (i.code === "invalid_type" && i.path.length === 0 ? [i.expected] : []))
    );
    if (expected.length === issue.errors.length) {
      return { path: issue.path, message: `Invalid input: expected ${expected.join(" or ")}` };
    }
  }
  const inner = innermost(best);
  return { path: [...issue.path, ...inner.path], message: inner.message };
}

export function formatZodError(error: z.ZodError, prefix = "invalid request: "): string {
  const parts = error.issues.slice(0, MAX_ISSUES).map((issue) => {
    const { path: at, message } = innermost(issue);
    const path = at.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")
      .replace(/^\./, "");
    return `${path || "body"}: ${message}`;
  });
  const more = error.issues.length > MAX_ISSUES
    ? ` (and ${error.issues.length - MAX_ISSUES} more)`
    : "";
  return `${prefix}${parts.join("; ")}${more}`;
}
