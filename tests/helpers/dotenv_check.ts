/**
 * How a started proxy reads `.env`, the same under `deno run`, `bun main.ts` and the binary: the
 * proxy's own reading (values as written, `$` kept; `--env-file` instead of `./.env`; no
 * `.env.local`), never Bun's.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProxyProcess, TEST_UPSTREAM_KEY } from "./proxy.ts";

export async function checkDotenvReading(binary?: string): Promise<void> {
  const cwd = mkdtempSync(join(tmpdir(), "ccp-dotenv-"));
  writeFileSync(
    join(cwd, ".env"),
    "ANTHROPIC_API_KEY=Secr3t$Pa55word\nBIG_MODEL=dot-env-model\nOPENAI_BASE_URL=http://127.0.0.1:9/v1\n" +
      "PORT 18093\n",
  );
  writeFileSync(join(cwd, ".env.local"), "BIG_MODEL=local-model\n");
  writeFileSync(
    join(cwd, "other.env"),
    "BIG_MODEL=other-model\nOPENAI_BASE_URL=http://127.0.0.1:9/v1\n",
  );
  const env = { OPENAI_API_KEY: TEST_UPSTREAM_KEY, PORT: "0", HOST: "127.0.0.1" };
  try {
    const plain = startProxyProcess(env, [], { binary, cwd });
    try {
      const port = await plain.listening;
      const status = async (key: string) => {
        const res = await fetch(`http://127.0.0.1:${port}/v1/models`, {
          headers: { "x-api-key": key },
        });
        await res.body?.cancel();
        return res.status;
      };
      assert.equal(await status("Secr3t$Pa55word"), 200, "the key as written in .env");
      assert.equal(await status("Secr3t"), 401, "no $ expansion");
      assert.match(plain.output(), /opus → dot-env-model/, ".env.local is not read");
      assert.match(
        plain.output(),
        /ignored lines of the env file that are not NAME=value.*lines=4/,
      );
    } finally {
      plain.kill();
      await plain.exited;
    }
    const other = startProxyProcess(env, ["--env-file", "other.env"], { binary, cwd });
    try {
      await other.listening;
      assert.match(other.output(), /opus → other-model/, "--env-file instead of ./.env");
    } finally {
      other.kill();
      await other.exited;
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}
