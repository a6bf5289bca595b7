/** UTF-8 text ⇄ base64url, with the web APIs every runtime has. */

export function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]!);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Throws on input that is not base64. */
export function fromBase64Url(text: string): string {
  return decodeBase64(text.replaceAll("-", "+").replaceAll("_", "/"));
}

export function decodeBase64(data: string): string {
  const bin = atob(data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
