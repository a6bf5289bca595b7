/**
 * The layout of lib/ as a spec: no import circles (type imports included), and arrows between
 * the layers that point one way. `main.ts → server → routing → upstreams/<protocol> →
 * anthropic`; protocols know nothing of each other; the handler knows only the Protocol
 * interface, never a protocol's insides.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Repo-relative paths of the modules a file imports (static, dynamic and type-only). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)"(\.{1,2}\/[^"]+)"/g)];
  return specs.map((m) => normalize(join(dirname(file), m[1]!)));
}

const files = sourceFiles("lib");
const graph = new Map(files.map((f) => [f, importsOf(f)]));

/** The protocol folders under lib/upstreams/ that convert requests for one upstream API. */
const protocolDirs = readdirSync(join(root, "lib/upstreams"))
  .filter((d) => statSync(join(root, "lib/upstreams", d)).isDirectory() && d !== "openai")
  .map((d) => `lib/upstreams/${d}/`);

const within = (file: string, dir: string) => file.startsWith(dir);

describe("lib/ layout", () => {
  it("every import resolves to a file", () => {
    for (const [file, deps] of graph) {
      for (const dep of deps) assert.ok(graph.has(dep), `${file} imports missing ${dep}`);
    }
  });

  it("has no import circles", () => {
    const state = new Map<string, "visiting" | "done">();
    const stack: string[] = [];
    const visit = (file: string) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        const cycle = stack.slice(stack.indexOf(file)).concat(file).map((f) => relative("lib", f));
        assert.fail(`import circle: ${cycle.join(" → ")}`);
      }
      state.set(file, "visiting");
      stack.push(file);
      for (const dep of graph.get(file) ?? []) visit(dep);
      stack.pop();
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file);
  });

  it("has the chat protocol folder", () => assert.ok(protocolDirs.includes("lib/upstreams/chat/")));

  const rules: {
    name: string;
    from: (f: string) => boolean;
    forbidden: (dep: string) => boolean;
  }[] = [
    {
      name: "anthropic/ and common/ stand alone",
      from: (f) => within(f, "lib/anthropic/") || within(f, "lib/common/"),
      forbidden: (d) => !within(d, "lib/anthropic/") && !within(d, "lib/common/"),
    },
    {
      name: "tokens/ knows only what clients send",
      from: (f) => within(f, "lib/tokens/"),
      forbidden: (d) => !["lib/tokens/", "lib/anthropic/", "lib/common/"].some((p) => within(d, p)),
    },
    {
      name: "upstreams/ never reach up to the server, routing, commands or runtime",
      from: (f) => within(f, "lib/upstreams/"),
      forbidden: (d) =>
        ["lib/server/", "lib/routing/", "lib/cli/", "lib/runtime/"].some((p) => within(d, p)),
    },
    {
      name: "protocols know nothing of each other",
      from: (f) => protocolDirs.some((p) => within(f, p)),
      forbidden: (d) => protocolDirs.some((p) => within(d, p)),
    },
    {
      name: "what the OpenAI-style protocols share knows no protocol",
      // protocols.ts is the registry: the one module that knows them all.
      from: (f) =>
        within(f, "lib/upstreams/openai/") ||
        (/^lib\/upstreams\/[^/]+\.ts$/.test(f) && f !== "lib/upstreams/protocols.ts"),
      forbidden: (d) => protocolDirs.some((p) => within(d, p)),
    },
    {
      name: "the server knows the Protocol interface, not a protocol's insides",
      from: (f) => within(f, "lib/server/"),
      forbidden: (d) =>
        within(d, "lib/upstreams/openai/") || protocolDirs.some((p) => within(d, p)) ||
        within(d, "lib/cli/") || within(d, "lib/runtime/"),
    },
    {
      name: "websearch/ (server tools run by the proxy) knows no server, routing or protocol",
      from: (f) => within(f, "lib/websearch/"),
      forbidden: (d) =>
        ["lib/server/", "lib/routing/", "lib/cli/", "lib/runtime/", "lib/upstreams/openai/"]
          .some((p) => within(d, p)) || protocolDirs.some((p) => within(d, p)),
    },
    {
      name: "ops/ is used by everything and uses nothing above it",
      from: (f) => within(f, "lib/ops/"),
      forbidden: (d) =>
        !within(d, "lib/ops/") && !within(d, "lib/common/") &&
        d !== "lib/upstreams/openai/detect_provider.ts",
    },
  ];
  for (const rule of rules) {
    it(rule.name, () => {
      const wrong: string[] = [];
      for (const [file, deps] of graph) {
        if (!rule.from(file)) continue;
        for (const dep of deps) {
          // A protocol's own folder is its own business.
          const sameProtocol = protocolDirs.some((p) => within(file, p) && within(dep, p));
          if (rule.forbidden(dep) && !sameProtocol) wrong.push(`${file} → ${dep}`);
        }
      }
      assert.deepEqual(wrong, []);
    });
  }
});
