/**
 * Proxy overhead benchmark: the proxy under Deno, under Bun and as a compiled binary, against
 * talking to the upstream directly (the physical limit of this machine and load generator).
 *
 *   deno task bench [options]        or        bun bench/run.ts [options]
 *
 * Options (defaults in brackets):
 *   --rounds N            repeat every target N times, interleaved (every other round in
 *                         reverse order); the table shows medians [1]
 *   --duration S          seconds of load per cell [3]
 *   --targets LIST        deno,bun,binary,minimal-deno,minimal-bun,direct [these six], and
 *                         deno-quiet,bun-quiet: the proxy with METRICS, DASHBOARD and USAGE_DB off
 *   --scenarios LIST      json,s50,s200,s50g20,s200g20,tool,cc [all]
 *   --concurrency LIST    [1,16,64]
 *   --json FILE           [bench/results/<timestamp>.json]
 *   --warmup S            mixed load before a target's first cell, not recorded [1.5]
 *   --timeout S           per request [30]
 *   --system-kb N         system prompt size of the "cc" request, in KiB of JSON [60]
 *   --max-requests N      per cell, a bound in count next to the bound in time [200000]
 *   --entry FILE          the proxy's entry point [main.ts]
 *   --binary FILE         the compiled proxy [dist/claude-code-proxy]; built if missing
 *   --rebuild             rebuild the binary even if it exists
 *   --proxy-env K=V       extra environment for the proxy (repeatable)
 *   --load-runtime R      bun or deno for the load generator [bun if found]
 *   --watch-dashboard     keep a dashboard's live feed open on every proxy with monitoring on
 *   --no-pin              do not use taskset
 *
 * The proxy's usage history goes to a temporary file, removed at the end (USAGE_DB in
 * --proxy-env overrides it). With deno-quiet or bun-quiet in --targets, a table gives what
 * monitoring costs: the proxy against itself with monitoring off.
 *
 * Nothing here asserts a timing: it measures and reports. Every child process is started here
 * and stopped by its PID.
 */
import process from "node:process";
import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { LoadResult } from "./load.ts";
import { isScenarioName, SCENARIO_NAMES, type ScenarioName, SCENARIOS } from "./scenarios.ts";
import { median } from "./stats.ts";
import { CLIENT_KEY, findTool, freePort, proxyEnv, sleep, tryExec } from "./procs.ts";
import { watchDashboard } from "./dashboard_watch.ts";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH_DIR, "..");
const TARGETS = [
  "deno",
  "bun",
  "binary",
  "minimal-deno",
  "minimal-bun",
  "direct",
  "deno-quiet",
  "bun-quiet",
] as const;
type Target = typeof TARGETS[number];
const DEFAULT_TARGETS: readonly Target[] = TARGETS.slice(0, 6);
/** The proxy with monitoring off: no metrics, no dashboard feed, no usage history. */
const QUIET: Partial<Record<Target, Target>> = { "deno-quiet": "deno", "bun-quiet": "bun" };
const MONITORING_OFF = { METRICS: "false", DASHBOARD: "false", USAGE_DB: "off" };
const MINIMAL_PROXY = join(BENCH_DIR, "minimal_proxy.ts");

/** The floor each proxy target is compared with: the minimal proxy on the same runtime. */
const BASELINE: Partial<Record<Target, Target>> = {
  deno: "minimal-deno",
  bun: "minimal-bun",
  binary: "minimal-bun",
};

/** Each proxy target against itself with monitoring off. */
const WITHOUT_MONITORING: Partial<Record<Target, Target>> = {
  deno: "deno-quiet",
  bun: "bun-quiet",
};

type Options = {
  rounds: number;
  durationS: number;
  targets: Target[];
  scenarios: ScenarioName[];
  concurrency: number[];
  json: string;
  warmupS: number;
  timeoutS: number;
  systemKb: number;
  maxRequests: number;
  entry: string;
  binary: string;
  rebuild: boolean;
  proxyEnv: Record<string, string>;
  loadRuntime: "bun" | "deno" | undefined;
  pin: boolean;
  watchDashboard: boolean;
  /** Where the proxies' usage history goes (a temporary directory, removed at the end). */
  tmpDir: string;
};

// ---------------------------------------------------------------------------------------------
// Options and environment.

const VALUE_OPTIONS = [
  "rounds",
  "duration",
  "targets",
  "scenarios",
  "concurrency",
  "json",
  "warmup",
  "timeout",
  "system-kb",
  "max-requests",
  "entry",
  "binary",
  "proxy-env",
  "load-runtime",
];

