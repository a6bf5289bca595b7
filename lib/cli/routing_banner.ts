/** The banner's lines for a routing configuration file: providers, routes, tiers, fallback. */
import type { Router } from "../routing/router.ts";
import { describeChain } from "../routing/router.ts";
import { redactKey } from "./banner.ts";
import { displayUrl } from "../common/secret_values.ts";

export function routingLines(router: Router): string[] {
  const file = router.file;
  if (file === undefined) return [];
  const providers = router.providers.map((p) => {
    const keys = p.apiKeys.length === 0
      ? "no key"
      : p.apiKeys.length === 1
      ? `key ${redactKey(p.apiKeys[0])}`
      : `${p.apiKeys.length} keys`;
    return `${p.name} (${p.api}, ${displayUrl(p.baseUrl)}, ${keys})`;
  });
  const tiers = (["opus", "sonnet", "haiku"] as const).flatMap((f) => {
    const chain = file.tiers[f];
    return chain ? [`${f} → ${describeChain(chain)}`] : [];
  });
  const lines = [
    `  config     ${file.source}`,
    `  providers  ${providers.join(", ")}`,
  ];
  file.routes.forEach((r, i) => {
    lines.push(`  ${i === 0 ? "routes " : "       "}    ${r.when} → ${describeChain(r.chain)}`);
  });
  lines.push(
    `  models     ${tiers.length > 0 ? tiers.join(", ") : "(no tiers)"}; other names → ${
      router.providers[0]!.name
    }`,
  );
  lines.push(
    `  fallback   on ${[...file.fallbackOn].join(", ") || "nothing"}; a provider rests ` +
      `${file.breaker.cooldownMs / 1000}s after ${file.breaker.failuresToOpen} failures in a row`,
  );
  return lines;
}
