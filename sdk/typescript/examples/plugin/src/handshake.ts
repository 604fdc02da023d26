/**
 * The start-up handshake with the plugin host (protos/ia/plugin/v1/service.proto):
 * the host sets the magic cookie, the protocol versions it accepts and the
 * socket to serve on; the plugin prints one line once it serves.
 */

export const MAGIC_COOKIE_KEY = "IA_PLUGIN_MAGIC_COOKIE";
export const MAGIC_COOKIE = "6c1b0a4e3f2d49e8a7b5c9d0e1f2a3b4-ia-modules-plugin";
export const PROTOCOL_VERSIONS_KEY = "IA_PLUGIN_PROTOCOL_VERSIONS";
export const SOCKET_KEY = "IA_PLUGIN_SOCKET";
export const PROTOCOL_VERSION = 1;

/** The start-up environment is not the plugin host's. */
export class HandshakeError extends Error {}

/** Checks the host's variables and returns the Unix socket path to serve on. */
export function socketPath(env: NodeJS.ProcessEnv): string {
  if (env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE) {
    throw new HandshakeError(
      `${MAGIC_COOKIE_KEY} is missing or wrong: this program is an IA Modules plugin and is started ` +
        "by the plugin host, not run directly. To try it, use `ia-plugin test <folder>`.",
    );
  }
  const accepted = (env[PROTOCOL_VERSIONS_KEY] ?? "").split(",").map((v) => v.trim());
  if (!accepted.includes(String(PROTOCOL_VERSION))) {
    throw new HandshakeError(
      `the host accepts plugin protocol versions "${env[PROTOCOL_VERSIONS_KEY] ?? ""}"; ` +
        `this plugin speaks ${PROTOCOL_VERSION}`,
    );
  }
  const path = env[SOCKET_KEY];
  if (!path) {
    throw new HandshakeError(`${SOCKET_KEY} is not set: the host must say where to serve`);
  }
  return path;
}

/** The line printed on stdout once the plugin serves on `path`. */
export function handshakeLine(path: string): string {
  return `IA-PLUGIN|${PROTOCOL_VERSION}|unix|${path}|grpc`;
}