function parseOptions(argv: readonly string[]): Options {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const [key, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (["rebuild", "no-pin", "watch-dashboard", "help"].includes(key)) {
      flags.add(key);
      continue;
    }
    if (!VALUE_OPTIONS.includes(key)) throw new Error(`unknown option --${key} (see --help)`);
    const v = inline ?? argv[++i];
    if (v === undefined) throw new Error(`--${key} needs a value`);
    values.set(key, [...(values.get(key) ?? []), v]);
  }
  if (flags.has("help")) {
    const doc = readFileSync(fileURLToPath(import.meta.url), "utf8").split("*/")[0] ?? "";
    console.log(doc.replace(/^\/\*\*|^ \* ?/gm, ""));
    process.exit(0);
  }
  const one = (k: string) => values.get(k)?.at(-1);
  const num = (k: string, fallback: number, min: number): number => {
    const v = Number(one(k) ?? fallback);
    if (!Number.isFinite(v) || v < min) throw new Error(`--${k} must be a number >= ${min}`);
    return v;
  };
  const list = (k: string, fallback: readonly string[]) =>
    (one(k)?.split(",") ?? [...fallback]).map((s) => s.trim()).filter((s) => s !== "");
  const targets = list("targets", DEFAULT_TARGETS);
  for (const t of targets) {
    if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`unknown target ${t}`);
  }
  const scenarios = list("scenarios", SCENARIO_NAMES);
  for (const s of scenarios) if (!isScenarioName(s)) throw new Error(`unknown scenario ${s}`);
  const concurrency = list("concurrency", ["1", "16", "64"]).map(Number);
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1 || c > 1024)) {
    throw new Error("--concurrency takes integers from 1 to 1024");
  }
  const proxyEnv: Record<string, string> = {};
  for (const kv of values.get("proxy-env") ?? []) {
    const eq = kv.indexOf("=");
    if (eq < 1) throw new Error(`--proxy-env wants KEY=VALUE, got ${kv}`);
    proxyEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const loadRuntime = one("load-runtime");
  if (loadRuntime !== undefined && loadRuntime !== "bun" && loadRuntime !== "deno") {
    throw new Error("--load-runtime is bun or deno");
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return {
    rounds: Math.floor(num("rounds", 1, 1)),
    durationS: num("duration", 3, 0.1),
    targets: targets as Target[],
    scenarios: scenarios.filter(isScenarioName),
    concurrency,
    json: resolve(one("json") ?? join(BENCH_DIR, "results", `${stamp}.json`)),
    warmupS: num("warmup", 1.5, 0),
    timeoutS: num("timeout", 30, 1),
    systemKb: num("system-kb", 60, 0),
    maxRequests: Math.floor(num("max-requests", 200_000, 1)),
    entry: resolve(REPO, one("entry") ?? "main.ts"),
    binary: resolve(REPO, one("binary") ?? "dist/claude-code-proxy"),
    rebuild: flags.has("rebuild"),
    proxyEnv,
    loadRuntime,
    pin: !flags.has("no-pin"),
    watchDashboard: flags.has("watch-dashboard"),
    tmpDir: mkdtempSync(join(os.tmpdir(), "ccp-bench-")),
  };
}

/** CPU ids this process may run on (a container can restrict them to a non-zero range). */
function allowedCpus(): number[] {
  const out = tryExec("taskset", ["-cp", String(process.pid)]);
  const list = out?.split(":").at(-1)?.trim();
  if (!list) return [];
  const cpus: number[] = [];
  for (const part of list.split(",")) {
    const [a, b] = part.split("-").map(Number);
    if (a === undefined || !Number.isInteger(a)) continue;
    for (let c = a; c <= (b ?? a); c++) cpus.push(c);
  }
  return cpus;
}

type Pinning = { proxy?: number; upstream?: number; load?: number; note: string };

/**
 * The proxy gets a core of its own; the upstream and the load generator share another unless a
 * third exists. With one core nothing is pinned.
 */
function planPinning(pin: boolean): Pinning {
  if (!pin) return { note: "pinning disabled (--no-pin)" };
  if (!tryExec("which", ["taskset"])) return { note: "taskset not found, nothing pinned" };
  const cpus = allowedCpus();
  const [c0, c1, c2] = cpus;
  if (c0 === undefined || c1 === undefined) {
    return { note: `only ${cpus.length} CPU allowed, nothing pinned` };
  }
  const load = c2 ?? c0;
  return {
    proxy: c1,
    upstream: c0,
    load,
    note: `proxy on CPU ${c1}; upstream on CPU ${c0}; load generator on CPU ${load}`,
  };
}

function pinned(core: number | undefined, cmd: string, args: string[]): [string, string[]] {
  return core === undefined ? [cmd, args] : ["taskset", ["-c", String(core), cmd, ...args]];
}

// ---------------------------------------------------------------------------------------------
// Child processes, always addressed by PID.

type Proc = {
  name: string;
  child: ChildProcess;
  pid: number;
  tail: string;
  exitInfo: string | undefined;
  exited: Promise<void>;
  onLine: ((line: string) => void) | undefined;
};

const live = new Set<Proc>();

function start(
  name: string,
  cmd: string,
  args: string[],
  env: Record<string, string | undefined>,
): Proc {
  const child = spawn(cmd, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  let resolveExit = () => {};
  const proc: Proc = {
    name,
    child,
    pid: child.pid,
    tail: "",
    exitInfo: undefined,
    exited: new Promise<void>((r) => (resolveExit = r)),
    onLine: undefined,
  };
  let partial = "";
  // Output is drained continuously (a full pipe would stall the child) and only the tail kept.
  const keep = (d: Buffer | string) => {
    const s = d.toString();
    proc.tail = (proc.tail + s).slice(-6000);
    if (proc.onLine) {
      const lines = (partial + s).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) proc.onLine(l);
    }
  };
  child.stdout?.on("data", keep);
  child.stderr?.on(
    "data",
    (d: Buffer | string) => (proc.tail = (proc.tail + d.toString()).slice(-6000)),
  );
  child.on("error", (e) => {
    proc.exitInfo ??= `spawn error: ${e.message}`;
    live.delete(proc);
    resolveExit();
  });
  child.on("exit", (code, signal) => {
    proc.exitInfo ??= signal ? `killed by ${signal}` : `exit code ${code}`;
    live.delete(proc);
    resolveExit();
  });
  live.add(proc);
  return proc;
}

async function stop(proc: Proc): Promise<void> {
  if (proc.exitInfo !== undefined) return;
  const wait = (ms: number) =>
    Promise.race([proc.exited.then(() => true), sleep(ms).then(() => false)]);
  try {
    process.kill(proc.pid, "SIGTERM");
  } catch {
    return;
  }
  if (await wait(5000)) return;
  try {
    process.kill(proc.pid, "SIGKILL");
  } catch {
    return;
  }
  await wait(2000);
}

function killAllNow(): void {
  for (const p of live) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function waitHealthy(
  url: string,
  proc: Proc,
  timeoutMs: number,
): Promise<string | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (proc.exitInfo !== undefined) {
      return `${proc.name} ${proc.exitInfo}: ${proc.tail.trim().slice(-1500)}`;
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return undefined;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return `${proc.name}: /health not ready after ${timeoutMs} ms; output: ${
    proc.tail.trim().slice(-1500)
  }`;
}

// ---------------------------------------------------------------------------------------------
// /proc sampling.

let clkTck = 100;

/** utime + stime of the whole process (all threads), in ms. */
function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces and parentheses; fields resume after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clkTck;
  } catch {
    return undefined;
  }
}

