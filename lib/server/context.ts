/** What every route of the handler is given for one request. */
import type { JsonMemo } from "../common/json_text.ts";
import type { Config } from "../ops/config.ts";
import type { Logger } from "../ops/log.ts";
import type { RequestEvents } from "../ops/request_events.ts";
import type { RequestSummary } from "../ops/request_log.ts";
import type { Router } from "../routing/router.ts";
import type { ResponsesModels } from "../upstreams/api_choice.ts";
import type { Fetch } from "../upstreams/transport.ts";
import type { AddressGuard } from "../websearch/fetch_page.ts";
import type { Recorder } from "./exchange_recorder.ts";
import type { OpenStreams } from "./open_streams.ts";

export type RequestContext = {
  requestId: string;
  started: number;
  method: string;
  path: string;
  /** Filled in by the route for the request log. */
  summary: RequestSummary;
  /** Where the request log publishes finished requests; undefined when monitoring is off. */
  events: RequestEvents | undefined;
  log: Logger;
  config: Config;
  router: Router;
  fetch: Fetch;
  newId: () => string;
  /** Dropped content types and ignored fields already logged (once each). */
  warnedDropped: Set<string>;
  jsonMemo: JsonMemo;
  /** Models an upstream said need the Responses API (OPENAI_API=auto), per process. */
  responsesModels: ResponsesModels;
  /** Takes configured secrets out of text a client or a log will see. */
  redact: (text: string) => string;
  /** Which hosts web_fetch may reach; undefined: web_fetch is not offered. */
  addressGuard: AddressGuard | undefined;
  /** Set when RECORD_DIR is: each exchange is written to a file. */
  recorder?: Recorder | undefined;
  /** The client streams running, for a shutdown that outlasts its grace. */
  openStreams?: OpenStreams | undefined;
};
