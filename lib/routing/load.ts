/**
 * The router for a configuration: the routing file's when one is named, else the variables'.
 * Used at start-up and on every reload; the provider health carries over between reloads.
 */
import type { Config } from "../ops/config.ts";
import { parseRoutingFile } from "./config_file.ts";
import { fileRouter } from "./file_router.ts";
import type { Health } from "./health.ts";
import { envRouter, type Router } from "./router.ts";

export type LoadedRouter = { router: Router; warnings: string[] };

/** `text`: the file's contents (undefined without a file). Throws a ConfigError. */
export function buildRouter(
  config: Config,
  text: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  health: Health,
): LoadedRouter {
  if (config.configFile === undefined || text === undefined) {
    return { router: envRouter(config), warnings: [] };
  }
  const { file, warnings } = parseRoutingFile(text, config.configFile, env);
  return { router: fileRouter(file, config.configFile, config, health), warnings };
}
