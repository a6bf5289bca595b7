/**
 * The config file's watch (lib/runtime/watch.ts) on a file reached through symlinks that are
 * swapped, as a Kubernetes ConfigMap volume updates: `cfg.jsonc -> ..data/cfg.jsonc`,
 * `..data -> v1`, and an update renames a new `..data -> v2` over the old one. The event names
 * `..data`, never the file.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { watchFile } from "../lib/runtime/watch.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits up to 2 s (the reload promise) for `done`. */
async function within2s(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 40 && !done(); i++) await sleep(50);
  return done();
}

// Symlinks need privileges on Windows, and ConfigMaps are a Linux affair.
describe(
  "config file watch through a swapped symlink",
  { skip: process.platform === "win32" },
  () => {
    let dir: string;
    let calls = 0;
    let stop = () => {};

    before(() => {
      dir = mkdtempSync(join(tmpdir(), "ccp-watch-"));
      for (const v of ["v1", "v2"]) {
        mkdirSync(join(dir, v));
        writeFileSync(join(dir, v, "cfg.jsonc"), `{ "version": "${v}" }`);
      }
      symlinkSync("v1", join(dir, "..data"));
      symlinkSync(join("..data", "cfg.jsonc"), join(dir, "cfg.jsonc"));
      stop = watchFile(join(dir, "cfg.jsonc"), () => calls++, 50);
    });
    after(() => {
      stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("calls back when ..data is swapped to a new version", async () => {
      // `ln -s v2 ..tmp && mv -T ..tmp ..data`: one atomic rename.
      symlinkSync("v2", join(dir, "..tmp"));
      renameSync(join(dir, "..tmp"), join(dir, "..data"));
      assert.ok(await within2s(() => calls > 0), "the swap was noticed");
    });

    it("does not call back for another file in the directory that changes", async () => {
      await sleep(200);
      const before = calls;
      writeFileSync(join(dir, "notes.txt"), "unrelated");
      // Past the settle time: a call would have come by now.
      await sleep(300);
      assert.equal(calls, before);
    });

    it("calls back when the file it leads to is edited in place", async () => {
      const before = calls;
      writeFileSync(join(dir, "cfg.jsonc"), `{ "version": "v2, edited" }`);
      assert.ok(await within2s(() => calls > before));
    });
  },
);