function memKb(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (k: string) =>
      Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
    return { rss: field("VmRSS"), hwm: field("VmHWM") };
  } catch {
    return undefined;
  }
}

/** CPU time all CPUs spent busy (not idle or waiting for I/O), from /proc/stat, in ms. */
function machineBusyMs(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return ((total - (f[3] ?? 0) - (f[4] ?? 0)) * 1000) / clkTck;
  } catch {
    return undefined;
  }
}

class RssSampler {
  peakKb = 0;
  private timer: ReturnType<typeof setInterval>;
  constructor(pid: number) {
    const sample = () => {
      const m = memKb(pid);
      if (m && m.rss > this.peakKb) this.peakKb = m.rss;
    };
    sample();
    this.timer = setInterval(sample, 50);
  }
  stop(): number {
    clearInterval(this.timer);
    return this.peakKb;
  }
}

// ---------------------------------------------------------------------------------------------
// Running cells.

type UpstreamStats = Record<string, number>;

async function upstreamStats(url: string): Promise<UpstreamStats | undefined> {
  try {
    const raw: unknown = await (await fetch(`${url}/stats`, { signal: AbortSignal.timeout(2000) }))
      .json();
    if (typeof raw !== "object" || raw === null) return undefined;
    const out: UpstreamStats = {};
    for (const [k, v] of Object.entries(raw)) if (typeof v === "number") out[k] = v;
    return out;
  } catch {
    return undefined;
  }
}

function diffStats(
  a: UpstreamStats | undefined,
  b: UpstreamStats | undefined,
): UpstreamStats | null {
  if (!a || !b) return null;
  const out: UpstreamStats = {};
  for (
    const k of [
      "requests",
      "badRequests",
      "notFound",
      "missingIncludeUsage",
      "streamMismatch",
      "cancelled",
    ]
  ) {
    out[k] = (b[k] ?? 0) - (a[k] ?? 0);
  }
  out.maxInFlightSoFar = b.maxInFlight ?? 0;
  return out;
}

type Cell = {
  round: number;
  target: Target;
  scenario: ScenarioName;
  concurrency: number;
  load: LoadResult | null;
  loadError: string | undefined;
  proxyCpuMs: number | null;
  proxyCpuMsPerReq: number | null;
  /**
   * Share of one core each process used during the window: a proxy near 100 % is the
   * bottleneck; upstream + client near 100 % means their shared core is.
   */
  cpuShare: {
    proxy: number | null;
    upstream: number | null;
    client: number | null;
    /** Everything else on the machine (other jobs, the kernel's softirqs); noise when high. */
    others: number | null;
  };
  proxyRssPeakKb: number | null;
  proxyVmHwmKb: number | null;
  upstreamCpuMsPerReq: number | null;
  /** Upstream requests seen minus requests the client made; non-zero means retries or drops. */
  upstreamExtraRequests: number | null;
  upstream: UpstreamStats | null;
  /** With --watch-dashboard: request events the dashboard's live feed delivered in the cell. */
  dashboardEvents: number | null;
};

type TargetRun = {
  round: number;
  target: Target;
  command: string;
  startError: string | undefined;
  startupMs: number | null;
  idleRssKb: number | null;
  vmHwmKb: number | null;
  warmup: { requests: number; errors: number; invalid: number; samples: string[] } | null;
  exitInfo: string | undefined;
  logTail: string | undefined;
};

type Ctx = {
  o: Options;
  pins: Pinning;
  upstreamUrl: string;
  upstream: Proc;
  loadCmd: [string, string[]];
};

/** Runs load.ts once; CPU is read when it reports the start and end of its measured window. */
async function runLoad(
  ctx: Ctx,
  url: string,
  api: "anthropic" | "openai",
  scenarios: string,
  concurrency: number,
  durationS: number,
  proxyPid: number | undefined,
): Promise<
  {
    result: LoadResult | null;
    error: string | undefined;
    cpuMs: number | null;
    upCpuMs: number | null;
    machineBusyMs: number | null;
  }
