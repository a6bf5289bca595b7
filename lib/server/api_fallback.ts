/**
 * Sends a request with the protocol its provider and model call for (upstreams/api_choice.ts).
 * In `auto`, a Chat Completions request that the upstream answers with "use the Responses API"
 * is sent again through the Responses API — before anything reached the client — and the model
 * is remembered, so later requests go there at once.
 */
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

export async function sendWithApiChoice(opts: {
  provider: Provider;
  model: string;
  remembered: ResponsesModels;
  log: Logger;
  /** Converts the request for one protocol (and logs it). */
  exchangeFor: (api: UpstreamApi) => Exchange;
  /** Sends one converted request; rejects with the exchange's error for an HTTP error. */
  send: (exchange: Exchange) => Promise<UpstreamResponse>;
}): Promise<Sent> {
  const { provider, model } = opts;
  const api = chooseApi(provider, model, opts.remembered);
  const first = opts.exchangeFor(api);
  if (api !== "chat") return { exchange: first, upstream: await opts.send(first) };
  const watched: Exchange = {
    ...first,
    httpError(status, body, headers) {
      const error = first.httpError(status, body, headers);
      return asksForResponsesApi(status, body) ? new ResponsesApiWanted(error) : error;
    },
  };
  try {
    return { exchange: first, upstream: await opts.send(watched) };
  } catch (err) {
    if (!(err instanceof ResponsesApiWanted)) throw err;
    if (provider.api !== "auto") throw withApiHint(err);
    opts.remembered.remember(provider, model);
    opts.log.info("the model needs the Responses API: sending the request through it", {
      provider: provider.name,
      model,
    });
    const second = opts.exchangeFor("responses");
    return { exchange: second, upstream: await opts.send(second) };
  }
}
