/**
 * Where a Responses API request goes, and the model name it carries.
 *
 * OpenAI and compatible servers: `{base}/responses`, beside `{base}/chat/completions`.
 * Azure OpenAI (https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses) serves
 * it only at the resource level, never under `/openai/deployments/{name}/`:
 * - `…/openai/v1/responses`, the versionless API (no dated `api-version`);
 * - `…/openai/responses?api-version=…`, from 2025-03-01-preview on.
 * In both the deployment is the body's `model`, so a base URL naming a deployment gives its
 * name there. A `/openai/v1` base stays on v1. Otherwise the dated form is used when the
 * operator chose a version that serves it, and the versionless one when not (no version set, or
 * one from before the Responses API), so a Responses-only model needs no extra setting.
 */
import type { Endpoint } from "../openai/profiles.ts";

/** The first dated Azure api-version with the Responses API. */
const FIRST_RESPONSES_VERSION = "2025-03-01-preview";

export type ResponsesEndpoint = { url: string; model: string };

/** The base URL's path without trailing slashes or a pasted endpoint path. */
function basePath(url: URL): string {
  return url.pathname.replace(/\/+$/, "").replace(/\/(?:chat\/completions|responses)$/, "");
}

const isDated = (version: string) => /^\d{4}-\d{2}-\d{2}/.test(version);

export function responsesEndpoint(endpoint: Endpoint, upstreamModel: string): ResponsesEndpoint {
  const url = new URL(endpoint.baseUrl);
  const path = basePath(url);
  if (endpoint.profile.name !== "azure") {
    url.pathname = `${path}/responses`;
    return { url: url.toString(), model: upstreamModel };
  }
  const deployment = path.match(/\/openai\/deployments\/([^/]+)$/)?.[1];
  const model = deployment === undefined ? upstreamModel : safeDecode(deployment);
  const root = path.replace(/\/openai(?:\/v1|\/deployments\/[^/]+)?$/, "");
  const version = url.searchParams.get("api-version") ?? endpoint.azureApiVersion;
  url.searchParams.delete("api-version");
  const v1Base = /\/openai\/v1$/.test(path);
  if (
    !v1Base && version !== undefined && isDated(version) && version >= FIRST_RESPONSES_VERSION
  ) {
    url.pathname = `${root}/openai/responses`;
    url.searchParams.set("api-version", version);
    return { url: url.toString(), model };
  }
  url.pathname = `${root}/openai/v1/responses`;
  // The v1 API takes only the undated versions ("preview", "latest").
  if (version !== undefined && !isDated(version)) url.searchParams.set("api-version", version);
  return { url: url.toString(), model };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