> {
  const out = join(
    os.tmpdir(),
    `bench-load-${process.pid}-${Math.random().toString(36).slice(2)}.json`,
  );
  const [cmd, base] = ctx.loadCmd;
  const args = [
    ...base,
    "--url",
    url,
    "--api",
    api,
    "--scenario",
    scenarios,
    "--concurrency",
    String(concurrency),
    "--duration",
    String(durationS),
    "--timeout",
    String(ctx.o.timeoutS),
    "--max-requests",
    String(ctx.o.maxRequests),
    "--system-kb",
    String(ctx.o.systemKb),
    "--clock",
    ctx.upstreamUrl,
    "--out",
    out,
    "--phase-markers",
  ];
  const [pcmd, pargs] = pinned(ctx.pins.load, cmd, args);
  const proc = start("load", pcmd, pargs, { ...process.env });
  let cpu0: number | undefined;
  let cpu1: number | undefined;
  let up0: number | undefined;
  let up1: number | undefined;
  let busy0: number | undefined;
  let busy1: number | undefined;
  proc.onLine = (line) => {
    if (line === "phase:measure") {
      cpu0 = proxyPid === undefined ? undefined : cpuMs(proxyPid);
      up0 = cpuMs(ctx.upstream.pid);
      busy0 = machineBusyMs();
    } else if (line === "phase:done") {
      cpu1 = proxyPid === undefined ? undefined : cpuMs(proxyPid);
      up1 = cpuMs(ctx.upstream.pid);
      busy1 = machineBusyMs();
    }
  };
  const limitMs = (durationS + 2 * ctx.o.timeoutS + 30) * 1000;
  const finished = await Promise.race([
    proc.exited.then(() => true),
    sleep(limitMs).then(() => false),
  ]);
  if (!finished) await stop(proc);
  let result: LoadResult | null = null;
  let error: string | undefined;
  try {
    result = JSON.parse(readFileSync(out, "utf8")) as LoadResult;
  } catch {
    error = `load generator ${finished ? proc.exitInfo : "timed out"}: ${
      proc.tail.trim().slice(-800)
    }`;
  }
  rmSync(out, { force: true });
  const cpu = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : null;
  const upCpu = up0 !== undefined && up1 !== undefined ? up1 - up0 : null;
  const busy = busy0 !== undefined && busy1 !== undefined ? busy1 - busy0 : null;
  return { result, error, cpuMs: cpu, upCpuMs: upCpu, machineBusyMs: busy };
}

function othersMs(
  r: {
    cpuMs: number | null;
    upCpuMs: number | null;
    machineBusyMs: number | null;
    result: LoadResult | null;
  },
): number | null {
  if (r.machineBusyMs === null || r.upCpuMs === null || !r.result) return null;
  return Math.max(0, r.machineBusyMs - (r.cpuMs ?? 0) - r.upCpuMs - r.result.clientCpuMs);
}

function share(ms: number | null, result: LoadResult | null): number | null {
  return ms === null || !result || result.windowMs <= 0
    ? null
    : Math.round((ms / result.windowMs) * 1000) / 1000;
}

function perReq(ms: number | null, result: LoadResult | null): number | null {
  const n = result ? result.requests - result.errors : 0;
  return ms === null || n <= 0 ? null : Math.round((ms / n) * 1000) / 1000;
}

