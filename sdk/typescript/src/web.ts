import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { IAClient } from "./client.js";
import { baseUrl } from "./endpoint.js";
import { bearerInterceptors } from "./token.js";

export interface WebClientOptions {
  /** Deadline of each unary call, in milliseconds; 0 for none. */
  timeoutMs?: number;
  /** API key or JWT sent as `authorization: Bearer` (a browser has no IA_TOKEN). */
  token?: string;
}

/**
 * A client that speaks gRPC-Web to Envoy, for the browser (and any runtime with
 * fetch). `endpoint` is a URL such as `http://localhost:8080` or `host:port`.
 */
export function createWebClient(endpoint?: string, options: WebClientOptions = {}): IAClient {
  const target = baseUrl(endpoint);
  return new IAClient(createGrpcWebTransport({ baseUrl: target.url, interceptors: bearerInterceptors(options.token) }), {
    endpoint: target.endpoint,
    timeoutMs: options.timeoutMs,
  });
}
