/**
 * An IA Modules plugin process in TypeScript. The plugin host starts it (see
 * plugin.yaml); it serves ia.plugin.v1.PluginService and grpc.health.v1.Health
 * with Connect's gRPC server over HTTP/2 on the host's Unix socket, then prints
 * the handshake line.
 */

import * as http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { PluginService } from "../../../src/gen/ia/plugin/v1/service_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "./gen/grpc/health/v1/health_pb.js";
import { HandshakeError, handshakeLine, socketPath } from "./handshake.js";
import { pluginService } from "./plugins.js";

function serve(path: string): void {
  let status = HealthCheckResponse_ServingStatus.SERVING;
  const handler = connectNodeAdapter({
    grpc: true,
    connect: false,
    grpcWeb: false,
    routes(router) {
      router.service(PluginService, pluginService);
      router.service(Health, {
        check: () => ({ status }),
        async *watch(_request, context) {
          yield { status };
          // Nothing else changes the status before shutdown; hold the stream until the caller leaves.
          await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
        },
      });
    },
  });
  const server = http2.createServer((request, response) => {
    // gRPC clients send the socket path, percent-encoded, as :authority; Connect
    // builds a URL from it, which such a host name would make invalid.
    request.headers[":authority"] = "localhost";
    handler(request, response);
  });
  server.on("error", (error) => {
    process.stderr.write(`plugin: cannot serve on ${path}: ${error.message}\n`);
    process.exit(1);
  });
  server.listen(path, () => {
    process.stdout.write(`${handshakeLine(path)}\n`);
  });
  // The host keeps a connection open for health checks; closing the server alone
  // would wait for it forever. Each session ends once its calls in flight are done.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      status = HealthCheckResponse_ServingStatus.NOT_SERVING;
      server.close(() => process.exit(0));
      for (const session of sessions) session.close();
    });
  }
}

try {
  serve(socketPath(process.env));
} catch (error) {
  if (!(error instanceof HandshakeError)) throw error;
  process.stderr.write(`plugin: ${error.message}\n`);
  process.exit(1);
}
