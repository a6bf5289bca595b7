/**
 * `GET /v1/models` in Anthropic's list format (https://docs.anthropic.com/en/api/models-list):
 * the Claude names this proxy maps, then the upstream's own models, so model pickers and
 * validation in clients work.
 */
import type { Router } from "../routing/router.ts";
import { modelInfo, modelLimitFields } from "../upstreams/model_info.ts";
import { listingApi } from "../upstreams/api_choice.ts";
import { protocolFor } from "../upstreams/protocols.ts";
import type { Provider } from "../upstreams/provider.ts";
import type { RequestContext } from "./context.ts";
import { routableEntries, type RoutableEntry } from "./routable_models.ts";

/** One entry of the list; the routing file's names are listed in the same shape. */
type ModelEntry = RoutableEntry;

/**
 * The limits of the upstream model a name reaches, so that clients size their context to it
 * rather than to the Claude model they asked for.
 */
function limits(model: string, provider: Provider) {
  return modelLimitFields(modelInfo(model, provider), provider.maxTokensLimit);
}

/** Claude model names clients commonly ask for; each maps by family (see mapModel). */
const CLAUDE_ALIASES: [string, string][] = [
  ["claude-fable-5", "Claude Fable 5"],
  ["claude-opus-4-8", "Claude Opus 4.8"],
  ["claude-opus-4-1", "Claude Opus 4.1"],
  ["claude-sonnet-5", "Claude Sonnet 5"],
  ["claude-sonnet-4-6", "Claude Sonnet 4.6"],
  ["claude-sonnet-4-5", "Claude Sonnet 4.5"],
  ["claude-haiku-4-5", "Claude Haiku 4.5"],
];

const EPOCH = "2025-01-01T00:00:00Z";
// Claude Code's model discovery (CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY) gives up on the whole
// list after 3 s: a slow upstream list must not cost it the aliases, which need no upstream.
const UPSTREAM_LIST_TIMEOUT_MS = 2_000;

/**
 * Where a plain request for `id` goes (short, one user turn, no thinking, tools or images): the
 * routes it matches count, a `*haiku*` route for background calls say.
 */
function plainTarget(router: Router, id: string) {
  return router.route({ model: id, messages: [{ role: "user", content: "" }] }, () => 0).chain[0]!;
}

function aliasEntries(router: Router): ModelEntry[] {
  return CLAUDE_ALIASES.map(([id, name]) => {
    const target = plainTarget(router, id);
    return {
      type: "model",
      id,
      display_name: `${name} → ${target.model}`,
      created_at: EPOCH,
      ...limits(target.model, target.provider),
    };
  });
}

async function upstreamModels(ctx: RequestContext, signal: AbortSignal): Promise<ModelEntry[]> {
  const timeout = AbortSignal.timeout(UPSTREAM_LIST_TIMEOUT_MS);
  const controller = new AbortController();
  const stop = () => controller.abort();
  signal.addEventListener("abort", stop, { once: true });
  timeout.addEventListener("abort", stop, { once: true });
  try {
    // The default provider's models: those a plain model name reaches.
    const provider = ctx.router.providers[0]!;
    const list = protocolFor(listingApi(provider.api)).modelList(provider, provider.apiKey);
    const res = await ctx.fetch(list.url, {
      method: "GET",
      headers: list.headers,
      signal: controller.signal,
    });
    if (!res.ok) {
      await res.body?.cancel();
      return [];
    }
    return list.read(await res.json()).map((m) => ({
      type: "model",
      id: m.id,
      display_name: m.id,
      created_at: m.created === undefined ? EPOCH : new Date(m.created * 1000).toISOString(),
      ...limits(m.id, provider),
    }));
  } catch {
    // A provider without a models endpoint still gets the aliases.
    return [];
  } finally {
    signal.removeEventListener("abort", stop);
    timeout.removeEventListener("abort", stop);
  }
}

export async function listModels(req: Request, ctx: RequestContext): Promise<Response> {
  const url = new URL(req.url);
  const all: ModelEntry[] = [...aliasEntries(ctx.router)];
  const seen = new Set(all.map((m) => m.id));
  // A routing file names its models: those are the routable ones, no upstream list needed.
  const more = ctx.router.file
    ? routableEntries(ctx.router, EPOCH)
    : await upstreamModels(ctx, req.signal);
  for (const m of more) {
    if (!seen.has(m.id)) {
      seen.add(m.id);
      all.push(m);
    }
  }
  const limitParam = Number(url.searchParams.get("limit") ?? "");
  const limit = Number.isInteger(limitParam) && limitParam > 0 ? Math.min(limitParam, 1000) : 1000;
  const { start, end, hasMore } = pageBounds(
    all.map((m) => m.id),
    limit,
    url.searchParams.get("after_id"),
    url.searchParams.get("before_id"),
  );
  const data = all.slice(start, end);
  return new Response(
    JSON.stringify({
      data,
      has_more: hasMore,
      first_id: data[0]?.id ?? null,
      last_id: data[data.length - 1]?.id ?? null,
    }),
    { headers: { "content-type": "application/json" } },
  );
}

/**
 * The page `after_id` or `before_id` asks for (https://docs.anthropic.com/en/api/models-list):
 * `has_more` looks the way the client pages, and an id not in the list gives an empty last page,
 * where starting over would send the SDK's auto-pagination round for ever.
 */
function pageBounds(
  ids: readonly string[],
  limit: number,
  afterId: string | null,
  beforeId: string | null,
): { start: number; end: number; hasMore: boolean } {
  if (beforeId) {
    const end = ids.indexOf(beforeId);
    if (end < 0) return { start: 0, end: 0, hasMore: false };
    const start = Math.max(0, end - limit);
    return { start, end, hasMore: start > 0 };
  }
  const at = afterId ? ids.indexOf(afterId) : -1;
  if (afterId && at < 0) return { start: 0, end: 0, hasMore: false };
  const start = at + 1;
  return { start, end: start + limit, hasMore: start + limit < ids.length };
}

export function retrieveModel(id: string, ctx: RequestContext): Response {
  const entry: ModelEntry = aliasEntries(ctx.router).find((m) => m.id === id) ??
    routableEntries(ctx.router, EPOCH).find((m) => m.id === id) ?? (() => {
      // Any other name is what the router makes of it: a Claude name by family, others as given.
      const target = plainTarget(ctx.router, id);
      return {
        type: "model",
        id,
        display_name: id,
        created_at: EPOCH,
        ...limits(target.model, target.provider),
      } satisfies ModelEntry;
    })();
  return new Response(JSON.stringify(entry), { headers: { "content-type": "application/json" } });
}
