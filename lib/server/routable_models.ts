/**
 * The names a routing configuration file makes routable, for `GET /v1/models`: every
 * provider's `models` and every chain entry, as `provider/model`, with the context window
 * where it is known (`max_input_tokens`), so a client's model picker and its compaction see
 * what the upstream takes.
 */
import { CLAUDE_CODE_PREFIX } from "../routing/file_router.ts";
import type { Router } from "../routing/router.ts";
import { modelInfo, modelLimitFields } from "../upstreams/model_info.ts";

export type RoutableEntry = {
  type: "model";
  id: string;
  display_name: string;
  created_at: string;
  /** The upstream model's context window, where known. */
  max_input_tokens?: number;
  max_tokens: number;
};

export function routableEntries(router: Router, createdAt: string): RoutableEntry[] {
  const file = router.file;
  if (file === undefined) return [];
  const out: RoutableEntry[] = [];
  const seen = new Set<string>();
  const add = (provider: (typeof router.providers)[number], model: string) => {
    const id = `${provider.name}/${model}`;
    if (seen.has(id)) return;
    seen.add(id);
    const entry = {
      type: "model" as const,
      display_name: `${model} (${provider.name})`,
      created_at: createdAt,
      ...modelLimitFields(modelInfo(model, provider), provider.maxTokensLimit),
    };
    out.push({ id, ...entry });
    // The same name in the form Claude Code's /model menu shows (see CLAUDE_CODE_PREFIX).
    out.push({ id: `${CLAUDE_CODE_PREFIX}${id}`, ...entry });
  };
  for (const p of router.providers) for (const m of p.models) add(p, m);
  for (const chain of Object.values(file.tiers)) chain?.forEach((t) => add(t.provider, t.model));
  for (const r of file.routes) r.chain.forEach((t) => add(t.provider, t.model));
  return out;
}
