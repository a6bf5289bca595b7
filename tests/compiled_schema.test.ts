/**
 * The compiled request parser (lib/common/compiled_schema.ts) against zod's runtime parser: the
 * same output for every recorded Claude Code request, and the same errors for broken ones.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { compile } from "zod";
import { MessagesRequest } from "../lib/anthropic/schema.ts";
import { compiled, compileSchemas } from "../lib/common/compiled_schema.ts";

const dirs = ["claude-code", "claude-code-2.1.332"];
const bodies: [string, unknown][] = dirs.flatMap((dir) => {
  const path = new URL(`./fixtures/${dir}/`, import.meta.url);
  return readdirSync(path)
    .map((f) => [f, JSON.parse(readFileSync(new URL(f, path), "utf8"))] as const)
    .filter(([, r]) => r.path === "/v1/messages" && r.body)
    .map(([f, r]) => [`${dir}/${f}`, r.body] as [string, unknown]);
});

const fast = compile(MessagesRequest);
const same = (value: unknown) => {
  const a = MessagesRequest.safeParse(structuredClone(value));
  const b = fast.safeParse(structuredClone(value));
  assert.equal(b.success, a.success);
  if (a.success) assert.deepEqual(b.data, a.data);
  else assert.deepEqual(b.error!.issues, a.error!.issues);
};

describe("compiled request schema", () => {
  it("is compiled here (a runtime that allows code generation)", () => {
    assert.notEqual(fast, MessagesRequest);
  });

  it("parses every recorded Claude Code request as the runtime parser does", () => {
    assert.ok(bodies.length >= 10, `${bodies.length} recorded requests`);
    for (const [, body] of bodies) same(body);
  });

  it("reports the same errors for broken requests, and keeps unknown block types lenient", () => {
    const base = bodies[0]![1] as { messages: { content: unknown }[] };
    const variants: unknown[] = [
      { ...base, max_tokens: "many" },
      { ...base, messages: [{ role: "robot", content: "hi" }] },
      { ...base, messages: [{ role: "user", content: [{ type: "text" }] }] },
      { ...base, messages: [{ role: "user", content: [{ type: "brand_new_block", x: 1 }] }] },
      {
        ...base,
        messages: [{ role: "user", content: [{ type: "image", source: { type: "s3" } }] }],
      },
      { ...base, tools: [{ name: "" }] },
      { ...base, tools: [{ type: "web_search_20250305" }] },
      { ...base, extra_field: { nested: true } },
      null,
      [],
    ];
    for (const v of variants) same(v);
  });

  it("compiles once compileSchemas has run, and only then", () => {
    const get = compiled(MessagesRequest);
    // Other test files may have turned compilation on already (the proxy helper does on Deno).
    if (get() === MessagesRequest) {
      compileSchemas();
    }
    const first = get();
    assert.notEqual(first, MessagesRequest);
    assert.equal(get(), first);
    assert.equal(first.safeParse(bodies[0]![1]).success, true);
    // Registered after: compiled on first use.
    const later = compiled(MessagesRequest);
    assert.notEqual(later(), MessagesRequest);
  });
});
