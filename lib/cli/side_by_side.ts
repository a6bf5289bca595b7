/** Two texts in two columns, for comparing answers in a terminal. */

/** Each line wrapped to `width` characters (at least one piece per line, empty ones kept). */
function wrap(lines: readonly string[], width: number): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const chars = Array.from(line);
    if (chars.length === 0) out.push("");
    for (let i = 0; i < chars.length; i += width) out.push(chars.slice(i, i + width).join(""));
  }
  return out;
}

export function sideBySide(
  leftTitle: string,
  left: readonly string[],
  rightTitle: string,
  right: readonly string[],
  totalWidth: number,
): string[] {
  const col = Math.max(20, Math.floor((totalWidth - 3) / 2));
  const pad = (s: string) => s + " ".repeat(Math.max(0, col - Array.from(s).length));
  const l = wrap([leftTitle, "-".repeat(Math.min(col, 40)), ...left], col);
  const r = wrap([rightTitle, "-".repeat(Math.min(col, 40)), ...right], col);
  const rows: string[] = [];
  for (let i = 0; i < Math.max(l.length, r.length); i++) {
    rows.push(`${pad(l[i] ?? "")} │ ${r[i] ?? ""}`.trimEnd());
  }
  return rows;
}
