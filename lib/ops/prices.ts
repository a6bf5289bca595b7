/**
 * What a request cost: per-model prices in US dollars per million tokens. A small built-in
 * table of well-known models (from the providers' pricing pages: https://openai.com/api/pricing,
 * https://api-docs.deepseek.com/quick_start/pricing) that the configuration can extend or
 * override. A model without a price has no cost (undefined, shown as "—"), never 0.
 */

export type Price = Readonly<{
  /** Uncached input tokens. */
  input: number;
  output: number;
  /** Input tokens read from the provider's prompt cache; the input price when not listed. */
  cachedInput?: number;
}>;

export type PriceTable = Readonly<Record<string, Price>>;

const NO_OVERRIDES: PriceTable = Object.freeze({});

export const BUILT_IN_PRICES: PriceTable = Object.freeze({
  "gpt-5.4": { input: 2.5, cachedInput: 0.25, output: 15 },
  "gpt-5.4-mini": { input: 0.75, cachedInput: 0.075, output: 4.5 },
  "gpt-5.2": { input: 1.75, cachedInput: 0.175, output: 14 },
  "gpt-5": { input: 1.25, cachedInput: 0.125, output: 10 },
  "gpt-5-mini": { input: 0.25, cachedInput: 0.025, output: 2 },
  "gpt-5-nano": { input: 0.05, cachedInput: 0.005, output: 0.4 },
  "gpt-4.1": { input: 2, cachedInput: 0.5, output: 8 },
  "gpt-4.1-mini": { input: 0.4, cachedInput: 0.1, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, cachedInput: 0.025, output: 0.4 },
  "gpt-4o": { input: 2.5, cachedInput: 1.25, output: 10 },
  "gpt-4o-mini": { input: 0.15, cachedInput: 0.075, output: 0.6 },
  "o3": { input: 2, cachedInput: 0.5, output: 8 },
  "o4-mini": { input: 1.1, cachedInput: 0.275, output: 4.4 },
  "o3-mini": { input: 1.1, cachedInput: 0.55, output: 4.4 },
  "deepseek-chat": { input: 0.28, cachedInput: 0.028, output: 0.42 },
  "deepseek-reasoner": { input: 0.28, cachedInput: 0.028, output: 0.42 },
});

/** Dated snapshots (`gpt-4o-2024-08-06`, `o3-mini-20250131`) cost what their model costs. */
const DATE_SUFFIX = /-(?:\d{4}-\d{2}-\d{2}|\d{8})$/;

/**
 * The price of an upstream model: `overrides` first, then the built-in table; the name as
 * given, then without a router's vendor prefix (`openai/gpt-4o` on OpenRouter), then without a
 * date suffix.
 */
export function priceFor(model: string, overrides: PriceTable = NO_OVERRIDES): Price | undefined {
  let memo = MEMO.get(overrides);
  if (!memo) MEMO.set(overrides, memo = new Map());
  if (memo.has(model)) return memo.get(model);
  const price = lookup(model, overrides);
  // Model names come from the configuration, so the memo stays small; the cap is a safeguard.
  if (memo.size < 1_000) memo.set(model, price);
  return price;
}

/** Lookups by model name, per override table: a request pays for one Map read. */
const MEMO = new WeakMap<PriceTable, Map<string, Price | undefined>>();

function lookup(model: string, overrides: PriceTable): Price | undefined {
  const name = model.trim().toLowerCase();
  const bare = name.includes("/") ? name.slice(name.lastIndexOf("/") + 1) : name;
  for (const candidate of [name, bare, bare.replace(DATE_SUFFIX, "")]) {
    const price = overrides[candidate] ?? BUILT_IN_PRICES[candidate];
    if (price) return price;
  }
  return undefined;
}

export type TokenCounts = { input?: number; output?: number; cached?: number };

/** Cost in US dollars, or undefined when the model's price is unknown. */
export function costOf(price: Price | undefined, tokens: TokenCounts): number | undefined {
  if (!price) return undefined;
  const cached = price.cachedInput ?? price.input;
  return ((tokens.input ?? 0) * price.input + (tokens.output ?? 0) * price.output +
    (tokens.cached ?? 0) * cached) / 1_000_000;
}

/** The upstream model of a `provider/model` target (the model itself may contain slashes). */
export function modelOfTarget(target: string): string {
  const at = target.indexOf("/");
  return at >= 0 ? target.slice(at + 1) : target;
}

/** The provider of a `provider/model` target. */
export function providerOfTarget(target: string): string {
  const at = target.indexOf("/");
  return at > 0 ? target.slice(0, at) : "default";
}
