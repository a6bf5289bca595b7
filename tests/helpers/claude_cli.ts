/**
 * Launches the real Claude Code CLI (headless, `-p`) against a given Anthropic base URL.
 *
 * Uses node:child_process so the same helper runs under `deno test -A` and `bun test`.
 * Every run gets a fresh HOME (no login state, no settings, no history leaks between tests)
 * and a from-scratch environment, so the developer's own ANTHROPIC_* variables, proxies or
 * config never reach the child.
 *
 * Which CLI runs: CLAUDE_BIN, else .tools' copy. CI sets CLAUDE_BIN to the newest release it
 * pins, then runs the CLI tests once more with CLAUDE_BIN pointing at the older one (.ci/run).
 *
 * What the CLI (2.1.197) does in this mode, observed against a recording server:
 * - `HEAD /` preconnect (status ignored; skipped when a proxy is configured), then
 *   `POST /v1/messages?beta=true`, always streamed first. A stream the CLI cannot use (no
 *   `event:` lines, an `event: error`, or EOF before the blocks and message_delta are done) is
 *   re-sent once without `stream` unless CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK=1.
 * - An HTTP error ends the run with exit code 1, `is_error: true`, `api_error_status` and
 *   `result: "API Error: <status> <message>"`. 401, 429, 5xx, 529 and header timeouts are
 *   retried CLAUDE_CODE_MAX_RETRIES times (default 10, about three minutes of backoff), hence
 *   the 0 below; `x-should-retry: false|true` on the response overrides that per status.
 * - Title generation (an extra tool-less request with a JSON-schema output format, on the main
 *   model unless ANTHROPIC_SMALL_FAST_MODEL is set) only happens when non-essential traffic is
 *   allowed: `env: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: undefined }` turns it on.
 *
 * What 2.1.332 does differently (tests/fixtures/record_claude_code.ts, docs/claude-code.md):
 * - No title request in `-p` mode. Requests carry `thinking: {type: "adaptive"}`,
 *   `output_config.effort`, `context_management` and a placeholder tool with `defer_loading`.
 * - Without a proxy configured, the warm-up is `HEAD /api/hello` instead of `HEAD /`.
 * - An upstream 400 on the first turn is re-sent a few times (with and without deferred tools)
 *   before the CLI reports it; still streamed, never as the non-streaming fallback.
 * - A "prompt is too long" 400 makes it compact the conversation and carry on.
 */
import { Buffer } from "node:buffer";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The CLI to run: CLAUDE_BIN, else the copy installed under .tools, else none (tests skip). */
export function claudeBinary(): string | undefined {
  const fromEnv = process.env.CLAUDE_BIN?.trim();
  if (fromEnv) return fromEnv;
  const local = join(REPO_ROOT, ".tools", "node_modules", ".bin", "claude");
  return existsSync(local) ? local : undefined;
}

/** The CLI's version as [major, minor, patch], or undefined when there is no CLI. */
export function claudeVersion(): [number, number, number] | undefined {
  const bin = claudeBinary();
  if (bin === undefined) return undefined;
  const out = execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 30_000 });
  const m = out.match(/(\d+)\.(\d+)\.(\d+)/);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Whether the CLI is this version or older (false when there is none). */
export function claudeAtMost(version: string): boolean {
  const have = claudeVersion();
  if (have === undefined) return false;
  const want = version.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = have[i]! - (want[i] ?? 0);
    if (d !== 0) return d < 0;
  }
  return true;
}

/** A fresh directory under the OS temp dir; the caller removes it. */
export function makeTempDir(prefix = "claude-e2e-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export type RunClaudeOptions = {
  /** Anthropic base URL without `/v1` (the CLI appends `/v1/messages`). */
  baseUrl: string;
  /** Sent as `x-api-key`. Defaults to "test-key" when neither this nor authToken is given. */
  apiKey?: string;
  /** Sent as `authorization: Bearer …`; with apiKey too, the CLI sends both headers. */
  authToken?: string;
  prompt: string;
  /** Working directory for the CLI and its tools; a fresh temp dir when omitted. */
  cwd?: string;
  /** `--model`: aliases (opus, sonnet, haiku) or any name, passed through verbatim. */
  model?: string;
  extraArgs?: string[];
  /** Merged over the defaults; `undefined` removes a default variable. */
  env?: Record<string, string | undefined>;
  /** Hard limit for the whole run; the child is killed when it expires. Default 90 s. */
  timeoutMs?: number;
};

export type RunClaudeResult = {
  /** Exit code; null when the child died from a signal (including our timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (the `--output-format json` result object), or undefined. */
  json: unknown;
  cwd: string;
  timedOut: boolean;
};

/** The fields of the CLI's `--output-format json` result that tests look at. */
export type ClaudeJsonResult = {
  type: string;
  subtype?: string;
  is_error: boolean;
  result?: string;
  api_error_status?: number | null;
  num_turns?: number;
  stop_reason?: string | null;
};

