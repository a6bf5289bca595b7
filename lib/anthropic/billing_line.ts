/**
 * Claude Code opens its system prompt with a line like
 * `x-anthropic-billing-header: cc_version=2.1.332.fa9; cc_entrypoint=sdk-cli;` whose value
 * changes from request to request. It means nothing to another provider and, sent along, would
 * defeat the upstream's prefix caching, so it is cut out as a line: any other text beside it in
 * the same string or block stays.
 */

const BILLING_LINE = /^[ \t]*x-anthropic-billing-header:[^\n]*(?:\n|$)/gim;

/** The text without its billing lines (the line break after each goes with it). */
export function withoutBillingLine(text: string): string {
  if (!text.includes("x-anthropic-billing-header:")) return text;
  return text.replace(BILLING_LINE, "");
}