async function runTarget(
  ctx: Ctx,
  target: Target,
  round: number,
  cells: Cell[],
): Promise<TargetRun> {
  const o = ctx.o;
  const run: TargetRun = {
    round,
    target,
    command: "",
    startError: undefined,
    startupMs: null,
    idleRssKb: null,
    vmHwmKb: null,
    warmup: null,
    exitInfo: undefined,
    logTail: undefined,
  };
  let proc: Proc | undefined;
  let url = ctx.upstreamUrl;
  if (target !== "direct") {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const deno = findTool("deno");
    const bun = findTool("bun");
    const entry = relative(REPO, o.entry) || o.entry;
    let cmd: [string, string[]];
    const script = target.startsWith("minimal-") ? relative(REPO, MINIMAL_PROXY) : entry;
    if (target === "deno" || target === "minimal-deno" || target === "deno-quiet") {
      if (!deno) return { ...run, startError: "deno not found" };
      cmd = [deno, ["run", "-A", script]];
    } else if (target === "bun" || target === "minimal-bun" || target === "bun-quiet") {
      if (!bun) return { ...run, startError: "bun not found" };
      cmd = [bun, [script]];
    } else {
      cmd = [o.binary, []];
    }
    run.command = [cmd[0], ...cmd[1]].join(" ");
    const env: Record<string, string | undefined> = {
      ...process.env,
      ...proxyEnv(ctx.upstreamUrl, port),
      SHUTDOWN_GRACE: "2",
      NO_COLOR: "1",
      // Never the user's own history: one file per target and round, removed at the end.
      USAGE_DB: join(o.tmpDir, `usage-${target}-${round}.db`),
      ...o.proxyEnv,
      ...(target in QUIET ? MONITORING_OFF : {}),
    };
    const t0 = performance.now();
    const [pcmd, pargs] = pinned(ctx.pins.proxy, cmd[0], cmd[1]);
    proc = start(target, pcmd, pargs, env);
    const err = await waitHealthy(url, proc, 90_000);
    if (err) {
      await stop(proc);
      return { ...run, startError: err, exitInfo: proc.exitInfo, logTail: proc.tail.slice(-3000) };
    }
    run.startupMs = Math.round(performance.now() - t0);
    await sleep(300);
    run.idleRssKb = memKb(proc.pid)?.rss ?? null;
  }
  console.log(
    `  ${target}: ${target === "direct" ? url : `${run.command} (pid ${proc?.pid}) at ${url}`}`,
  );

  if (o.warmupS > 0) {
    const mixed = o.scenarios.filter((s) => !SCENARIOS[s].timestamps);
    const api = target === "direct" ? "openai" : "anthropic";
    const w = await runLoad(
      ctx,
      url,
      api,
      (mixed.length ? mixed : ["json"]).join(","),
      8,
      o.warmupS,
      undefined,
    );
    run.warmup = w.result
      ? {
        requests: w.result.requests,
        errors: w.result.errors,
        invalid: w.result.invalid,
        samples: [...w.result.errorSamples, ...w.result.invalidSamples],
      }
      : { requests: 0, errors: 1, invalid: 0, samples: [w.error ?? "?"] };
  }

  for (const scenario of o.scenarios) {
    for (const c of o.concurrency) {
      if (proc && proc.exitInfo !== undefined) {
        cells.push(
          emptyCell(
            round,
            target,
            scenario,
            c,
            `proxy died: ${proc.exitInfo}: ${proc.tail.slice(-800)}`,
          ),
        );
        continue;
      }
      const before = await upstreamStats(ctx.upstreamUrl);
      const sampler = proc ? new RssSampler(proc.pid) : undefined;
      const api = target === "direct" ? "openai" : "anthropic";
      const watcher = o.watchDashboard && proc && !target.startsWith("minimal-") &&
          !(target in QUIET)
        ? watchDashboard(url, CLIENT_KEY)
        : undefined;
      const r = await runLoad(ctx, url, api, scenario, c, o.durationS, proc?.pid);
      const watched = await watcher?.stop();
      const peak = sampler?.stop() ?? null;
      const after = await upstreamStats(ctx.upstreamUrl);
      const up = diffStats(before, after);
      const clientMade = r.result ? r.result.requests + r.result.warmup.requests : null;
      const cell: Cell = {
        round,
        target,
        scenario,
        concurrency: c,
        load: r.result,
        loadError: r.error,
        proxyCpuMs: r.cpuMs,
        proxyCpuMsPerReq: perReq(r.cpuMs, r.result),
        cpuShare: {
          proxy: share(r.cpuMs, r.result),
          upstream: share(r.upCpuMs, r.result),
          client: share(r.result?.clientCpuMs ?? null, r.result),
          others: share(othersMs(r), r.result),
        },
        proxyRssPeakKb: peak,
        proxyVmHwmKb: proc ? memKb(proc.pid)?.hwm ?? null : null,
        upstreamCpuMsPerReq: perReq(r.upCpuMs, r.result),
        upstreamExtraRequests: up && clientMade !== null ? (up.requests ?? 0) - clientMade : null,
        upstream: up,
        dashboardEvents: watched ?? null,
      };
      cells.push(cell);
      printProgress(cell);
    }
  }
  if (proc) {
    run.vmHwmKb = memKb(proc.pid)?.hwm ?? null;
    await stop(proc);
    run.exitInfo = proc.exitInfo;
  }
  return run;
}

function emptyCell(
  round: number,
  target: Target,
  scenario: ScenarioName,
  c: number,
  error: string,
): Cell {
  return {
    round,
    target,
    scenario,
    concurrency: c,
    load: null,
    loadError: error,
    proxyCpuMs: null,
    proxyCpuMsPerReq: null,
    cpuShare: { proxy: null, upstream: null, client: null, others: null },
    proxyRssPeakKb: null,
    proxyVmHwmKb: null,
    upstreamCpuMsPerReq: null,
    upstreamExtraRequests: null,
    upstream: null,
    dashboardEvents: null,
  };
}

function printProgress(c: Cell): void {
  const l = c.load;
  const what = `    ${c.scenario} c=${c.concurrency}:`;
  if (!l) {
    console.log(`${what} FAILED ${c.loadError ?? ""}`);
    return;
  }
  const problems = [...l.errorSamples, ...l.invalidSamples];
  console.log(
    `${what} ${l.requests} req, ${fmt(l.rps)} rps, p50 ${fmt(l.latencyMs?.p50)} ms, ` +
      `errors ${l.errors}, invalid ${l.invalid}` +
      (c.upstreamExtraRequests ? `, upstream saw ${c.upstreamExtraRequests} extra requests` : "") +
      (c.dashboardEvents !== null ? `, dashboard feed ${c.dashboardEvents} events` : "") +
      (problems.length ? `\n      first problem: ${problems[0]}` : ""),
  );
}

// ---------------------------------------------------------------------------------------------
// Reporting.

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "-";
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

type Row = {
  target: Target;
  scenario: ScenarioName;
  concurrency: number;
  rounds: number;
  rps: number;
  p50: number;
  p99: number;
  ttfbP50: number;
  firstDeltaP50: number;
  lagP50: number;
  lagP99: number;
  cpuMsPerReq: number;
  cpuPercent: number;
  /** CPU used by processes outside the benchmark during the window, in % of one core. */
  othersPercent: number;
  idleRssMb: number;
  peakRssMb: number;
  requests: number;
  errors: number;
  invalid: number;
  valid: number;
  upstreamExtra: number;
};

