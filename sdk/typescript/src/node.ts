import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { IAClient } from "./client.js";
import { baseUrl } from "./endpoint.js";
import { bearerInterceptors } from "./token.js";
import { tlsFromEnv, tlsSessionOptions, type TlsFiles } from "./tls.js";

export interface NodeClientOptions {
  /** Deadline of each unary call, in milliseconds; 0 for none. */
  timeoutMs?: number;
  /** API key or JWT sent as `authorization: Bearer`; defaults to IA_TOKEN. */
  token?: string;
  /** TLS files; without them, IA_TLS_CA / IA_TLS_CERT / IA_TLS_KEY when set, else plaintext. */
  tls?: TlsFiles;
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
 * TLS); empty means IA_ENDPOINT, then localhost:8080. With TLS files (`tls`, else
 * IA_TLS_*) it speaks TLS, and mutual TLS when they name a client certificate.
 * It connects on the first call.
 */
export function createNodeClient(endpoint?: string, options: NodeClientOptions = {}): NodeIAClient {
  const target = baseUrl(endpoint);
  const tls = options.tls ? tlsSessionOptions(options.tls, { ca: "ca", cert: "cert", key: "key" }) : tlsOptionsFromEnv();
  const url = tls ? target.url.replace(/^http:/, "https:") : target.url;
  return new NodeIAClient(target.endpoint, url, new Http2SessionManager(url, undefined, tls), options);
}

function tlsOptionsFromEnv() {
  const files = tlsFromEnv();
  return files && tlsSessionOptions(files);
}

export { tlsFromEnv, type TlsFiles } from "./tls.js";
