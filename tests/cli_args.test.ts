/** Flag parsing (lib/cli/args.ts) as a table: values, overrides, and the errors with their hints. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseArgs } from "../lib/cli/args.ts";

describe("parseArgs", () => {
  const runs: { argv: string[]; overrides: Record<string, string>; envFile?: string }[] = [
    { argv: [], overrides: {} },
    { argv: ["--port", "9000", "--host=0.0.0.0"], overrides: { PORT: "9000", HOST: "0.0.0.0" } },
    { argv: ["--allow-remote"], overrides: { ALLOW_REMOTE_WITHOUT_KEY: "true" } },
    { argv: ["--log-level", "debug"], overrides: { LOG_LEVEL: "debug" } },
    { argv: ["--env-file", "x.env"], overrides: {}, envFile: "x.env" },
    // A value may start with one dash (a negative number is refused later, by the config).
    { argv: ["--max-retries", "-1"], overrides: { MAX_RETRIES: "-1" } },
    { argv: ["--record", "./records"], overrides: { RECORD_DIR: "./records" } },
  ];
  for (const r of runs) {
    it(`${JSON.stringify(r.argv)} runs with ${JSON.stringify(r.overrides)}`, () => {
      const result = parseArgs(r.argv);
      assert.equal(result.kind, "run");
      if (result.kind !== "run") return;
      assert.deepEqual(result.overrides, r.overrides);
      assert.equal(result.envFile, r.envFile ?? ".env");
    });
  }

  const errors: { argv: string[]; message: RegExp }[] = [
    { argv: ["--prot", "1"], message: /unknown option "--prot" \(did you mean --port\?\)/ },
    { argv: ["--base_url", "x"], message: /did you mean --base-url\?/ },
    { argv: ["--big-modle", "x"], message: /did you mean --big-model\?/ },
    { argv: ["--env"], message: /did you mean --env-file\?/ },
    // Three edits away from --port: a hint would be a guess.
    { argv: ["--foo"], message: /^unknown option "--foo"; see --help$/ },
    { argv: ["--port"], message: /--port needs a value/ },
    { argv: ["--port", "--host", "x"], message: /--port needs a value/ },
    { argv: ["replay"], message: /replay needs a recorded file/ },
    { argv: ["replay", "f.json", "--against"], message: /--against needs a model/ },
    { argv: ["--against", "gpt-4.1"], message: /--against goes with replay FILE/ },
    { argv: ["replay", "a", "b", "--against", "m"], message: /--against takes one recorded file/ },
  ];
  for (const e of errors) {
    it(`${JSON.stringify(e.argv)} is an error: ${e.message}`, () => {
      const result = parseArgs(e.argv);
      assert.equal(result.kind, "error");
      if (result.kind === "error") assert.match(result.message, e.message);
    });
  }

  it("replay FILE FILE… (a shell glob)", () => {
    const r = parseArgs(["replay", "a.json", "b.json"]);
    assert.equal(r.kind, "replay");
    if (r.kind === "replay") assert.deepEqual(r.files, ["a.json", "b.json"]);
  });

  it("replay FILE, with --against MODEL and flags in any order", () => {
    assert.deepEqual(parseArgs(["replay", "r.json"]), {
      kind: "replay",
      files: ["r.json"],
      against: undefined,
      overrides: {},
      envFile: ".env",
      envFileRequired: false,
    });
    const r = parseArgs(["--port", "1", "replay", "--against=openai/gpt-4.1", "r.json"]);
    assert.equal(r.kind, "replay");
    if (r.kind !== "replay") return;
    assert.deepEqual(r.files, ["r.json"]);
    assert.equal(r.against, "openai/gpt-4.1");
    assert.deepEqual(r.overrides, { PORT: "1" });
  });
});
