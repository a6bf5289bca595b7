/**
 * Cloudflare Workers entry (wrangler.jsonc points here): the same handler as main.ts, configured
 * from the Worker's variables and secrets. No `.env` file, no listening address and no
 * shutdown grace: the platform owns those.
 */
import { consoleByLevel } from "../ops/log.ts";
import { lazyFetch, stringVars } from "./fetch_entry.ts";

export default {
  fetch: lazyFetch((env: Readonly<Record<string, unknown>>) => stringVars(env), consoleByLevel),
};
