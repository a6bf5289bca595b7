/**
 * The routing configuration file's text → a validated RoutingFile: JSON with comments and
 * trailing commas (jsonc-parser), `${VAR}` expanded from the environment, then checked with
 * zod and for chains that name unknown providers. Every error names its JSON path, and each
 * check runs whatever the others found, so that one run lists every mistake. Pure: the caller
 * reads the file and passes the variables.
 */
import { parse, type ParseError, printParseErrorCode } from "jsonc-parser";
import type { z } from "zod";
import { didYouMean } from "../common/did_you_mean.ts";
import { ConfigError } from "../ops/config.ts";
import { Prices, ProviderEntry, RouteCondition, RoutingFile } from "./file_schema.ts";

export type LoadedFile = { file: RoutingFile; warnings: string[] };

type Path = readonly PropertyKey[];

/** `providers.main.base_url`, `routes[0].if`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out === "" ? "(top level)" : out;
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** Keys whose values are secrets: they belong in variables, never in the file. */
const SECRET_KEYS = new Set(["api_key", "api_keys"]);

/** What a pass over the file found: every pass adds to the same lists. */
type Findings = { errors: string[]; warnings: string[]; reported: Set<string> };

/** `${VAR}` in every string, with errors for missing variables and warnings for literal keys. */
function expand(
  value: unknown,
  path: (string | number)[],
  env: Readonly<Record<string, string | undefined>>,
  found: Findings,
  secret: boolean,
): unknown {
  if (typeof value === "string") {
    if (secret && !value.includes("${")) {
      found.warnings.push(
        `${
          formatPath(path)
        } holds a key written in the config file; put it in a variable and write "\${NAME}"`,
      );
    }
    return value.replace(VAR, (_m, name: string) => {
      const v = env[name];
      if (v === undefined || v === "") {
        found.errors.push(`${formatPath(path)}: variable ${name} is not set`);
        found.reported.add(formatPath(path));
        return "";
      }
      return v;
    });
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => expand(v, [...path, i], env, found, secret));
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = expand(v, [...path, k], env, found, secret || SECRET_KEYS.has(k));
    }
    return out;
  }
  return value;
}

/** The keys allowed at a path, for the "did you mean" hint on an unknown key. */
function knownKeys(path: Path): string[] {
  const [a, , c, d] = path;
  if (path.length === 0) return Object.keys(RoutingFile.shape);
  if (a === "providers" && path.length === 2) return Object.keys(ProviderEntry.shape);
  if (a === "models" && path.length === 1) return ["opus", "sonnet", "haiku"];
  if (a === "routes" && path.length === 2) return ["if", "to"];
  if (a === "routes" && c === "if" && d === undefined) return Object.keys(RouteCondition.shape);
  if (a === "fallback" && path.length === 1) return ["on", "failures_to_open", "cooldown_s"];
  return [];
}

/**
 * One error per zod issue, but none at a path already reported (a variable not set); each
 * issue's path is reported from then on.
 */
function addIssues(error: z.ZodError, found: Findings): void {
  const lines = found.errors;
  for (const issue of error.issues) {
    if (covered(issue.path, found.reported)) continue;
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const hint = didYouMean(key, knownKeys(issue.path));
        lines.push(
          `${formatPath([...issue.path, key])}: unknown key${
            hint ? ` (did you mean "${hint}"?)` : ""
          }`,
        );
      }
    } else if (issue.code === "invalid_key") {
      // zod's own message ("Invalid key in record") hides why: the key schema's messages say it.
      lines.push(`${formatPath(issue.path)}: ${issue.issues.map((i) => i.message).join("; ")}`);
    } else lines.push(`${formatPath(issue.path)}: ${issue.message}`);
  }
  for (const issue of error.issues) {
    // An unknown key's issue sits on its parent, whose other entries are still worth checking.
    const paths = issue.code === "unrecognized_keys"
      ? issue.keys.map((k) => [...issue.path, k])
      : [issue.path];
    for (const path of paths) found.reported.add(formatPath(path));
  }
}

