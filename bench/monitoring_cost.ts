/**
 * What monitoring costs per request, over real sockets: the proxy with metrics, the usage
 * history and (unless --no-dashboard) one dashboard reading the live feed, against the same
 * proxy with all of them off (METRICS=false DASHBOARD=false USAGE_DB=off).
 *
 *   deno run -A bench/monitoring_cost.ts [options]      or      bun bench/monitoring_cost.ts
 *
 * Options (defaults in brackets):
 *   --runtimes LIST     deno,bun [deno,bun]
 *   --scenarios LIST    see scenarios.ts [json,s50]
 *   --rounds N          [5]
 *   --duration S        seconds of load per round and scenario [4]
 *   --concurrency C     requests in flight against each of the two proxies [32]
 *   --warmup S          seconds of load on each fresh pair before it is measured [10]
 *   --log-level L       both proxies' LOG_LEVEL; at INFO each request also writes its log line
 *                       (to a pipe the benchmark reads and drops) [ERROR]
 *   --no-dashboard      no dashboard reading the feed
 *   --only PART         metrics, dashboard or history: only that part on in the 'on' proxy
 *   --calibrate         both proxies with monitoring off: the ratios then show the harness's
 *                       own bias and noise, which a real result must stand out from
 *   --threads           also print, per round, where the difference went: CPU per request
 *                       by thread (main, JIT compiler, garbage collector helpers), on - off
 *
 * Both proxies run at the same time, pinned to the same core, each under its own load
 * generator: whatever else the machine does in a round falls on both alike, which makes a
 * difference of a few percent measurable where one-after-the-other runs drift by more. Each
 * round starts a fresh pair and warms it up, since one process differs from the next by more
 * than the few percent sought (--calibrate shows how much). CPU per request is each proxy's
 * utime+stime (/proc/PID/stat) over the requests it answered; the report gives each round's
 * ratio and their median. Nothing here asserts a timing.
 */
import process from "node:process";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isScenarioName } from "./scenarios.ts";
import { median } from "./stats.ts";
import { CLIENT_KEY, findTool, freePort, proxyEnv, sleep } from "./procs.ts";
import { watchDashboard } from "./dashboard_watch.ts";

const BENCH = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH, "..");

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const canPin = (() => {
  try {
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    return os.cpus().length >= 2;
  } catch {
    return false;
  }
})();

/** The proxies on core 1, the upstream and the load generators on core 0. */
function pinned(core: number, cmd: string, args: string[]): [string, string[]] {
  return canPin ? ["taskset", ["-c", String(core), cmd, ...args]] : [cmd, args];
}

const children = new Set<ChildProcess>();

