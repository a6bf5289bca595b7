/**
 * Host name → its IP addresses through the system resolver, for web_fetch's address check.
 * node:dns works under Deno and Bun alike; lib/ outside runtime/ has no DNS (web APIs only).
 */
import { lookup } from "node:dns/promises";

export async function resolveHost(host: string): Promise<string[]> {
  const answers = await lookup(host, { all: true, verbatim: true });
  return answers.map((a) => a.address);
}