function summarizeCells(cells: readonly Cell[], runs: readonly TargetRun[]): Row[] {
  const rows: Row[] = [];
  const keys = new Map<string, Cell[]>();
  for (const c of cells) {
    const k = `${c.target}\u0000${c.scenario}\u0000${c.concurrency}`;
    keys.set(k, [...(keys.get(k) ?? []), c]);
  }
  for (const group of keys.values()) {
    const first = group[0];
    if (!first) continue;
    const loads = group.flatMap((c) => (c.load ? [c.load] : []));
    const m = (f: (l: LoadResult) => number | undefined) => median(loads.map((l) => f(l) ?? NaN));
    const idle = runs.filter((r) => r.target === first.target).map((r) => r.idleRssKb ?? NaN);
    const sum = (f: (l: LoadResult) => number) => loads.reduce((a, l) => a + f(l), 0);
    rows.push({
      target: first.target,
      scenario: first.scenario,
      concurrency: first.concurrency,
      rounds: group.length,
      rps: m((l) => l.rps),
      p50: m((l) => l.latencyMs?.p50),
      p99: m((l) => l.latencyMs?.p99),
      ttfbP50: m((l) => l.ttfbMs?.p50),
      firstDeltaP50: m((l) => l.firstDeltaMs?.p50),
      lagP50: m((l) => l.deliveryLagMs?.p50),
      lagP99: m((l) => l.deliveryLagMs?.p99),
      cpuMsPerReq: median(group.map((c) => c.proxyCpuMsPerReq ?? NaN)),
      cpuPercent: median(group.map((c) => (c.cpuShare.proxy ?? NaN) * 100)),
      othersPercent: median(group.map((c) => (c.cpuShare.others ?? NaN) * 100)),
      idleRssMb: median(idle) / 1024,
      peakRssMb: Math.max(...group.map((c) => c.proxyRssPeakKb ?? NaN)) / 1024,
      requests: sum((l) => l.requests),
      errors: sum((l) => l.errors) + (group.length - loads.length),
      invalid: sum((l) => l.invalid),
      valid: sum((l) => l.valid),
      upstreamExtra: group.reduce((a, c) => a + (c.upstreamExtraRequests ?? 0), 0),
    });
  }
  return rows;
}

