/** parseDotenv follows Node's util.parseEnv on the .env shapes people write. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseEnv } from "node:util";
import fc from "fast-check";
import { ignoredDotenvLines, parseDotenv } from "../lib/ops/dotenv.ts";

const same = (text: string) =>
  assert.deepEqual(parseDotenv(text), { ...parseEnv(text) }, JSON.stringify(text));

describe("ignoredDotenvLines", () => {
  it("names the lines no variable came from, not blanks, comments or a quoted value's lines", () => {
    const text = '# c\nPORT 8083\nA=1\nB="two\nlines"\n\n export C=3 # x\nwords\r\nD: 4\n=5\n';
    assert.deepEqual(ignoredDotenvLines(text), [2, 8, 10]);
    assert.deepEqual(ignoredDotenvLines("A=1\nB=2\n"), []);
  });
});

describe("parseDotenv", () => {
  it("matches parseEnv on a table of real-world lines", () => {
    for (
      const text of [
        "OPENAI_API_KEY=sk-abc\nOPENAI_BASE_URL=https://api.openai.com/v1\n",
        "export BIG_MODEL=gpt-4o\n# a comment\n\nSMALL_MODEL = gpt-4o-mini  # trailing comment\n",
        "A='single # not a comment'\nB=\"double\\nline\"\nC=`back`\n",
        "EMPTY=\nSPACES=   padded value   \n",
        'MULTI="line one\nline two"\nAFTER=1\n',
        "WIN=crlf\r\nNEXT=2\r\n",
        'EXTRA_BODY={"top_k": 20}\n',
        "URL=http://localhost:11434/v1#frag\n",
        "DUP=1\nDUP=2\n",
        "KEY.WITH-DASH=ok\n",
        "  INDENTED=yes\n",
      ]
    ) same(text);
  });

  it("matches parseEnv on generated KEY=value files (2,000 cases)", () => {
    const key = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,12}$/);
    const value = fc.oneof(
      fc.stringMatching(/^[\w./:@{},-]{0,20}$/),
      fc.stringMatching(/^[\w ]{0,20}$/).map((v) => `"${v}"`),
      fc.stringMatching(/^[\w #]{0,20}$/).map((v) => `'${v}'`),
    );
    const line = fc.oneof(
      fc.tuple(key, value).map(([k, v]) => `${k}=${v}`),
      // Deno 2.9's parseEnv keeps "export " in the key when the value is empty; Node's and Bun's
      // do not (nor do we), so that one shape is left out of the comparison.
      fc.tuple(key, value.filter((v) => v !== "")).map(([k, v]) => `export ${k}=${v}`),
      fc.stringMatching(/^# [\w ]{0,20}$/),
      fc.constant(""),
    );
    fc.assert(fc.property(fc.array(line, { maxLength: 8 }), (lines) => same(lines.join("\n"))), {
      numRuns: 2_000,
      seed: Number(process.env.FC_SEED ?? 20261201),
    });
  });
});
