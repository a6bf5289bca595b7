/**
 * Small process helpers the benchmark scripts share: finding Deno and Bun, a free port on
 * 127.0.0.1, running a command for its output, waiting.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import process from "node:process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export function tryExec(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, {
      encoding: "utf8",
      timeout: 15_000,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .trim();
  } catch {
    return undefined;
  }
}

/** Prefers an explicit override, then the repo's pinned tools, then PATH. */
export function findTool(name: "bun" | "deno"): string | undefined {
  const override = process.env[`${name.toUpperCase()}_BIN`];
  if (override && existsSync(override)) return override;
  const local = join(REPO, ".tools", "node_modules", ".bin", name);
  if (existsSync(local)) return local;
  return tryExec("which", [name]) || undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The client key every benchmarked proxy requires (the one load.ts sends by default). */
export const CLIENT_KEY = "bench-key";

/**
 * The settings every benchmarked proxy runs with: the fake upstream, a client key (as in a real
 * deployment; load.ts sends it), and logs only for errors.
 */
export function proxyEnv(upstream: string, port: number): Record<string, string> {
  return {
    OPENAI_API_KEY: "bench-upstream-key",
    OPENAI_BASE_URL: `${upstream}/v1`,
    ANTHROPIC_API_KEY: CLIENT_KEY,
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "ERROR",
    BIG_MODEL: "gpt-4o",
    MIDDLE_MODEL: "gpt-4o",
    SMALL_MODEL: "gpt-4o-mini",
  };
}
