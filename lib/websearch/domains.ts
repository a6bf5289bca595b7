/**
 * allowed_domains / blocked_domains of the web tools. An entry is a host, optionally with a path
 * (`example.com`, `docs.example.com/api`), without a scheme; it covers its subdomains, as
 * Anthropic documents: https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool#domain-filtering
 */

type DomainRule = { host: string; path: string };

function ruleOf(entry: string): DomainRule {
  const bare = entry.trim().toLowerCase().replace(/^[a-z]+:\/\//, "");
  const slash = bare.indexOf("/");
  const host = (slash < 0 ? bare : bare.slice(0, slash)).replace(/^\*\./, "").replace(/\.$/, "");
  const path = slash < 0 ? "" : bare.slice(slash).replace(/\/+$/, "");
  return { host, path };
}

function matches(url: URL, rule: DomainRule): boolean {
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host !== rule.host && !host.endsWith(`.${rule.host}`)) return false;
  if (rule.path === "") return true;
  const path = url.pathname.toLowerCase();
  return path === rule.path || path.startsWith(`${rule.path}/`);
}

export type DomainFilter = (url: string) => boolean;

/** Whether a URL may be used under the tool's domain lists; an unparsable URL may not. */
export function domainFilter(
  allowed: readonly string[] | undefined,
  blocked: readonly string[] | undefined,
): DomainFilter {
  const allow = allowed?.map(ruleOf);
  const block = blocked?.map(ruleOf) ?? [];
  return (raw) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return false;
    }
    if (allow && !allow.some((rule) => matches(url, rule))) return false;
    return !block.some((rule) => matches(url, rule));
  };
}

/**
 * The hosts to send a backend that filters by host itself. Allowed: every entry's host, as a path
 * only narrows what the host gives (the results are filtered by path afterwards). Blocked: only
 * entries without a path, as excluding `docs.example.com` for `docs.example.com/api` would drop
 * the rest of that host too; a path is left to the filter of the results.
 */
export function backendHosts(entries: readonly string[], list: "allowed" | "blocked"): string[] {
  const rules = entries.map(ruleOf).filter((r) => r.host !== "");
  const sent = list === "allowed" ? rules : rules.filter((r) => r.path === "");
  return [...new Set(sent.map((r) => r.host))];
}
