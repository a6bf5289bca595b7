/**
 * Which search backend runs the `web_search` server tool for a provider, and its limits. A plain
 * value: the environment (SEARCH_PROVIDER …) fills it for the default provider, and a config file
 * can give each provider its own.
 */

export const SEARCH_BACKENDS = ["brave", "tavily", "searxng"] as const;
export type SearchBackend = (typeof SEARCH_BACKENDS)[number];

/** Where each backend's API lives unless SEARCH_BASE_URL says otherwise. */
export const DEFAULT_SEARCH_URLS: Readonly<Record<Exclude<SearchBackend, "searxng">, string>> = {
  // https://api-dashboard.search.brave.com/app/documentation/web-search/get-started
  brave: "https://api.search.brave.com/res/v1",
  // https://docs.tavily.com/documentation/api-reference/endpoint/search
  tavily: "https://api.tavily.com",
};

export type SearchSettings = Readonly<{
  backend: SearchBackend;
  /** The backend's API root, without a trailing slash (SearXNG: the instance's root). */
  baseUrl: string;
  /** Brave's subscription token or Tavily's key; SearXNG needs none. */
  apiKey: string | undefined;
  /** One search or one page fetch, from request to last byte. */
  timeoutMs: number;
  /** Results asked for per search. */
  maxResults: number;
  /** Largest page body web_fetch reads; the rest is cut. */
  fetchMaxBytes: number;
}>;