/** Whether `path` or a parent of it is among the `reported` ones. */
function covered(path: Path, reported: ReadonlySet<string>): boolean {
  for (let n = path.length; n > 0; n--) {
    if (reported.has(formatPath(path.slice(0, n)))) return true;
  }
  return false;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The chain entries of the file as written, with their paths: read from the unvalidated value
 * so that a chain naming an unknown provider is reported together with the schema's errors
 * elsewhere, not only once those are fixed. Entries that are not strings are zod's to report.
 */
function chainEntries(file: Record<string, unknown>): [string, Path][] {
  const out: [string, Path][] = [];
  const add = (chain: unknown, path: Path) => {
    if (typeof chain === "string") out.push([chain.trim(), path]);
    else if (Array.isArray(chain)) {
      chain.forEach((e, i) => {
        if (typeof e === "string") out.push([e.trim(), [...path, i]]);
      });
    }
  };
  if (isObject(file.models)) {
    // Only the tiers the schema knows: any other key is reported as unknown.
    for (const tier of ["opus", "sonnet", "haiku"]) add(file.models[tier], ["models", tier]);
  }
  if (Array.isArray(file.routes)) {
    file.routes.forEach((r, i) => {
      if (isObject(r)) add(r.to, ["routes", i, "to"]);
    });
  }
  return out;
}

/**
 * Every chain entry must be `provider/model` (or `provider,model`) with a known provider.
 * Checked when the providers section is an object with names, whatever else is wrong with it.
 */
function checkChains(file: unknown, found: Findings): void {
  if (!isObject(file) || !isObject(file.providers)) return;
  const names = Object.keys(file.providers);
  if (names.length === 0) return;
  const lines = found.errors;
  for (const [entry, path] of chainEntries(file)) {
    if (covered(path, found.reported)) continue;
    const cut = entry.search(/[/,]/);
    const provider = cut > 0 ? entry.slice(0, cut) : "";
    if (cut <= 0 || cut === entry.length - 1) {
      lines.push(`${formatPath(path)}: "${entry}" must be provider/model`);
    } else if (!names.includes(provider)) {
      const hint = didYouMean(provider, names);
      lines.push(
        `${formatPath(path)}: unknown provider "${provider}"${
          hint ? ` (did you mean "${hint}"?)` : ` (providers: ${names.join(", ")})`
        }`,
      );
    }
  }
}

/** Parses and validates the file's text; throws a ConfigError listing every problem. */
/**
 * Only the file's `prices`, for `usage`: they hold no variable, so the file is read without the
 * environment its providers need. Throws a ConfigError for a file that does not parse.
 */
export function parsePrices(text: string, source: string): z.infer<typeof Prices> {
  const parseErrors: ParseError[] = [];
  const raw: unknown = parse(text, parseErrors, { allowTrailingComma: true });
  const prices = (raw as { prices?: unknown } | null)?.prices;
  const parsed = Prices.safeParse(parseErrors.length > 0 ? null : prices);
  if (!parsed.success) throw new ConfigError(`invalid prices in config file ${source}`);
  return parsed.data;
}

export function parseRoutingFile(
  text: string,
  source: string,
  env: Readonly<Record<string, string | undefined>>,
): LoadedFile {
  const parseErrors: ParseError[] = [];
  const raw: unknown = parse(text, parseErrors, {
    allowTrailingComma: true,
    disallowComments: false,
  });
  if (parseErrors.length > 0) {
    const lines = parseErrors.slice(0, 5).map((e) =>
      `  ${lineAndColumn(text, e.offset)}: ${printParseErrorCode(e.error)}`
    );
    throw new ConfigError(`invalid config file ${source}:\n${lines.join("\n")}`);
  }
  // Paths already reported: a variable not set leaves "" there, which zod would refuse again.
  const found: Findings = { errors: [], warnings: [], reported: new Set() };
  const expanded = expand(raw, [], env, found, false);
  // Every pass runs whatever the others found, so that one run lists every mistake.
  const parsed = RoutingFile.safeParse(expanded);
  if (!parsed.success) addIssues(parsed.error, found);
  checkChains(expanded, found);
  if (found.errors.length > 0 || !parsed.success) {
    throw new ConfigError(
      `invalid config file ${source}:\n${found.errors.map((l) => `  ${l}`).join("\n")}`,
    );
  }
  return { file: parsed.data, warnings: found.warnings };
}
