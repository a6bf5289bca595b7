/** Each upstream API's protocol: the only module that knows them all. */
import { anthropicProtocol } from "./anthropic/protocol.ts";
import { chatProtocol } from "./chat/protocol.ts";
import type { Protocol } from "./protocol.ts";
import { responsesProtocol } from "./responses/protocol.ts";
import type { UpstreamApi } from "./provider.ts";

const PROTOCOLS: Readonly<Record<UpstreamApi, Protocol>> = {
  chat: chatProtocol,
  anthropic: anthropicProtocol,
  responses: responsesProtocol,
};

export function protocolFor(api: UpstreamApi): Protocol {
  return PROTOCOLS[api];
}
