/**
 * The routing configuration file's text → a validated RoutingFile: JSON with comments and
 * trailing commas (jsonc-parser), `${VAR}` expanded from the environment, then checked with
 * zod and for chains that name unknown providers. Every error names its JSON path. Pure: the
 * caller reads the file and passes the variables.
 */
import { parse, type ParseError, printParseErrorCode } from "jsonc-parser";
import type { z } from "zod";
import { didYouMean } from "../common/did_you_mean.ts";
import { ConfigError } from "../ops/config.ts";
import { ProviderEntry, RouteCondition, RoutingFile } from "./file_schema.ts";

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

/** `${VAR}` in every string, with errors for missing variables and warnings for literal keys. */
function expand(
  value: unknown,
  path: (string | number)[],
  env: Readonly<Record<string, string | undefined>>,
  errors: string[],
  warnings: string[],
  secret: boolean,
): unknown {
  if (typeof value === "string") {
    if (secret && !value.includes("${")) {
      warnings.push(
        `${
          formatPath(path)
        } holds a key written in the config file; put it in a variable and write "\${NAME}"`,
      );
    }
    return value.replace(VAR, (_m, name: string) => {
      const v = env[name];
      if (v === undefined || v === "") {
        errors.push(`${formatPath(path)}: variable ${name} is not set`);
        return "";
      }
      return v;
    });
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => expand(v, [...path, i], env, errors, warnings, secret));
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = expand(v, [...path, k], env, errors, warnings, secret || SECRET_KEYS.has(k));
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

function issueLines(error: z.ZodError): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const hint = didYouMean(key, knownKeys(issue.path));
        lines.push(
          `${formatPath([...issue.path, key])}: unknown key${
            hint ? ` (did you mean "${hint}"?)` : ""
          }`,
        );
      }
    } else lines.push(`${formatPath(issue.path)}: ${issue.message}`);
  }
  return lines;
}

/** Every chain entry must be `provider/model` (or `provider,model`) with a known provider. */
function checkChains(file: RoutingFile): string[] {
  const names = Object.keys(file.providers);
  const lines: string[] = [];
  const check = (entry: string, path: Path) => {
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
  };
  for (const [tier, chain] of Object.entries(file.models)) {
    chain?.forEach((e, i) => check(e, ["models", tier, i]));
  }
  file.routes.forEach((r, i) => r.to.forEach((e, j) => check(e, ["routes", i, "to", j])));
  return lines;
}

/** Parses and validates the file's text; throws a ConfigError listing every problem. */
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
  const errors: string[] = [];
  const warnings: string[] = [];
  const expanded = expand(raw, [], env, errors, warnings, false);
  if (errors.length > 0) {
    throw new ConfigError(
      `invalid config file ${source}:\n${errors.map((l) => `  ${l}`).join("\n")}`,
    );
  }
  const parsed = RoutingFile.safeParse(expanded);
  if (!parsed.success) {
    const lines = issueLines(parsed.error);
    throw new ConfigError(
      `invalid config file ${source}:\n${lines.map((l) => `  ${l}`).join("\n")}`,
    );
  }
  const chainErrors = checkChains(parsed.data);
  if (chainErrors.length > 0) {
    throw new ConfigError(
      `invalid config file ${source}:\n${chainErrors.map((l) => `  ${l}`).join("\n")}`,
    );
  }
  return { file: parsed.data, warnings };
}
