/**
 * Sends a request with the protocol its provider and model call for (upstreams/api_choice.ts),
 * and sends it again — before anything reached the client — when the upstream's error answer
 * says what would work instead:
 * - in `auto`, a Chat Completions request answered with "use the Responses API" goes through
 *   the Responses API, and the model is remembered so later requests go there at once;
 * - a request the protocol can send without the part the upstream refused (Exchange.resendAfter).
 */
import { ProxyError } from "../anthropic/errors.ts";
import type { Logger } from "../ops/log.ts";
import {
  asksForResponsesApi,
  chooseApi,
  ResponsesApiWanted,
  type ResponsesModels,
  withApiHint,
} from "../upstreams/api_choice.ts";
import type { Exchange } from "../upstreams/protocol.ts";
import type { Provider, UpstreamApi } from "../upstreams/provider.ts";
import type { UpstreamResponse } from "../upstreams/transport.ts";

export type Sent = { exchange: Exchange; upstream: UpstreamResponse };

/** At most this many requests follow the first: a resend never loops. */
const MAX_RESENDS = 2;

/** The upstream's error, with the request to send instead. */
class Resend extends ProxyError {
  constructor(upstream: ProxyError, readonly next: Exchange, readonly reason: string) {
    super(upstream.status, upstream.type, upstream.message, upstream.headers);
  }
}

export async function sendWithApiChoice(opts: {
  provider: Provider;
  model: string;
  remembered: ResponsesModels;
  log: Logger;
  /** Converts the request for one protocol. */
  exchangeFor: (api: UpstreamApi) => Exchange;
  /** Called with each exchange before it is sent (the debug log). */
  onExchange?: (exchange: Exchange) => void;
  /** Sends one converted request; rejects with the exchange's error for an HTTP error. */
  send: (exchange: Exchange) => Promise<UpstreamResponse>;
}): Promise<Sent> {
  const { provider, model, log } = opts;
  let api = chooseApi(provider, model, opts.remembered);
  let exchange = opts.exchangeFor(api);
  for (let resends = 0;; resends++) {
    const current = exchange;
    const onChat = api === "chat";
    const mayResend = resends < MAX_RESENDS;
    const watched: Exchange = {
      ...current,
      httpError(status, body, headers) {
        const error = current.httpError(status, body, headers);
        if (onChat && asksForResponsesApi(status, body)) return new ResponsesApiWanted(error);
        const instead = mayResend ? current.resendAfter?.(status, body) : undefined;
        return instead ? new Resend(error, instead.exchange, instead.reason) : error;
      },
    };
    opts.onExchange?.(current);
    try {
      return { exchange: current, upstream: await opts.send(watched) };
    } catch (err) {
      if (err instanceof ResponsesApiWanted) {
        if (provider.api !== "auto" || !mayResend) throw withApiHint(err);
        opts.remembered.remember(provider, model);
        log.info("the model needs the Responses API: sending the request through it", {
          provider: provider.name,
          model,
        });
        api = "responses";
        exchange = opts.exchangeFor(api);
        continue;
      }
      if (err instanceof Resend) {
        log.warn(err.reason, { provider: provider.name, model, upstream_error: err.message });
        exchange = err.next;
        continue;
      }
      throw err;
    }
  }
}
