/**
 * Without ANTHROPIC_API_KEY the proxy answers whoever reaches it on loopback, and a web page
 * the user has open can reach loopback too: by a cross-site request (a `text/plain` POST needs
 * no preflight) or by DNS rebinding (its own name pointed at 127.0.0.1, which the browser then
 * treats as that page's origin). Either would spend the user's upstream key. Both are refused
 * here: the Host must be a loopback name, and a browser's Origin, when it sends one, a loopback
 * origin. Claude Code, the SDKs and curl send a loopback Host and no Origin.
 */
import { ProxyError } from "../anthropic/errors.ts";
import { isLoopbackHost } from "../ops/config.ts";

/** `name` without its port: `[::1]:8082` → `[::1]`, `localhost:8082` → `localhost`. */
function hostName(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.indexOf(":");
  return colon >= 0 && colon === host.lastIndexOf(":") ? host.slice(0, colon) : host;
}

/** Loopback by name: an address, `localhost`, or a name under `.localhost` (RFC 6761). */
function loopbackName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  return isLoopbackHost(n) || n.endsWith(".localhost");
}

function fromLoopbackOrigin(origin: string): boolean {
  try {
    return loopbackName(new URL(origin).hostname);
  } catch {
    // `null` (a sandboxed frame, a file:// page) and anything unparsable.
    return false;
  }
}

/** Undefined when the request may go on, else the error that refuses it. */
export function refuseNonLocal(req: Request): ProxyError | undefined {
  const host = req.headers.get("host");
  if (host !== null && !loopbackName(hostName(host.trim()))) {
    return forbidden(`the Host header (${host.slice(0, 100)}) is not a loopback name`);
  }
  const origin = req.headers.get("origin");
  if (origin !== null && !fromLoopbackOrigin(origin)) {
    return forbidden(`requests from web pages (Origin ${origin.slice(0, 100)}) are refused`);
  }
  return undefined;
}

function forbidden(why: string): ProxyError {
  return new ProxyError(
    403,
    "permission_error",
    `${why}: without ANTHROPIC_API_KEY this proxy serves only local clients. Set ` +
      "ANTHROPIC_API_KEY (clients then send it), or ALLOW_REMOTE_WITHOUT_KEY=true on a trusted " +
      "network.",
  );
}
