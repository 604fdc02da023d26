import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { IAError } from "../src/errors.js";
import { RunState } from "../src/gen/ia/executor/v1/message_pb.js";
import { ExecutorService } from "../src/gen/ia/executor/v1/service_pb.js";
import { createNodeClient } from "../src/node.js";
import { tlsFromEnv } from "../src/tls.js";

// A throwaway CA, a server certificate for "executor" and a client certificate,
// made with the openssl command line (Node can make keys but not certificates).
const dir = mkdtempSync(join(tmpdir(), "ia-tls-"));
const path = (name: string) => join(dir, name);
let server: Http2SecureServer;
let port = 0;

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

function issue(name: string, extensions: string): void {
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`,
    "-out", `${name}.csr`, "-subj", `/CN=${name}`);
  writeFileSync(path(`${name}.ext`), extensions);
  openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
    "-out", `${name}.pem`, "-extfile", `${name}.ext`);
}

const haveOpenssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "pipe" });
    return true;
  } catch {
    if (process.env.CI) {
      throw new Error("openssl is needed by the TLS tests");
    }
    return false;
  }
})();

before(async () => {
  if (!haveOpenssl) {
    return;
  }
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
    "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca");
  issue("server", "subjectAltName=DNS:executor\nextendedKeyUsage=serverAuth\n");
  issue("client", "extendedKeyUsage=clientAuth\n");
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(ExecutorService, {
        getRun: (request) => ({ run: { runId: request.runId, state: RunState.SUCCEEDED } }),
      }),
  });
  server = createSecureServer(
    { cert: readFileSync(path("server.pem")), key: readFileSync(path("server.key")), ca: readFileSync(path("ca.pem")), requestCert: true, rejectUnauthorized: true },
    handler,
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

after(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  rmSync(dir, { recursive: true, force: true });
});

test("the Node client dials mutual TLS with the files given", { skip: !haveOpenssl }, async () => {
  const client = createNodeClient(`127.0.0.1:${port}`, {
    tls: { ca: path("ca.pem"), cert: path("client.pem"), key: path("client.key"), serverName: "executor" },
  });

  const run = await client.getRun("run-1");
  client.close();

  assert.equal(run.state, RunState.SUCCEEDED);
});

test("without a client certificate a mutual TLS server refuses the client", { skip: !haveOpenssl }, async () => {
  const client = createNodeClient(`127.0.0.1:${port}`, { tls: { ca: path("ca.pem"), serverName: "executor" }, timeoutMs: 10_000 });

  const error = await client.getRun("run-1").catch((e: unknown) => e);
  client.close();

  assert.ok(error instanceof IAError);
});

test("IA_TLS_* name the files when none are given", () => {
  const env = { IA_TLS_CA: "ca.pem", IA_TLS_SERVER_NAME: "executor" };

  assert.deepEqual(tlsFromEnv(env), { ca: "ca.pem", cert: undefined, key: undefined, serverName: "executor" });
  assert.equal(tlsFromEnv({ IA_TLS_SERVER_NAME: "executor" }), undefined);
});

test("a certificate without its key is refused, naming the variables", () => {
  const saved = { ...process.env };
  process.env.IA_TLS_CERT = "client.pem";
  delete process.env.IA_TLS_KEY;
  try {
    assert.throws(() => createNodeClient("127.0.0.1:1"), (e: unknown) => e instanceof IAError && e.codeName === "INVALID_ARGUMENT" && /IA_TLS_CERT is set but IA_TLS_KEY is not/.test(e.message));
  } finally {
    process.env = saved;
  }
});

test("a CA file that cannot be read is named", () => {
  assert.throws(() => createNodeClient("127.0.0.1:1", { tls: { ca: join(dir, "nope.pem") } }), /ca=".*nope\.pem" cannot be read: ENOENT/);
});
