import { readFileSync } from "node:fs";
import type { SecureClientSessionOptions } from "node:http2";
import { Code } from "@connectrpc/connect";
import { IAError } from "./errors.js";

/**
 * The PEM files of a TLS connection, as every part of IA Modules reads them
 * from IA_TLS_CA, IA_TLS_CERT, IA_TLS_KEY and IA_TLS_SERVER_NAME:
 * - `ca`: the server's certificate must chain to it (else to the system roots);
 * - `cert` and `key` (both or neither): the client certificate to present (mutual TLS);
 * - `serverName`: the name to check the server's certificate against, when it
 *   differs from the host dialled.
 */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

/** Where each file comes from in the environment, for error messages. */
const VARIABLES = { ca: "IA_TLS_CA", cert: "IA_TLS_CERT", key: "IA_TLS_KEY" } as const;

/** TLS files from IA_TLS_*; undefined when none of the files is set (plaintext). */
export function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): TlsFiles | undefined {
  const files = {
    ca: env.IA_TLS_CA || undefined,
    cert: env.IA_TLS_CERT || undefined,
    key: env.IA_TLS_KEY || undefined,
    serverName: env.IA_TLS_SERVER_NAME || undefined,
  };
  return files.ca || files.cert || files.key ? files : undefined;
}

/**
 * The HTTP/2 session options of these files, read now. Throws INVALID_ARGUMENT,
 * naming the file, when only one of `cert` and `key` is given or a file cannot be read.
 */
export function tlsSessionOptions(files: TlsFiles, names: Record<keyof typeof VARIABLES, string> = VARIABLES): SecureClientSessionOptions {
  if (!files.cert !== !files.key) {
    const [given, missing] = files.cert ? [names.cert, names.key] : [names.key, names.cert];
    throw new IAError(Code.InvalidArgument, `${given} is set but ${missing} is not: give both or neither`);
  }
  const read = (field: keyof typeof VARIABLES): Buffer | undefined => {
    const path = files[field];
    if (!path) {
      return undefined;
    }
    try {
      return readFileSync(path);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new IAError(Code.InvalidArgument, `${names[field]}=${JSON.stringify(path)} cannot be read: ${reason}`);
    }
  };
  const options: SecureClientSessionOptions = { ca: read("ca"), cert: read("cert"), key: read("key") };
  if (files.serverName) {
    options.servername = files.serverName;
  }
  return options;
}
