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

/** The host part of each entry, for backends that filter by host themselves. */
export function domainHosts(entries: readonly string[]): string[] {
  return entries.map((e) => ruleOf(e).host).filter((h) => h !== "");
}
