/**
 * Claude model names → upstream model names by family: the tiers of BIG_MODEL, MIDDLE_MODEL and
 * SMALL_MODEL, as in the Python proxy this replaces.
 */

/** The upstream model for each Claude family. */
export type Tiers = Readonly<{ bigModel: string; middleModel: string; smallModel: string }>;

/**
 * Claude family names map by substring, as in the Python proxy; anything else passes through.
 * Fable and Mythos are the tier above Opus: Claude Code 2.1 offers `--model fable` (sent as
 * `claude-fable-5`) and lets the model pick `fable` for a sub-agent, so they map with opus
 * instead of reaching the upstream as a name it cannot know.
 */
export function mapModel(clientModel: string, tiers: Tiers): string {
  const m = clientModel.toLowerCase();
  if (m.includes("opus") || m.includes("fable") || m.includes("mythos")) return tiers.bigModel;
  if (m.includes("sonnet")) return tiers.middleModel;
  if (m.includes("haiku")) return tiers.smallModel;
  return clientModel;
}
