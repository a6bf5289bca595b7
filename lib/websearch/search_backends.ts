/**
 * One web search through the configured backend: its HTTP request, and its answer read into
 * search hits. Failures come back as the tool's documented error codes, never as exceptions.
 * Brave: https://api-dashboard.search.brave.com/app/documentation/web-search/get-started
 * Tavily: https://docs.tavily.com/documentation/api-reference/endpoint/search
 * SearXNG: https://docs.searxng.org/dev/search_api.html
 */
import { z } from "zod";
import type { SearchSettings } from "../ops/search_settings.ts";
import type { Fetch } from "../upstreams/transport.ts";
import { decodeEntities } from "./html_text.ts";
import type { SearchErrorCode, SearchHit } from "./results.ts";
import { backendHosts, domainFilter } from "./domains.ts";

export type SearchQuery = {
  query: string;
  allowedDomains: readonly string[] | undefined;
  blockedDomains: readonly string[] | undefined;
};

export type SearchAnswer =
  | { ok: true; hits: SearchHit[] }
  | { ok: false; error: SearchErrorCode; detail: string };

type HttpRequest = { url: string; init: RequestInit };

const text = z.string().nullish().transform((v) => v ?? "");

/** `site:` operators, which Brave and most SearXNG engines understand. */
function siteOperators(q: SearchQuery): string {
  if (q.allowedDomains) {
    const sites = backendHosts(q.allowedDomains, "allowed").map((h) => `site:${h}`);
    if (sites.length <= 1) return sites.map((site) => ` ${site}`).join("");
    return ` (${sites.join(" OR ")})`;
  }
  if (q.blockedDomains) {
    return backendHosts(q.blockedDomains, "blocked").map((h) => ` -site:${h}`).join("");
  }
  return "";
}

const BraveAnswer = z.object({
  web: z.object({
    results: z.array(z.object({
      title: text,
      url: z.string(),
      description: text,
      page_age: z.string().nullish(),
      age: z.string().nullish(),
    })).default([]),
  }).nullish(),
});

const TavilyAnswer = z.object({
  results: z.array(z.object({
    title: text,
    url: z.string(),
    content: text,
    published_date: z.string().nullish(),
  })).default([]),
});

const SearxngAnswer = z.object({
  results: z.array(z.object({
    title: text,
    url: z.string(),
    content: text,
    publishedDate: z.string().nullish(),
  })).default([]),
});

/** Brave marks query words in titles and snippets with <strong>. */
const plain = (s: string) => decodeEntities(s.replace(/<[^>]*>/g, "")).trim();

function request(settings: SearchSettings, q: SearchQuery): HttpRequest {
  const count = settings.maxResults;
  switch (settings.backend) {
    case "brave": {
      const params = new URLSearchParams({ q: q.query + siteOperators(q), count: String(count) });
      return {
        url: `${settings.baseUrl}/web/search?${params}`,
        init: {
          method: "GET",
          headers: {
            accept: "application/json",
            "x-subscription-token": settings.apiKey ?? "",
          },
        },
      };
    }
    case "tavily": {
      const body: Record<string, unknown> = { query: q.query, max_results: count };
      const include = backendHosts(q.allowedDomains ?? [], "allowed");
      const exclude = backendHosts(q.blockedDomains ?? [], "blocked");
      if (include.length > 0) body.include_domains = include;
      if (exclude.length > 0) body.exclude_domains = exclude;
      return {
        url: `${settings.baseUrl}/search`,
        init: {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${settings.apiKey ?? ""}`,
          },
          body: JSON.stringify(body),
        },
      };
    }
    case "searxng": {
      const params = new URLSearchParams({ q: q.query + siteOperators(q), format: "json" });
      return {
        url: `${settings.baseUrl}/search?${params}`,
        init: { method: "GET", headers: { accept: "application/json" } },
      };
    }
  }
}

function hitsOf(settings: SearchSettings, json: unknown): SearchHit[] | undefined {
  switch (settings.backend) {
    case "brave": {
      const parsed = BraveAnswer.safeParse(json);
      if (!parsed.success) return undefined;
      return (parsed.data.web?.results ?? []).map((r) => ({
        title: plain(r.title),
        url: r.url,
        snippet: plain(r.description),
        pageAge: r.page_age ?? r.age ?? null,
      }));
    }
    case "tavily": {
      const parsed = TavilyAnswer.safeParse(json);
      if (!parsed.success) return undefined;
      return parsed.data.results.map((r) => ({
        title: r.title.trim(),
        url: r.url,
        snippet: r.content.trim(),
        pageAge: r.published_date ?? null,
      }));
    }
    case "searxng": {
      const parsed = SearxngAnswer.safeParse(json);
      if (!parsed.success) return undefined;
      return parsed.data.results.map((r) => ({
        title: plain(r.title),
        url: r.url,
        snippet: plain(r.content),
        pageAge: r.publishedDate ?? null,
      }));
    }
  }
}

/** Runs one search. `signal` is the client's: a client that leaves ends the search. */
export async function webSearch(
  settings: SearchSettings,
  q: SearchQuery,
  fetch: Fetch,
  signal: AbortSignal,
): Promise<SearchAnswer> {
  const { url, init } = request(settings, q);
  const deadline = AbortSignal.timeout(settings.timeoutMs);
  const both = AbortSignal.any([signal, deadline]);
  let status: number;
  let body: string;
  try {
    const res = await fetch(url, { ...init, signal: both });
    status = res.status;
    body = await res.text();
  } catch (err) {
    const why = deadline.aborted
      ? `no answer within ${settings.timeoutMs / 1000}s`
      : err instanceof Error
      ? err.message
      : String(err);
    return { ok: false, error: "unavailable", detail: `${settings.backend}: ${why}` };
  }
  if (status === 429 || (settings.backend === "tavily" && (status === 432 || status === 433))) {
    // Tavily answers 432/433 for plan and pay-as-you-go limits.
    return { ok: false, error: "too_many_requests", detail: `${settings.backend}: HTTP ${status}` };
  }
  if (status < 200 || status >= 300) {
    return { ok: false, error: "unavailable", detail: `${settings.backend}: HTTP ${status}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    // SearXNG answers HTML unless `json` is among its settings' search.formats.
    return {
      ok: false,
      error: "unavailable",
      detail: `${settings.backend}: the answer is not JSON` +
        (settings.backend === "searxng" ? " (enable the json format in its settings.yml)" : ""),
    };
  }
  const hits = hitsOf(settings, json);
  if (hits === undefined) {
    return { ok: false, error: "unavailable", detail: `${settings.backend}: unexpected answer` };
  }
  const allowed = domainFilter(q.allowedDomains, q.blockedDomains);
  const seen = new Set<string>();
  const kept = hits.filter((h) => {
    if (!/^https?:\/\//i.test(h.url) || !allowed(h.url) || seen.has(h.url)) return false;
    seen.add(h.url);
    return true;
  });
  return { ok: true, hits: kept.slice(0, settings.maxResults) };
}
