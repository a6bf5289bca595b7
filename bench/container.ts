/**
 * The container: builds the standalone binary, an image of it from the Containerfile, runs it
 * with Podman, and checks it as a user would.
 *
 *   bun bench/container.ts [--rebuild]
 *
 * No base image is pulled: the build context is a root filesystem made here from the binary and
 * the shared libraries `ldd` lists for it. The container joins the host network to reach a
 * fake upstream on 127.0.0.1 and listens on 127.0.0.1 itself; the checks: /health, a streamed
 * answer through it, and `podman stop` (SIGTERM) draining a stream that is still running.
 * Bounded in time (every step has a timeout); the container and image are removed at the end.
 */
import process from "node:process";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startStreamUpstream } from "./stream_upstream.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BINARY = join(REPO, "dist/claude-code-proxy");
const IMAGE = "localhost/claude-code-proxy:bench";
const KEY = "bench-client-key-0000";

function run(cmd: string, args: string[], timeoutS = 300): string {
  return execFileSync(cmd, args, { encoding: "utf8", timeout: timeoutS * 1000, stdio: "pipe" });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const a = s.address();
  await new Promise((r) => s.close(r));
  if (!a || typeof a !== "object") throw new Error("no free port");
  return a.port;
}

/** The binary and every library it links, at their absolute paths under `root`. */
function assembleRootfs(root: string) {
  mkdirSync(root, { recursive: true });
  copyFileSync(BINARY, join(root, "claude-code-proxy"));
  const libs = [...run("ldd", [BINARY]).matchAll(/(\/\S+\.so[^\s]*)/g)].map((m) => m[1]!);
  for (const lib of new Set(libs)) {
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(root, lib));
  }
  mkdirSync(join(root, "tmp"), { recursive: true });
  return libs;
}

/**
 * Podman's default OCI runtime (crun) cannot start containers on some hosts (cgroup v1/v2
 * hybrids, restricted setrlimit); runc, when installed, often can.
 */
/**
 * Podman asks for more open files and processes than some hosts let even root raise to
 * (setrlimit fails with EPERM at container start): ask for what this process has, which can
 * only be lowered, with processes capped well below it.
 */
function ulimitArgs(): string[] {
  const [files, procs] = run("bash", ["-c", "echo $(ulimit -Sn) $(ulimit -Su)"]).trim().split(" ");
  const nproc = Math.min(Number(procs) || 4096, 4096);
  return ["--ulimit", `nofile=${files}:${files}`, "--ulimit", `nproc=${nproc}:${nproc}`];
}

function runtimeArgs(): string[][] {
  const options: string[][] = [[]];
  try {
    options.push(["--runtime", run("sh", ["-c", "command -v runc"]).trim()]);
  } catch {
    // no runc
  }
  return options;
}

async function main(): Promise<number> {
  const rebuild = process.argv.includes("--rebuild");
  const started = Date.now();
  const step = (what: string) =>
    console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);
  if (rebuild || !existsSync(BINARY)) {
    step("building dist/claude-code-proxy");
    run("bun", ["build", "--compile", "--splitting", "--outfile", BINARY, join(REPO, "main.ts")]);
  }
  const ctx = mkdtempSync(join(tmpdir(), "ccp-container-"));
  const upstream = await startStreamUpstream(3);
  let container = "";
  let runtime: string[] = [];
  try {
    const libs = assembleRootfs(join(ctx, "rootfs"));
    step(`root filesystem: the binary and ${libs.length} libraries`);
    run("podman", ["build", "-q", "-t", IMAGE, "-f", join(REPO, "Containerfile"), ctx], 300);
    const size = run("podman", ["image", "inspect", IMAGE, "--format", "{{.Size}}"]).trim();
    step(`image built: ${(Number(size) / 1e6).toFixed(1)} MB`);

    const port = await freePort();
    const env = [
      `OPENAI_API_KEY=sk-bench`,
      `OPENAI_BASE_URL=${upstream.url}`,
      `ANTHROPIC_API_KEY=${KEY}`,
      `HOST=127.0.0.1`,
      `PORT=${port}`,
    ].flatMap((e) => ["-e", e]);
    let lastError = "";
    for (const option of runtimeArgs()) {
      try {
        container = run("podman", [
          ...option,
          "run",
          "-d",
          "--network",
          "host",
          ...ulimitArgs(),
          ...env,
          IMAGE,
        ], 60).trim();
        runtime = option;
        break;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
    }
    if (!container) throw new Error(`podman cannot run containers here: ${lastError}`);
    step(
      `running ${container.slice(0, 12)} with ${
        runtime.length ? runtime[1] : "the default runtime"
      }`,
    );
    const url = `http://127.0.0.1:${port}`;
    let healthy: unknown;
    for (let i = 0; i < 100 && healthy === undefined; i++) {
      try {
        healthy = await (await fetch(`${url}/health`)).json();
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    step(`/health: ${JSON.stringify(healthy)}`);
    if (healthy === undefined) throw new Error(run("podman", [...runtime, "logs", container]));

    const request = () =>
      fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": KEY },
        body: JSON.stringify({
          model: "claude-sonnet-4-5",
          max_tokens: 100,
          stream: true,
          messages: [{ role: "user", content: "stream-id-1" }],
        }),
      }).then((r) => r.text());
    const first = await request();
    step(`streamed answer: ${first.includes("event: message_stop") ? "complete" : "INCOMPLETE"}`);

    // A stream in flight when the container is stopped: it must finish (SHUTDOWN_GRACE).
    const during = request();
    await new Promise((r) => setTimeout(r, 500));
    const stopping = new Promise<number | null>((r) =>
      spawn("podman", [...runtime, "stop", "-t", "20", container], { stdio: "ignore" }).on(
        "exit",
        r,
      )
    );
    const drained = await during;
    await stopping;
    const exit = run("podman", [
      ...runtime,
      "inspect",
      container,
      "--format",
      "{{.State.ExitCode}}",
    ])
      .trim();
    step(
      `podman stop mid-stream: the stream ${
        drained.includes("event: message_stop") ? "completed" : "was CUT"
      }, exit code ${exit}`,
    );
    const ok = first.includes("message_stop") && drained.includes("message_stop") && exit === "0";
    step(ok ? "container: ok" : "container: FAILED");
    return ok ? 0 : 1;
  } finally {
    if (container) {
      try {
        run("podman", [...runtime, "rm", "-f", container], 60);
      } catch {
        // already gone
      }
    }
    try {
      run("podman", ["rmi", "-f", IMAGE], 60);
    } catch {
      // never built
    }
    await upstream.close();
    rmSync(ctx, { recursive: true, force: true });
  }
}

process.exit(await main());
