/**
 * `GET /models` of an OpenAI-style provider, in OpenAI's list format
 * (https://platform.openai.com/docs/api-reference/models/list). The Responses API has no model
 * list of its own, so Chat Completions and Responses providers answer the same way.
 */
import type { ListedModel, Protocol } from "../protocol.ts";
import { modelsUrl, upstreamHeaders } from "./profiles.ts";

function readModels(json: unknown): ListedModel[] {
  const data = json && typeof json === "object" ? (json as { data?: unknown }).data : undefined;
  if (!Array.isArray(data)) return [];
  const out: ListedModel[] = [];
  for (const m of data) {
    const id = m && typeof m === "object" ? (m as { id?: unknown }).id : undefined;
    if (typeof id !== "string") continue;
    const created = (m as { created?: unknown }).created;
    out.push({ id, created: typeof created === "number" ? created : undefined });
  }
  return out;
}

export const modelList: Protocol["modelList"] = (provider, apiKey) => {
  const headers = upstreamHeaders(provider, apiKey);
  // A GET has no body.
  delete headers["content-type"];
  return { url: modelsUrl(provider), headers, read: readModels };
};
