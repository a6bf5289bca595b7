/**
 * Several proxies behind a real load balancer, one drained and one killed mid-run.
 *
 *   bun bench/lb.ts [--balancer nginx|haproxy] [--streams 500] [--stream-s 15] [--runtime bun|deno]
 *
 * Starts a slow streaming fake upstream, three proxies (main.ts) and nginx or HAProxy (from the
 * system's packages) in front of them, all on 127.0.0.1. Opens `--streams` concurrent streamed
 * requests through the balancer; once they all stream, sends SIGTERM to one proxy (it drains:
 * finishes its streams, accepts nothing new) and SIGKILL to another. Then reports what clients
 * saw: streams completed, ended with `event: error`, cut with a transport error (the body ended
 * outside HTTP framing, which every client notices), answered with an HTTP error, or silently
 * cut (a clean end without message_stop, which no client could tell from a finished answer),
 * and how many requests the upstream saw more than once. Exits 1 if any stream was silently cut
 * or sent upstream twice. Bounded in time: everything stops after --stream-s + 60 seconds.
 * Every child is started here and stopped by its PID.
 */
import process from "node:process";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startStreamUpstream as startUpstream } from "./stream_upstream.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

type Options = {
  balancer: "nginx" | "haproxy";
  streams: number;
  streamS: number;
  runtime: "bun" | "deno";
};

function parseOptions(argv: string[]): Options {
  const o: Options = { balancer: "nginx", streams: 500, streamS: 15, runtime: "bun" };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const v = inline ?? argv[++i] ?? "";
    if (k === "--balancer" && (v === "nginx" || v === "haproxy")) o.balancer = v;
    else if (k === "--streams" && Number(v) >= 1 && Number(v) <= 2000) o.streams = Number(v);
    else if (k === "--stream-s" && Number(v) >= 2 && Number(v) <= 60) o.streamS = Number(v);
    else if (k === "--runtime" && (v === "bun" || v === "deno")) o.runtime = v;
    else throw new Error(`bad option ${argv[i]} (see the comment at the top of bench/lb.ts)`);
  }
  return o;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const a = s.address();
  await new Promise((r) => s.close(r));
  if (!a || typeof a !== "object") throw new Error("no free port");
  return a.port;
}

type Child = {
  name: string;
  proc: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
};

function startChild(name: string, cmd: string, args: string[], env: Record<string, string>): Child {
  const proc = spawn(cmd, args, {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  return { name, proc, out: () => out, exited };
}

function stop(child: Child, signal: NodeJS.Signals = "SIGKILL") {
  try {
    process.kill(child.proc.pid!, signal);
  } catch {
    // already gone
  }
}

async function waitHttp(url: string, child: Child) {
  let gone = false;
  child.exited.then(() => (gone = true));
  for (let i = 0; i < 200 && !gone; i++) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${child.name} did not start:\n${child.out()}`);
}

function nginxConfig(dir: string, port: number, backends: number[]): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream proxies {
${backends.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=30s;`).join("\n")}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://proxies;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 610s;
      proxy_send_timeout 610s;
      proxy_next_upstream error timeout;
    }
  }
}
`;
}

function haproxyConfig(port: number, backends: number[]): string {
  return `global
  maxconn 8192
defaults
  mode http
  timeout connect 2s
  timeout client 610s
  timeout server 610s
  retries 2
  option redispatch
frontend fe
  bind 127.0.0.1:${port}
  default_backend proxies
backend proxies
  balance roundrobin
