/** zod issues → one readable sentence that names the wrong fields. */
import type { z } from "zod";

const MAX_ISSUES = 3;

export function formatZodError(error: z.ZodError): string {
  const parts = error.issues.slice(0, MAX_ISSUES).map((issue) => {
    const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join(
      "",
    )
      .replace(/^\./, "");
    return `${path || "body"}: ${issue.message}`;
  });
  const more = error.issues.length > MAX_ISSUES
    ? ` (and ${error.issues.length - MAX_ISSUES} more)`
    : "";
  return `invalid request: ${parts.join("; ")}${more}`;
}