function start(
  core: number,
  cmd: string,
  args: string[],
  env: Record<string, string | undefined>,
) {
  const [c, a] = pinned(core, cmd, args);
  const child = spawn(c, a, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  // Read and dropped, so that a chatty child never blocks on a full pipe.
  child.stdout?.on("data", () => {});
  child.stderr?.on("data", () => {});
  return { child };
}

function stopAll(): void {
  for (const c of children) c.kill("SIGTERM");
}

async function healthy(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not start`);
}

/** utime + stime of a process, in ms (clock ticks of 10 ms on Linux). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU ms per thread name (`main` for the process's own thread): where the difference goes, JIT
 * compiler threads and garbage collector helpers included (--threads).
 */
function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = tid === String(pid)
        ? "main"
        : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** us per request by thread name, on minus off, for the names where they differ most. */
function threadDiff(
  on: [Map<string, number>, Map<string, number>],
  off: [Map<string, number>, Map<string, number>],
  nOn: number,
  nOff: number,
): string {
  const per = (m: [Map<string, number>, Map<string, number>], n: number, name: string) =>
    ((m[1].get(name) ?? 0) - (m[0].get(name) ?? 0)) * 1000 / n;
  const names = new Set([...on[1].keys(), ...off[1].keys()]);
  return [...names]
    .map((name) => [name, per(on, nOn, name) - per(off, nOff, name)] as const)
    .filter(([, d]) => Math.abs(d) >= 0.5)
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
    .map(([name, d]) => `${name} ${d > 0 ? "+" : ""}${d.toFixed(1)}`)
    .join(", ");
}

/** Runs the load generator against `url` and returns the requests it completed. */
function load(
  bun: string,
  url: string,
  scenario: string,
  c: number,
  s: number,
  rate = 0,
): Promise<number> {
  const out = join(os.tmpdir(), `ccp-mon-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const args = [join(BENCH, "load.ts"), "--url", url, "--api", "anthropic", "--scenario"];
  args.push(scenario, "--concurrency", String(c), "--duration", String(s), "--out", out);
  args.push("--rate", String(rate));
  const { child } = start(0, bun, args, { ...process.env });
  return new Promise((done) => {
    child.on("exit", () => {
      try {
        const r = JSON.parse(readFileSync(out, "utf8")) as { requests: number; errors: number };
        rmSync(out, { force: true });
        done(r.errors > 0 ? NaN : r.requests);
      } catch {
        done(NaN);
      }
    });
  });
}

async function main(): Promise<void> {
  const runtimes = option("runtimes", "deno,bun").split(",");
  const scenarios = option("scenarios", "json,s50").split(",");
  for (const s of scenarios) if (!isScenarioName(s)) throw new Error(`unknown scenario ${s}`);
  const rounds = Number(option("rounds", "5"));
  const duration = Number(option("duration", "4"));
  const concurrency = Number(option("concurrency", "32"));
  const warmup = Number(option("warmup", "10"));
  const calibrate = process.argv.includes("--calibrate");
  // ERROR by default: no request log line, so the proxy's own cost is the smallest it gets and
  // monitoring's share the largest.
  const logLevel = option("log-level", "ERROR");
  const threads = process.argv.includes("--threads");
  const rate = Number(option("rate", "0"));
  const only = option("only", "");
  if (only && !["metrics", "dashboard", "history"].includes(only)) {
    throw new Error(`--only takes metrics, dashboard or history, not ${only}`);
  }
  const part = (name: string) => !only || only === name;
  const dashboard = !calibrate && part("dashboard") && !process.argv.includes("--no-dashboard");
  const bun = findTool("bun");
  if (!bun) throw new Error("bun is needed for the fake upstream and the load generator");
  const dir = mkdtempSync(join(os.tmpdir(), "ccp-monitoring-"));
  console.log(
    (calibrate
      ? "calibration: two proxies with monitoring off, the first in the place of 'on'"
      : `monitoring on (metrics, usage history${dashboard ? ", a dashboard on the feed" : ""}) ` +
        "against off") +
      `; ${rounds} rounds x ${duration} s, c=${concurrency} on each proxy, ` +
      `${canPin ? "proxies on CPU 1, upstream and load on CPU 0" : "not pinned"}`,
  );
  const rows: string[][] = [];
  try {
    const upPort = await freePort();
    const upstream = `http://127.0.0.1:${upPort}`;
    start(0, bun, [join(BENCH, "fake_upstream.ts"), "--port", String(upPort)], {
      ...process.env,
    });
    await healthy(upstream);
    for (const runtime of runtimes) {
      const exe = findTool(runtime === "bun" ? "bun" : "deno");
      if (!exe) {
        console.log(`${runtime}: not found, skipped`);
        continue;
      }
      type Result = { onMs: number[]; offMs: number[]; ratios: number[]; seen: number };
      const results = new Map<string, Result>();
      for (const s of scenarios) results.set(s, { onMs: [], offMs: [], ratios: [], seen: 0 });
      for (let r = 0; r < rounds; r++) {
        // A fresh pair each round: one process's own luck (its JIT's choices, its heap) is
        // worth up to +-15% under Bun and lasts as long as the process, so it must average out
        // over several processes. The order they start in alternates.
        const order = r % 2 === 0 ? [true, false] : [false, true];
        const proxies = new Map<boolean, { url: string; pid: number }>();
        for (const on of order) {
          const port = await freePort();
          const env = {
            ...process.env,
            ...proxyEnv(upstream, port),
            LOG_LEVEL: logLevel,
            ...(on && !calibrate
              ? {
                METRICS: String(part("metrics")),
                DASHBOARD: String(part("dashboard")),
                USAGE_DB: part("history") ? join(dir, `${runtime}.db`) : "off",
              }
              : { METRICS: "false", DASHBOARD: "false", USAGE_DB: "off" }),
          };
          const args = runtime === "bun" ? ["main.ts"] : ["run", "-A", "main.ts"];
          const p = start(1, exe, args, env);
          proxies.set(on, { url: `http://127.0.0.1:${port}`, pid: p.child.pid! });
        }
        const on = proxies.get(true)!;
        const off = proxies.get(false)!;
        await healthy(on.url);
        await healthy(off.url);
        // The dashboard watches from before the warm-up, as an open page does: its first
        // minutes (the feed's code compiled, the request path's calls made polymorphic by one
        // more listener) are not what a watched proxy costs per request.
        const watcher = dashboard ? watchDashboard(on.url, CLIENT_KEY) : undefined;
        // Warm-up: both compiled hot before anything counts. A short one leaves the JIT's
        // compiler threads busy while measuring (seen under Bun after 3 s), more so in the
        // proxy that has more code to compile: the monitoring one.
        await Promise.all(
          [on, off].map((p) => load(bun, p.url, scenarios.join(","), concurrency, warmup)),
        );
        for (const scenario of scenarios) {
          const res = results.get(scenario)!;
          const seenBefore = watcher?.seen() ?? 0;
          const threadsBefore = threads
            ? [threadCpuMs(on.pid), threadCpuMs(off.pid)] as const
            : undefined;
          const before = [cpuMs(on.pid), cpuMs(off.pid)];
          const [nOn, nOff] = await Promise.all([
            load(bun, on.url, scenario, concurrency, duration, rate),
            load(bun, off.url, scenario, concurrency, duration, rate),
          ]);
          const a = (cpuMs(on.pid) - before[0]!) / nOn!;
          const b = (cpuMs(off.pid) - before[1]!) / nOff!;
          const byThread = threadsBefore
            ? ` [us/req on-off: ${
              threadDiff(
                [threadsBefore[0], threadCpuMs(on.pid)],
                [threadsBefore[1], threadCpuMs(off.pid)],
                nOn!,
                nOff!,
              )
            }]`
            : "";
          // The feed flushes every 100 ms, every 500 ms while busy: what it reports lags the
          // load by up to that much.
          if (watcher) await sleep(700);
          res.seen += (watcher?.seen() ?? 0) - seenBefore;
          if (!Number.isFinite(a) || !Number.isFinite(b)) {
            console.log(`  ${runtime} ${scenario} round ${r + 1}: failed requests, not counted`);
            continue;
          }
          res.onMs.push(a);
          res.offMs.push(b);
          res.ratios.push(a / b);
          console.log(
            `  ${runtime} ${scenario} round ${r + 1}: on ${a.toFixed(3)} ms/req (${nOn} req), ` +
              `off ${b.toFixed(3)} ms/req (${nOff} req), ratio ${(a / b).toFixed(3)}${byThread}`,
          );
        }
        await watcher?.stop();
        for (const p of proxies.values()) process.kill(p.pid, "SIGTERM");
        await sleep(500);
      }
      for (const [scenario, res] of results) {
        rows.push([
          runtime,
          scenario,
          median(res.onMs).toFixed(3),
          median(res.offMs).toFixed(3),
          res.ratios.map((x) => x.toFixed(3)).join(" "),
          median(res.ratios).toFixed(3),
          dashboard ? String(res.seen) : "-",
        ]);
      }
    }
  } finally {
    stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  const head = ["runtime", "scenario", "on ms/req", "off ms/req", "ratio per round", "median"];
  head.push("feed events");
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(`\n${line(head)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const r of rows) console.log(line(r));
  console.log("\nmedian: CPU per request with monitoring on, as a multiple of with it off");
}

process.on("SIGINT", () => {
  stopAll();
  process.exit(130);
});
await main();
process.exit(0);
