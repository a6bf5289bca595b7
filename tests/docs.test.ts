/** README, .env.example and --help must stay true to the code: every variable is in all three. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CONFIG_VARIABLES } from "../lib/config.ts";
import { helpText } from "../lib/cli.ts";

const root = new URL("../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");
const example = readFileSync(new URL(".env.example", root), "utf8");
const help = helpText("0.0.0");

describe("documentation", () => {
  it("lists the variables the config reads", () => assert.ok(CONFIG_VARIABLES.length > 20));

  for (const name of [...CONFIG_VARIABLES, "CUSTOM_HEADER_"]) {
    it(`${name} is in README, .env.example and --help`, () => {
      assert.ok(readme.includes(name), `README mentions ${name}`);
      assert.ok(example.includes(name), `.env.example mentions ${name}`);
      assert.ok(help.includes(name), `--help mentions ${name}`);
    });
  }

  it("README's first screen has the two set-up commands", () => {
    const firstScreen = readme.split("\n").slice(0, 25).join("\n");
    assert.match(firstScreen, /npx -y deno@[\d.]+ run .*main\.ts/);
    assert.match(firstScreen, /bash \.ci\/run/);
  });
});
