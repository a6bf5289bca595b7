/**
 * Each upstream API's protocol: the only module that knows them all. An API may have no entry
 * yet; a configuration naming it is refused at start-up (see routing/config_file.ts).
 */
import { anthropicProtocol } from "./anthropic/protocol.ts";
import { chatProtocol } from "./chat/protocol.ts";
import type { Protocol } from "./protocol.ts";
import type { UpstreamApi } from "./provider.ts";

const PROTOCOLS: Readonly<Partial<Record<UpstreamApi, Protocol>>> = {
  chat: chatProtocol,
  anthropic: anthropicProtocol,
};

export function hasProtocol(api: UpstreamApi): boolean {
  return PROTOCOLS[api] !== undefined;
}

/** The protocol of a provider whose configuration was validated (hasProtocol was true). */
export function protocolFor(api: UpstreamApi): Protocol {
  const protocol = PROTOCOLS[api];
  if (protocol === undefined) throw new Error(`no protocol registered for api "${api}"`);
  return protocol;
}
