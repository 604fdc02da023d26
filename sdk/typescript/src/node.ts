import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { IAClient } from "./client.js";
import { baseUrl } from "./endpoint.js";
import { bearerInterceptors } from "./token.js";

export interface NodeClientOptions {
  /** Deadline of each unary call, in milliseconds; 0 for none. */
  timeoutMs?: number;
  /** API key or JWT sent as `authorization: Bearer`; defaults to IA_TOKEN. */
  token?: string;
}

/** An IAClient over gRPC (HTTP/2), with `close()` to drop its connection. */
export class NodeIAClient extends IAClient {
  constructor(
    endpoint: string,
    url: string,
    private readonly session: Http2SessionManager,
    options: NodeClientOptions,
  ) {
    super(
      createGrpcTransport({ baseUrl: url, sessionManager: session, interceptors: bearerInterceptors(options.token) }),
      { endpoint, timeoutMs: options.timeoutMs },
    );
  }

  /** Closes the HTTP/2 connection; calls in flight fail. */
  close(): void {
    this.session.abort();
  }
}

/**
 * A client that speaks gRPC to `endpoint` (`host:port`, or an `https://` URL for
 * TLS); empty means IA_ENDPOINT, then localhost:8080. It connects on the first call.
 */
export function createNodeClient(endpoint?: string, options: NodeClientOptions = {}): NodeIAClient {
  const target = baseUrl(endpoint);
  return new NodeIAClient(target.endpoint, target.url, new Http2SessionManager(target.url), options);
}
