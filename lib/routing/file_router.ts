/**
 * A validated configuration file → its Router: providers, `routes`, `models` tiers, fallback
 * settings and the shared provider health (kept across reloads).
 */
import type { Config } from "../ops/config.ts";
import type { Provider } from "../upstreams/provider.ts";
import type { PriceTable } from "../ops/prices.ts";
import type { RoutingFile } from "./file_schema.ts";
import { fileProvider } from "./file_providers.ts";
import type { Health } from "./health.ts";
import type { FileRouting, RoutableRequest, Routed, Router, Target } from "./router.ts";
import { compileCondition } from "./rules.ts";
import { type ClaudeFamily, claudeFamily } from "./tiers.ts";

/**
 * Claude Code's `/model` menu shows only gateway models whose id starts with `claude` or
 * `anthropic` (its gateway discovery filters on /^(claude|anthropic)/i, seen in 2.1.197), so
 * /v1/models also lists each routable name under this prefix, and the router accepts it.
 */
export const CLAUDE_CODE_PREFIX = "anthropic/";

/** `provider/model` or `provider,model` → the provider and the model (which may hold `/`). */
export function splitExplicit(
  name: string,
  providers: ReadonlyMap<string, Provider>,
): Target | undefined {
  const cut = name.search(/[/,]/);
  if (cut <= 0 || cut === name.length - 1) return undefined;
  const provider = providers.get(name.slice(0, cut));
  return provider ? { provider, model: name.slice(cut + 1) } : undefined;
}

export function fileRouter(
  file: RoutingFile,
  source: string,
  config: Config,
  health: Health,
): Router {
  const byName = new Map<string, Provider>();
  for (const [name, entry] of Object.entries(file.providers)) {
    byName.set(name, fileProvider(name, entry, config));
  }
  const providers = Object.freeze([...byName.values()]);
  const first = providers[0]!;
  // Validated: every entry names a known provider (config_file.ts checkChains).
  const chainOf = (entries: readonly string[]): readonly Target[] =>
    Object.freeze(entries.map((e) => splitExplicit(e, byName)!));

  const tiers: Partial<Record<ClaudeFamily, readonly Target[]>> = {};
  for (const family of ["opus", "sonnet", "haiku"] as const) {
    const entries = file.models[family];
    if (entries) tiers[family] = chainOf(entries);
  }
  const routes = file.routes.map((r, i) => ({
    test: compileCondition(r.if),
    chain: chainOf(r.to),
    label: `routes[${i}]`,
    when: Object.entries(r.if).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" & "),
  }));
  const routing: FileRouting = Object.freeze({
    source,
    tiers: Object.freeze(tiers),
    routes: Object.freeze(routes),
    fallbackOn: new Set(file.fallback.on),
    breaker: Object.freeze({
      failuresToOpen: file.fallback.failures_to_open,
      cooldownMs: file.fallback.cooldown_s * 1000,
    }),
    health,
    prices: filePrices(file),
  });

  const byTier = (clientModel: string): Routed => {
    const family = claudeFamily(clientModel);
    const chain = family ? tiers[family] : undefined;
    if (chain) return { chain, via: `models.${family}` };
    return { chain: [{ provider: first, model: clientModel }], via: "default" };
  };
  const explicit = (clientModel: string): Routed | undefined => {
    const target = splitExplicit(clientModel, byName) ??
      (clientModel.startsWith(CLAUDE_CODE_PREFIX)
        ? splitExplicit(clientModel.slice(CLAUDE_CODE_PREFIX.length), byName)
        : undefined);
    return target ? { chain: [target], via: "explicit" } : undefined;
  };

  return Object.freeze({
    route(request: RoutableRequest, inputTokens: () => number): Routed {
      const named = explicit(request.model);
      if (named) return named;
      for (const r of routes) {
        if (r.test(request, inputTokens)) return { chain: r.chain, via: r.label };
      }
      return byTier(request.model);
    },
    routeName: (clientModel: string) => explicit(clientModel) ?? byTier(clientModel),
    providers,
    file: routing,
  });
}

/**
 * The file's `prices`, as the price table over the built-in one (dashboard, `usage`). Keyed in
 * lower case, as prices are looked up: model ids are matched in any case.
 */
export function filePrices(file: Pick<RoutingFile, "prices">): PriceTable {
  return Object.freeze(
    Object.fromEntries(
      Object.entries(file.prices).map(([model, p]) => [
        model.trim().toLowerCase(),
        Object.freeze({
          input: p.input,
          output: p.output,
          ...(p.cached_input !== undefined ? { cachedInput: p.cached_input } : {}),
        }),
      ]),
    ),
  );
}
