/**
 * `deno serve` and Deno Deploy entry: the same handler as main.ts, configured from the
 * environment (`deno serve --env-file` reads a `.env` into it). `deno serve` chooses the
 * address itself (`--host`, `--port`; 0.0.0.0:8000 by default), so HOST and PORT do not apply.
 */
import { ConfigError } from "../ops/config.ts";
import { lazyFetch, platformConfig, stringVars } from "./fetch_entry.ts";

const deno = (globalThis as unknown as {
  Deno: { env: { toObject(): Record<string, string> }; exit(code: number): never };
}).Deno;
const vars = stringVars(deno.env.toObject());
// The environment is known at start-up here: a bad setting stops `deno serve` at once, with
// one line, as main.ts says it.
try {
  platformConfig(vars);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`error: ${err.message}`);
  deno.exit(1);
}

export default { fetch: lazyFetch(() => vars) };
