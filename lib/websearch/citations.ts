/**
 * Citations for the model's text after a search: a result is cited where the text names its URL
 * or quotes a sentence of its snippet word for word, as a `web_search_result_location`
 * (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool#citations). Pure.
 */
import type { WebSearchCitation } from "../anthropic/schema.ts";
import { toBase64Url } from "../common/base64.ts";
import type { SearchHit } from "./results.ts";

/** Anthropic's cited_text is at most 150 characters. */
const MAX_CITED = 150;
/** Shorter sentences match by chance too easily to count as a quote. */
const MIN_QUOTE = 30;

const bareUrl = (url: string) => url.replace(/\/+$/, "");

/**
 * What may follow a URL the text names for it to be that URL and not a longer one that starts
 * the same (`…/a` in `…/about`, `…/deno` in `…/deno_std`): trailing slashes, then sentence
 * punctuation, then the end, a space, a closing bracket or quote, a fragment or a comma. A query
 * string is not allowed: `?q=…` may name another resource.
 */
const URL_END = /^\/*[.;:!?]*(?:$|[\s)\]}>"'`*|,#])/;

function namesUrl(text: string, url: string): boolean {
  const bare = bareUrl(url);
  if (bare === "") return false;
  for (let at = text.indexOf(bare); at >= 0; at = text.indexOf(bare, at + 1)) {
    if (URL_END.test(text.slice(at + bare.length))) return true;
  }
  return false;
}

function quotedSentence(text: string, snippet: string): string | undefined {
  for (const sentence of snippet.split(/(?<=[.!?])\s+/)) {
    const s = sentence.trim();
    if (s.length >= MIN_QUOTE && text.includes(s)) return s;
  }
  return undefined;
}

export function citationsFor(text: string, hits: readonly SearchHit[]): WebSearchCitation[] {
  const out: WebSearchCitation[] = [];
  const cited = new Set<string>();
  hits.forEach((hit, i) => {
    if (cited.has(hit.url)) return;
    const quote = quotedSentence(text, hit.snippet);
    if (quote === undefined && !namesUrl(text, hit.url)) return;
    cited.add(hit.url);
    out.push({
      type: "web_search_result_location",
      url: hit.url,
      title: hit.title,
      encrypted_index: toBase64Url(JSON.stringify({ result: i })),
      cited_text: (quote ?? hit.snippet).slice(0, MAX_CITED),
    });
  });
  return out;
}