${backends.map((p, i) => `  server p${i} 127.0.0.1:${p} check inter 1s fall 1`).join("\n")}
`;
}

type Outcome = "completed" | "event: error" | "transport error" | "http error" | "silently cut";

async function oneStream(url: string, id: number, deadline: AbortSignal): Promise<Outcome> {
  let res: Response;
  try {
    res = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 1000,
        stream: true,
        messages: [{ role: "user", content: `stream-id-${id}` }],
      }),
      signal: deadline,
    });
  } catch {
    return "transport error";
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    return "http error";
  }
  let text = "";
  const decoder = new TextDecoder();
  try {
    for await (const part of res.body) text += decoder.decode(part, { stream: true });
  } catch {
    return text.includes("event: error") ? "event: error" : "transport error";
  }
  if (text.includes("event: message_stop")) return "completed";
  if (text.includes("event: error")) return "event: error";
  return "silently cut";
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "ccp-lb-"));
  const children: Child[] = [];
  const upstream = await startUpstream(o.streamS);
  const hardStop = setTimeout(() => {
    console.error("time bound reached: stopping everything");
    for (const c of children) stop(c, "SIGTERM");
    process.exit(2);
  }, (o.streamS + 60) * 1000);
  try {
    const ports = [await freePort(), await freePort(), await freePort()];
    const runtime = o.runtime === "bun"
      ? { cmd: "bun", args: [join(REPO, "main.ts")] }
      : { cmd: "deno", args: ["run", "-A", join(REPO, "main.ts")] };
    for (const [i, port] of ports.entries()) {
      const c = startChild(`proxy ${i + 1}`, runtime.cmd, runtime.args, {
        OPENAI_API_KEY: "sk-bench",
        OPENAI_BASE_URL: upstream.url,
        PORT: String(port),
        LOG_LEVEL: "WARNING",
        SHUTDOWN_GRACE: String(o.streamS + 20),
        // Tells the upstream which proxy each request came through.
        CUSTOM_HEADER_X_BENCH_PROXY: String(i + 1),
      });
      children.push(c);
      await waitHttp(`http://127.0.0.1:${port}/health`, c);
    }
    const lbPort = await freePort();
    const lb = o.balancer === "nginx"
      ? (writeFileSync(join(dir, "nginx.conf"), nginxConfig(dir, lbPort, ports)),
        startChild("nginx", "nginx", ["-c", join(dir, "nginx.conf")], {}))
      : (writeFileSync(join(dir, "haproxy.cfg"), haproxyConfig(lbPort, ports)),
        startChild("haproxy", "haproxy", ["-f", join(dir, "haproxy.cfg"), "-db"], {}));
    children.push(lb);
    const lbUrl = `http://127.0.0.1:${lbPort}`;
    await waitHttp(`${lbUrl}/health`, lb);

    console.log(
      `${o.streams} streams of ~${o.streamS}s through ${o.balancer} to 3 ${o.runtime} proxies`,
    );
    const deadline = AbortSignal.timeout((o.streamS + 40) * 1000);
    const outcomes = Promise.all(
      Array.from({ length: o.streams }, (_, i) => oneStream(lbUrl, i, deadline)),
    );
    // Mid-run: the signals go once every stream is open upstream (bounded at half a stream).
    const open = () => [...upstream.active.values()].reduce((a, b) => a + b, 0);
    for (let i = 0; i < o.streamS * 10 && open() < o.streams; i++) await sleep(50);
    const openAtSignal = [...upstream.active].sort().map(([p, n]) => `proxy ${p}: ${n}`).join(", ");
    stop(children[0]!, "SIGTERM");
    await sleep(500);
    stop(children[1]!, "SIGKILL");
    // New streams after both signals: the balancer must send them to the survivor only.
    await sleep(500);
    const later = await Promise.all(
      Array.from({ length: 100 }, (_, i) => oneStream(lbUrl, o.streams + i, deadline)),
    );
    const results = await outcomes;
    const drainedCode = await Promise.race([
      children[0]!.exited,
      sleep(5000).then(() => "still running"),
    ]);

    const counts: Record<Outcome, number> = {
      completed: 0,
      "event: error": 0,
      "transport error": 0,
      "http error": 0,
      "silently cut": 0,
    };
    for (const r of results) counts[r]++;
    // Outcomes by the proxy that served each stream.
    const table = new Map<string, number>();
    results.forEach((r, i) => {
      const k = `proxy ${upstream.proxyOf.get(String(i)) ?? "?"}: ${r}`;
      table.set(k, (table.get(k) ?? 0) + 1);
    });
    const laterCounts: Record<string, number> = {};
    for (const r of later) laterCounts[r] = (laterCounts[r] ?? 0) + 1;
    const twice = [...upstream.seen.values()].filter((n) => n > 1).length;
    console.log(`streams open upstream at the SIGTERM: ${openAtSignal}`);
    const per = [...upstream.byProxy].sort().map(([p, n]) => `proxy ${p}: ${n}`).join(", ");
    console.log(`upstream requests by proxy (1 got SIGTERM, 2 SIGKILL): ${per}`);
    for (const [k, v] of Object.entries(counts)) console.log(`  ${k.padEnd(16)} ${v}`);
    console.log(`100 new streams started after both signals: ${JSON.stringify(laterCounts)}`);
    console.log(`requests the upstream saw more than once: ${twice}`);
    for (const [k, v] of [...table].sort()) console.log(`  ${k}: ${v}`);
    console.log(`SIGTERM'd proxy exited with: ${drainedCode}`);
    console.log(`wall time: ${((Date.now() - started) / 1000).toFixed(1)}s`);
    const ok = counts["silently cut"] === 0 && twice === 0 && laterCounts.completed === 100;
    return ok ? 0 : 1;
  } finally {
    clearTimeout(hardStop);
    // SIGTERM first: a SIGKILL'd nginx master leaves its worker processes running.
    for (const c of children) stop(c, "SIGTERM");
    await Promise.race([Promise.all(children.map((c) => c.exited)), sleep(5000)]);
    for (const c of children) stop(c);
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Bun's fetch opens at most 256 connections at a time unless told otherwise at start-up:
// https://bun.sh/docs/runtime/bunfig (BUN_CONFIG_MAX_HTTP_REQUESTS). Run again with it raised.
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
if (isBun && !process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
  const again = spawn(process.execPath, process.argv.slice(1), {
    stdio: "inherit",
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" },
  });
  process.exit(await new Promise<number>((r) => again.on("exit", (code) => r(code ?? 1))));
}
process.exit(await main());