function table(rows: readonly Row[]): string {
  const head = [
    "target",
    "scenario",
    "conc",
    "rps",
    "p50 ms",
    "p99 ms",
    "ttfb ms",
    "1st-delta ms",
    "lag p50/p99",
    "CPU ms/req",
    "CPU %",
    "other %",
    "RSS idle/peak MB",
    "errors",
    "valid",
  ];
  const body = rows.map((r) => [
    r.target,
    r.scenario,
    String(r.concurrency),
    fmt(r.rps),
    fmt(r.p50),
    fmt(r.p99),
    fmt(r.ttfbP50),
    fmt(r.firstDeltaP50),
    Number.isFinite(r.lagP50) ? `${fmt(r.lagP50)}/${fmt(r.lagP99)}` : "-",
    fmt(r.cpuMsPerReq),
    Number.isFinite(r.cpuPercent) ? r.cpuPercent.toFixed(0) : "-",
    Number.isFinite(r.othersPercent) ? r.othersPercent.toFixed(0) : "-",
    r.target === "direct" ? "-" : `${fmt(r.idleRssMb)}/${fmt(r.peakRssMb)}`,
    String(r.errors),
    `${r.valid}/${r.requests}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const line = (cols: string[]) =>
    cols.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** A proxy row against the minimal proxy's row on the same runtime, scenario and concurrency. */
type Ratio = {
  target: Target;
  baseline: Target;
  scenario: ScenarioName;
  concurrency: number;
  /** CPU ms/req and p50 latency as multiples of the baseline's. */
  cpu: number;
  p50: number;
  /** Time to headers and to the first delta, in ms more than the baseline's. */
  ttfbMs: number;
  firstDeltaMs: number;
};

function ratios(rows: readonly Row[], baselines: Partial<Record<Target, Target>>): Ratio[] {
  const out: Ratio[] = [];
  for (const r of rows) {
    const baseline = baselines[r.target];
    const b = rows.find((x) =>
      x.target === baseline && x.scenario === r.scenario && x.concurrency === r.concurrency
    );
    if (!baseline || !b) continue;
    const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
    out.push({
      target: r.target,
      baseline,
      scenario: r.scenario,
      concurrency: r.concurrency,
      cpu: round(r.cpuMsPerReq / b.cpuMsPerReq, 2),
      p50: round(r.p50 / b.p50, 2),
      ttfbMs: round(r.ttfbP50 - b.ttfbP50, 2),
      firstDeltaMs: round(r.firstDeltaP50 - b.firstDeltaP50, 2),
    });
  }
  return out;
}

function ratioTable(rs: readonly Ratio[]): string {
  const head = ["target", "vs", "scenario", "conc", "CPU x", "p50 x", "ttfb +ms", "1st-delta +ms"];
  const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${fmt(v)}` : "-");
  const body = rs.map((r) => [
    r.target,
    r.baseline,
    r.scenario,
    String(r.concurrency),
    fmt(r.cpu),
    fmt(r.p50),
    signed(r.ttfbMs),
    signed(r.firstDeltaMs),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const line = (cols: string[]) =>
    cols.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

function machineInfo(pins: Pinning, loadRuntime: string): Record<string, string | number> {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const deno = findTool("deno");
  const bun = findTool("bun");
  const runner = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
  return {
    nproc: Number(tryExec("nproc", []) ?? os.cpus().length),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "?",
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    memTotalMb: Math.round(os.totalmem() / 1048576),
    loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    clkTck: clkTck,
    deno: deno ? tryExec(deno, ["--version"])?.split("\n")[0] ?? "?" : "not found",
    bun: bun ? `bun ${tryExec(bun, ["--version"]) ?? "?"}` : "not found",
    node: tryExec("node", ["--version"]) ?? "not found",
    runner,
    loadGenerator: loadRuntime,
    pinning: pins.note,
  };
}

// ---------------------------------------------------------------------------------------------

function listTs(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(dir, f));
}

async function ensureBinary(o: Options): Promise<string | undefined> {
  const libDir = join(dirname(o.entry), "lib");
  const sources = [o.entry, ...(existsSync(libDir) ? listTs(libDir) : [])];
  if (existsSync(o.binary) && !o.rebuild) {
    const stale = sources.some((s) =>
      existsSync(s) && statSync(s).mtimeMs > statSync(o.binary).mtimeMs
    );
    if (stale) {
      console.log(`note: ${o.binary} is older than its sources; pass --rebuild to refresh it`);
    }
    return undefined;
  }
  const bun = findTool("bun");
  if (!bun) return "bun not found, cannot build the binary";
  mkdirSync(dirname(o.binary), { recursive: true });
  console.log(`building ${relative(REPO, o.binary)} with bun build --compile ...`);
  const proc = start("build", bun, [
    "build",
    "--compile",
    "--splitting",
    "--outfile",
    o.binary,
    o.entry,
  ], {
    ...process.env,
  });
  const done = await Promise.race([proc.exited.then(() => true), sleep(300_000).then(() => false)]);
  if (!done) await stop(proc);
  if (proc.exitInfo !== "exit code 0" || !existsSync(o.binary)) {
    return `bun build --compile failed (${proc.exitInfo}): ${proc.tail.trim().slice(-1500)}`;
  }
  return undefined;
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const o = parseOptions(process.argv.slice(2));
  clkTck = Number(tryExec("getconf", ["CLK_TCK"]) ?? 100) || 100;
  const pins = planPinning(o.pin);
  const bun = findTool("bun");
  const deno = findTool("deno");
  const loadRuntime = o.loadRuntime ?? (bun ? "bun" : "deno");
  const loadTool = loadRuntime === "bun" ? bun : deno;
  if (!loadTool) throw new Error(`${loadRuntime} not found for the load generator`);
  const loadScript = join(BENCH_DIR, "load.ts");
  const loadCmd: [string, string[]] = loadRuntime === "bun"
    ? [loadTool, [loadScript]]
    : [loadTool, ["run", "-A", loadScript]];

  const machine = machineInfo(pins, loadRuntime);
  console.log("machine:");
  for (const [k, v] of Object.entries(machine)) console.log(`  ${k}: ${v}`);
  if (Number(machine.loadAverage1m) > 0.5) {
    console.log("warning: the machine is already busy (load average above); results will be noisy");
  }
  const cells = o.scenarios.length * o.concurrency.length;
  console.log(
    `plan: ${o.rounds} round(s) x targets ${o.targets.join(",")} x ${cells} cells ` +
      `(${o.scenarios.join(",")} at c=${o.concurrency.join(",")}), ${o.durationS} s per cell`,
  );

  // Per target: start-up and warm-up; per cell: the load plus the proxy's stats around it.
  const perTargetS = 3 + o.warmupS + cells * (o.durationS + 1.5);
  const estimateS = o.rounds * o.targets.length * perTargetS +
    (o.targets.includes("binary") && (o.rebuild || !existsSync(o.binary)) ? 30 : 0);
  console.log(
    `estimated duration: about ${Math.ceil(estimateS / 60)} min. Ctrl-C stops it and still ` +
      "writes the cells finished so far.",
  );

  const runs: TargetRun[] = [];
  const allCells: Cell[] = [];
  let upCommand = "";
  const onSignal = () => {
    killAllNow();
    if (allCells.length > 0) {
      console.log(`\ninterrupted: reporting the ${allCells.length} cell(s) finished so far`);
      report(o, { startedAt, machine, upstream: upCommand, runs, allCells, interrupted: true });
    }
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let buildError: string | undefined;
  if (o.targets.includes("binary")) buildError = await ensureBinary(o);

  // The upstream runs under Bun when possible: it must be the fastest thing in the picture.
  const upPort = await freePort();
  const upstreamUrl = `http://127.0.0.1:${upPort}`;
  const upScript = join(BENCH_DIR, "fake_upstream.ts");
  const upCmd: [string, string[]] = bun
    ? [bun, [upScript, "--port", String(upPort)]]
    : [deno ?? "deno", ["run", "-A", upScript, "--port", String(upPort)]];
  const [ucmd, uargs] = pinned(pins.upstream, upCmd[0], upCmd[1]);
  const upstream = start("upstream", ucmd, uargs, { ...process.env });
  upCommand = [upCmd[0], ...upCmd[1]].join(" ");
  try {
    const err = await waitHealthy(upstreamUrl, upstream, 30_000);
    if (err) throw new Error(`fake upstream did not start: ${err}`);
    console.log(`fake upstream: ${upCmd[0]} (pid ${upstream.pid}) at ${upstreamUrl}`);
    const ctx: Ctx = { o, pins, upstreamUrl, upstream, loadCmd };
    for (let round = 1; round <= o.rounds; round++) {
      console.log(`round ${round}/${o.rounds}`);
      // Every other round in reverse order, so that what runs first in a round is not always
      // the same target (a machine's drift would favour one side).
      const order = round % 2 === 0 ? [...o.targets].reverse() : o.targets;
      for (const target of order) {
        if (target === "binary" && buildError) {
          runs.push({
            round,
            target,
            command: o.binary,
            startError: buildError,
            startupMs: null,
            idleRssKb: null,
            vmHwmKb: null,
            warmup: null,
            exitInfo: undefined,
            logTail: undefined,
          });
          console.log(`  binary: skipped, ${buildError}`);
          continue;
        }
        const run = await runTarget(ctx, target, round, allCells);
        runs.push(run);
        if (run.startError) console.log(`  ${target}: FAILED TO START: ${run.startError}`);
        else if (run.warmup && (run.warmup.errors || run.warmup.invalid)) {
          console.log(`  ${target}: warm-up problems: ${run.warmup.samples.join(" | ")}`);
        }
      }
    }
  } finally {
    await stop(upstream);
    rmSync(o.tmpDir, { recursive: true, force: true });
  }
  report(o, { startedAt, machine, upstream: upCommand, runs, allCells, interrupted: false });
}

/** The table, the problems and the JSON file, for a whole run or the part an interrupt left. */
function report(
  o: Options,
  r: {
    startedAt: string;
    machine: Record<string, unknown>;
    upstream: string;
    runs: TargetRun[];
    allCells: Cell[];
    interrupted: boolean;
  },
): void {
  const { startedAt, machine, runs, allCells } = r;
  const rows = summarizeCells(allCells, runs);
  console.log("");
  console.log(table(rows));
  console.log(
    "\nrps: completed responses/s; p50/p99: full response time; ttfb: response headers; " +
      "1st-delta: first content_block_delta (direct: first content chunk); lag: per chunk, client " +
      "receive minus upstream send (20 ms-gap scenarios only); CPU: proxy utime+stime per " +
      "request (/proc/PID/stat, 1/CLK_TCK resolution: coarse when a cell has few requests); " +
      "CPU %: proxy CPU time over the window, 100 = one core saturated; other %: CPU used by " +
      "processes outside the benchmark during the window (noise); RSS: proxy after /health, and max sampled during the cell; valid: responses " +
      "whose text, stop reason and usage match what the upstream sent.",
  );
  const rs = ratios(rows, BASELINE);
  if (rs.length > 0) {
    console.log("\nagainst the minimal proxy on the same runtime (bench/minimal_proxy.ts):\n");
    console.log(ratioTable(rs));
  }
  const monitoring = ratios(rows, WITHOUT_MONITORING);
  if (monitoring.length > 0) {
    const watched = o.watchDashboard ? ", one dashboard watching the live feed" : "";
    console.log(
      `\nwhat monitoring costs: the proxy with metrics, dashboard feed and usage history on${watched}, ` +
        "against the same proxy with them off:\n",
    );
    console.log(ratioTable(monitoring));
  }
  const noisy = rows.filter((r) => r.othersPercent > 15).length;
  if (noisy > 0) {
    console.log(
      `\nwarning: in ${noisy} of ${rows.length} rows, processes outside the benchmark used more ` +
        "than 15% of a core (column 'other %'): throughput and latency there are disturbed; " +
        "CPU ms/req much less so. Rerun on a quiet machine, or with --rounds.",
    );
  }

  for (const r of runs) {
    if (r.startError) {
      console.log(`\n${r.target} (round ${r.round}) did not start: ${r.startError}`);
    }
  }
  const problems = allCells.filter((c) =>
    !c.load || c.load.errors || c.load.invalid || c.upstreamExtraRequests
  );
  for (const c of problems) {
    const samples = c.load
      ? [...c.load.errorSamples, ...c.load.invalidSamples].slice(0, 3)
      : [c.loadError ?? "?"];
    const extra = c.upstreamExtraRequests
      ? ` (upstream saw ${c.upstreamExtraRequests} extra requests)`
      : "";
    console.log(
      `\n${c.target} ${c.scenario} c=${c.concurrency}${extra}:\n  ${samples.join("\n  ")}`,
    );
  }

  mkdirSync(dirname(o.json), { recursive: true });
  writeFileSync(
    o.json,
    JSON.stringify(
      {
        startedAt,
        interrupted: r.interrupted,
        machine,
        options: o,
        scenarios: o.scenarios.map((s) => SCENARIOS[s]),
        upstream: r.upstream,
        rows,
        ratios: rs,
        targetRuns: runs,
        cells: allCells,
      },
      null,
      2,
    ),
  );
  const shown = relative(process.cwd(), o.json);
  console.log(`\nwrote ${shown.startsWith("..") ? o.json : shown}`);
}

if (import.meta.main) {
  try {
    await main();
    process.exit(0);
  } catch (e) {
    killAllNow();
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
