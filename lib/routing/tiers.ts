/**
 * Claude model names → upstream model names by family: the tiers of BIG_MODEL, MIDDLE_MODEL and
 * SMALL_MODEL, as in the Python proxy this replaces (and the `models` tiers of a config file).
 */

/** The upstream model for each Claude family. */
export type Tiers = Readonly<{ bigModel: string; middleModel: string; smallModel: string }>;

export type ClaudeFamily = "opus" | "sonnet" | "haiku";

/**
 * Claude family names match by substring, as in the Python proxy. Fable and Mythos are the
 * tier above Opus: Claude Code 2.1 offers `--model fable` (sent as `claude-fable-5`) and lets
 * the model pick `fable` for a sub-agent, so they map with opus instead of reaching the
 * upstream as a name it cannot know.
 */
export function claudeFamily(clientModel: string): ClaudeFamily | undefined {
  const m = clientModel.toLowerCase();
  if (m.includes("opus") || m.includes("fable") || m.includes("mythos")) return "opus";
  if (m.includes("sonnet")) return "sonnet";
  if (m.includes("haiku")) return "haiku";
  return undefined;
}

/** Anything not of a Claude family passes through. */
export function mapModel(clientModel: string, tiers: Tiers): string {
  switch (claudeFamily(clientModel)) {
    case "opus":
      return tiers.bigModel;
    case "sonnet":
      return tiers.middleModel;
    case "haiku":
      return tiers.smallModel;
    case undefined:
      return clientModel;
  }
}
