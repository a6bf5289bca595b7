/**
 * The router new requests use, swappable while the proxy runs (a reload of the configuration
 * file): a request reads it once when it starts and keeps it to the end, so in-flight requests
 * finish on the configuration they started with.
 */
import type { Router } from "./router.ts";

export type RouterSource = Readonly<{ current(): Router }>;

export class RouterHolder implements RouterSource {
  #router: Router;

  constructor(router: Router) {
    this.#router = router;
  }

  current(): Router {
    return this.#router;
  }

  replace(router: Router): void {
    this.#router = router;
  }
}
