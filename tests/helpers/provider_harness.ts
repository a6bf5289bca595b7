/**
 * The setup every provider test shares: one provider fake started before the tests and a proxy
 * per test in front of it, all closed after. Call it inside a `describe`; it registers the hooks.
 *
 *   const up = providerHarness({
 *     start: (respond) => startDeepSeekFake({ key: TEST_UPSTREAM_KEY }, respond),
 *     env: (fake) => ({ OPENAI_BASE_URL: fake.url, PROVIDER: "deepseek" }),
 *   });
 *   it("…", async () => {
 *     up.respond = () => ({ content: "done" });
 *     const { client } = up.via({ BIG_MODEL: "deepseek-reasoner" });
 *   });
 */
import { after, before } from "node:test";
import type { Recorded } from "./fake_upstream.ts";
import {
  bodyOf,
  type ChatBody,
  connect,
  type Connected,
  type ProviderFake,
  type Responder,
} from "./provider_fakes.ts";

export type ProviderHarness<F extends ProviderFake> = {
  /** The running fake; only valid inside tests and hooks. */
  readonly fake: F;
  /** What the fake answers; a test replaces it, and it stays until the next test replaces it. */
  respond: Responder;
  /** A proxy on the fake with the provider's env plus `env`, closed after the describe. */
  via: (env?: Record<string, string>) => Connected;
  /** The last request the fake received. */
  last: () => Recorded;
  /** The JSON body of the last request the fake received. */
  lastBody: () => ChatBody;
};

export function providerHarness<F extends ProviderFake>(opts: {
  /** Starts the fake; it must answer through the responder it is given. */
  start: (respond: Responder) => Promise<F>;
  /** The env every proxy on this fake gets before the test's own. */
  env: (fake: F) => Record<string, string>;
  /** The first answer, until a test sets `respond`. */
  respond?: Responder;
}): ProviderHarness<F> {
  let started: F | undefined;
  const proxies: Connected[] = [];
  const fakeOf = () => {
    if (!started) throw new Error("the provider fake is used outside a test");
    return started;
  };
  const last = () => {
    const requests = fakeOf().requests;
    return requests[requests.length - 1]!;
  };
  const harness: ProviderHarness<F> = {
    get fake() {
      return fakeOf();
    },
    respond: opts.respond ?? (() => ({ content: "ok" })),
    via(env = {}) {
      const c = connect({ ...opts.env(fakeOf()), ...env });
      proxies.push(c);
      return c;
    },
    last,
    lastBody: () => bodyOf(last()),
  };

  before(async () => {
    // Read on every request, so a test's `respond = …` takes effect at once.
    started = await opts.start((req, index) => harness.respond(req, index));
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await started?.close();
  });
  return harness;
}
