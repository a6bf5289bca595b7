/**
 * The URLs web_fetch may fetch: those that appear in the conversation (the user's messages, tool
 * results, the system prompt) or in the results of searches and fetches, never the model's own. As at
 * Anthropic, a model cannot make up a URL — one that carries data out in its query string, say.
 * https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-fetch-tool (URL validation)
 */

const URL_IN_TEXT = /https?:\/\/[^\s"'<>\\`]+/gi;
/** Punctuation that ends a sentence rather than the URL. */
const TRAILING = /[.,;:!?)\]}]+$/;

/** The comparable form of a URL: no fragment, no trailing slash; undefined if it is not one. */
export function urlKey(raw: string): string | undefined {
  try {
    const url = new URL(raw);
    url.hash = "";
    return url.href.replace(/\/+$/, "");
  } catch {
    return undefined;
  }
}

export class KnownUrls {
  #keys = new Set<string>();

  /** Adds every http(s) URL written in `text`. */
  addText(text: string): void {
    for (const match of text.matchAll(URL_IN_TEXT)) {
      this.add(match[0]);
      const trimmed = match[0].replace(TRAILING, "");
      if (trimmed !== match[0]) this.add(trimmed);
    }
  }

  add(url: string): void {
    const key = urlKey(url);
    if (key !== undefined) this.#keys.add(key);
  }

  has(url: string): boolean {
    const key = urlKey(url);
    return key !== undefined && this.#keys.has(key);
  }
}