export function asClaudeResult(json: unknown): ClaudeJsonResult | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return undefined;
  const r = json as Record<string, unknown>;
  if (r.type !== "result" || typeof r.is_error !== "boolean") return undefined;
  return r as ClaudeJsonResult;
}

const DEFAULT_TIMEOUT_MS = 90_000;

/** Port 9 (discard) on loopback: nothing listens, so a proxied connection fails at once. */
const DEAD_PROXY = "http://127.0.0.1:9";

function baseEnv(home: string, baseUrl: string): Record<string, string | undefined> {
  const noProxy = ["127.0.0.1", "localhost", "::1"];
  try {
    noProxy.push(new URL(baseUrl).hostname);
  } catch {
    // the CLI reports a bad base URL itself
  }
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    TMPDIR: tmpdir(),
    // The CLI keeps per-project task dirs under $TMPDIR/claude-<uid>; inside HOME they are
    // removed with it instead of piling up in /tmp.
    CLAUDE_CODE_TMPDIR: join(home, "tmp"),
    TERM: "dumb",
    NO_COLOR: "1",
    // --dangerously-skip-permissions refuses to run as root unless the CLI believes it is
    // sandboxed; CI containers usually run as root.
    IS_SANDBOX: "1",
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
    DISABLE_AUTOUPDATER: "1",
    // Without it the CLI also calls api.anthropic.com and adds a title-generation request
    // that most tests would have to script.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    // Errors should surface at once: the default is 10 retries with backoff up to ~40 s.
    CLAUDE_CODE_MAX_RETRIES: "0",
    // Bounds the wait for response headers only (a stalled stream is not covered by it).
    API_TIMEOUT_MS: "60000",
    // Everything except the base URL goes to a dead proxy, so a test that re-enables
    // non-essential traffic still never reaches api.anthropic.com from CI.
    HTTPS_PROXY: DEAD_PROXY,
    HTTP_PROXY: DEAD_PROXY,
    NO_PROXY: noProxy.join(","),
  };
}

function parseJson(stdout: string): unknown {
  const text = stdout.trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // Some versions print warnings before the result; the result is the last line.
    const last = text.split("\n").filter((l) => l.trim() !== "").pop() ?? "";
    try {
      return JSON.parse(last);
    } catch {
      return undefined;
    }
  }
}

function killTree(pid: number): void {
  // The child leads its own process group (detached), so tool subprocesses die with it.
  try {
    process.kill(-pid, "SIGKILL");
    return;
  } catch {
    // no group (runtime without setsid support): fall back to the child alone
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export async function runClaude(opts: RunClaudeOptions): Promise<RunClaudeResult> {
  const bin = claudeBinary();
  if (bin === undefined) {
    throw new Error("Claude Code CLI not found: set CLAUDE_BIN or install it under .tools/");
  }
  const home = makeTempDir("claude-home-");
  const cwd = opts.cwd ?? makeTempDir("claude-cwd-");

  const merged: Record<string, string | undefined> = {
    ...baseEnv(home, opts.baseUrl),
    ANTHROPIC_BASE_URL: opts.baseUrl,
    ...(opts.apiKey !== undefined || opts.authToken === undefined
      ? { ANTHROPIC_API_KEY: opts.apiKey ?? "test-key" }
      : {}),
    ...(opts.authToken !== undefined ? { ANTHROPIC_AUTH_TOKEN: opts.authToken } : {}),
    ...opts.env,
  };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) env[k] = v;

  const args = [
    "-p",
    opts.prompt,
    "--output-format",
    "json",
    "--dangerously-skip-permissions",
    ...(opts.model !== undefined ? ["--model", opts.model] : []),
    ...(opts.extraArgs ?? []),
  ];

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    return await new Promise<RunClaudeResult>((resolvePromise, reject) => {
      const child = spawn(bin, args, {
        cwd,
        env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on("data", (c: Buffer) => out.push(c));
      child.stderr?.on("data", (c: Buffer) => err.push(c));
      let timedOut = false;
      let settled = false;
      let grace: ReturnType<typeof setTimeout> | undefined;
      const finish = (code: number | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(grace);
        const stdout = Buffer.concat(out).toString("utf8");
        const stderr = Buffer.concat(err).toString("utf8") +
          (timedOut ? `\n[runClaude] killed after ${timeoutMs} ms\n` : "");
        resolvePromise({ code, stdout, stderr, json: parseJson(stdout), cwd, timedOut });
      };
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid !== undefined) killTree(child.pid);
        // A grandchild outside the group could keep the pipes open and "close" never come.
        grace = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish(null);
        }, 5_000);
      }, timeoutMs);
      child.on("error", (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(grace);
        reject(e);
      });
      // "close" (not "exit") so that all output has been read.
      child.on("close", (code) => finish(code));
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
