/**
 * Fake search APIs on 127.0.0.1 shaped like the real ones, and a few web pages for web_fetch.
 * Brave: GET /res/v1/web/search?q&count with X-Subscription-Token → {web: {results: [...]}}
 * (https://api-dashboard.search.brave.com/app/documentation/web-search/responses).
 * Tavily: POST /search, Bearer key, JSON {query, max_results, include_domains, exclude_domains}
 * → {query, results: [{title, url, content, score, published_date?}]}
 * (https://docs.tavily.com/documentation/api-reference/endpoint/search).
 * SearXNG: GET /search?q&format=json → {query, results: [{url, title, content, engine,
 * publishedDate?}]} (https://docs.searxng.org/dev/search_api.html).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type SearchFakeRequest = {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  // deno-lint-ignore no-explicit-any
  body: any;
  /** Resolves when the proxy's connection for this request closes. */
  closed: Promise<void>;
};

export type FakeHit = { title: string; url: string; snippet: string; age?: string };

/** What the fake answers a search with: hits, or a failure. */
export type SearchBehaviour =
  | { hits: FakeHit[] }
  | { status: number; body?: string }
  | { html: string }
  /** Never answers: the connection stays open until the proxy gives up on it. */
  | { stall: true };

export type Page = {
  status?: number;
  headers?: Record<string, string>;
  body: string | Uint8Array;
  /** Sent without a Content-Type. */
  untyped?: boolean;
};

export type SearchFake = {
  origin: string;
  requests: SearchFakeRequest[];
  /** Set what the next searches answer. */
  behave: (b: SearchBehaviour) => void;
  pages: Map<string, Page>;
  close: () => Promise<void>;
};

export const DEFAULT_HITS: FakeHit[] = [
  {
    title: "Deno 3.0 released",
    url: "https://deno.com/blog/v3.0",
    snippet: "Deno 3.0 ships a <strong>new</strong> package manager.",
    age: "2026-11-20T10:00:00",
  },
  {
    title: "Bun 2 notes",
    url: "https://bun.sh/blog/bun-v2",
    snippet: "Bun 2 adds a bundler cache.",
  },
  {
    title: "Node.js news",
    url: "https://nodejs.org/en/blog/release",
    snippet: "Node 26 is out.",
  },
];

function answer(
  kind: "brave" | "tavily" | "searxng",
  hits: FakeHit[],
  query: string,
) {
  switch (kind) {
    case "brave":
      return {
        type: "search",
        query: { original: query },
        web: {
          type: "search",
          results: hits.map((h) => ({
            type: "search_result",
            title: h.title,
            url: h.url,
            description: h.snippet,
            ...(h.age ? { page_age: h.age, age: "2 weeks ago" } : {}),
            meta_url: { hostname: new URL(h.url).hostname },
          })),
        },
      };
    case "tavily":
      return {
        query,
        answer: null,
        images: [],
        results: hits.map((h, i) => ({
          title: h.title,
          url: h.url,
          content: h.snippet.replace(/<[^>]*>/g, ""),
          score: 0.9 - i / 10,
          raw_content: null,
          ...(h.age ? { published_date: h.age } : {}),
        })),
        response_time: 0.5,
      };
    case "searxng":
      return {
        query,
        number_of_results: hits.length,
        results: hits.map((h) => ({
          url: h.url,
          title: h.title,
          content: h.snippet.replace(/<[^>]*>/g, ""),
          engine: "duckduckgo",
          engines: ["duckduckgo"],
          score: 1,
          category: "general",
          ...(h.age ? { publishedDate: h.age } : {}),
        })),
        answers: [],
        suggestions: [],
      };
  }
}

export async function startSearchFake(kind: "brave" | "tavily" | "searxng"): Promise<SearchFake> {
  const requests: SearchFakeRequest[] = [];
  let behaviour: SearchBehaviour = { hits: DEFAULT_HITS };
  const pages = new Map<string, Page>();
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const closed = new Promise<void>((resolve) => res.on("close", () => resolve()));
    requests.push({
      method: req.method ?? "",
      path: url.pathname,
      query: url.searchParams,
      headers,
      body,
      closed,
    });
    const page = pages.get(url.pathname);
    if (page) {
      res.writeHead(page.status ?? 200, {
        ...(page.untyped ? {} : { "content-type": "text/html" }),
        ...page.headers,
      });
      res.end(page.body);
      return;
    }
    const isSearch =
      (kind === "brave" && url.pathname === "/res/v1/web/search" && req.method === "GET") ||
      (kind === "tavily" && url.pathname === "/search" && req.method === "POST") ||
      (kind === "searxng" && url.pathname === "/search" && req.method === "GET");
    if (!isSearch) {
      res.writeHead(404).end();
      return;
    }
    const b = behaviour;
    if ("stall" in b) return;
    if ("status" in b) {
      res.writeHead(b.status, { "content-type": "application/json" });
      res.end(b.body ?? JSON.stringify({ error: "failure" }));
      return;
    }
    if ("html" in b) {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(b.html);
      return;
    }
    const query = kind === "tavily"
      ? String((body as { query?: unknown })?.query ?? "")
      : url.searchParams.get("q") ?? "";
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answer(kind, b.hits, query)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    behave: (b) => (behaviour = b),
    pages,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** The environment that points the proxy's search backend at a fake. */
export function searchEnv(
  kind: "brave" | "tavily" | "searxng",
  fake: SearchFake,
): Record<string, string> {
  switch (kind) {
    case "brave":
      return {
        SEARCH_PROVIDER: "brave",
        BRAVE_API_KEY: "brave-test-key-0123456789",
        SEARCH_BASE_URL: `${fake.origin}/res/v1`,
      };
    case "tavily":
      return {
        SEARCH_PROVIDER: "tavily",
        TAVILY_API_KEY: "tvly-test-key-0123456789",
        SEARCH_BASE_URL: fake.origin,
      };
    case "searxng":
      return { SEARCH_PROVIDER: "searxng", SEARXNG_URL: fake.origin };
  }
}
