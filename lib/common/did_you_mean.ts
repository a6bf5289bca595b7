/** The known name a mistyped one was most likely meant to be, for "did you mean" hints. */

/**
 * The fewest insertions, deletions, substitutions and swaps of two neighbours from a to b
 * (optimal string alignment). A swap counts as one edit: it is the commonest typo (`opsu`,
 * `sapre`), and as two it would be too far for a short name to get a hint.
 */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        prev[j]! + 1,
        row[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, before[j - 2]! + 1);
      }
    }
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** The nearest of `known` within a few edits (fewer for short names), or undefined. */
export function didYouMean(input: string, known: Iterable<string>): string | undefined {
  const lower = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.min(4, Math.max(1, Math.floor(input.length / 3)) + 1);
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}
