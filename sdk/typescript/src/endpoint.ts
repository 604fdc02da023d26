/** Where clients connect when neither the caller nor IA_ENDPOINT says. */
export const DEFAULT_ENDPOINT = "localhost:8080";

/**
 * The base URL for an endpoint given as `host:port` (plaintext) or as a URL.
 * An empty endpoint means IA_ENDPOINT (in Node), then localhost:8080.
 */
export function baseUrl(endpoint?: string): { endpoint: string; url: string } {
  const env = typeof process === "undefined" ? undefined : process.env?.IA_ENDPOINT;
  const chosen = endpoint || env || DEFAULT_ENDPOINT;
  const url = /^[a-z]+:\/\//i.test(chosen) ? chosen : `http://${chosen}`;
  return { endpoint: chosen, url: url.replace(/\/+$/, "") };
}
