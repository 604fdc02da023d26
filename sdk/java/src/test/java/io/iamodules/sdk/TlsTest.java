package io.iamodules.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ia.executor.v1.ExecutorServiceGrpc;
import ia.executor.v1.Message.Run;
import ia.executor.v1.Message.RunState;
import ia.executor.v1.RequestResponse.GetRunRequest;
import ia.executor.v1.RequestResponse.GetRunResponse;
import io.grpc.Grpc;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.TlsServerCredentials;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsTest {
  @TempDir static Path dir;
  private static Server server;

  /** Runs openssl in the temporary folder; the JDK can make keys but not certificates. */
  private static void openssl(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("openssl"));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes());
    if (process.waitFor() != 0) {
      throw new IOException("openssl " + String.join(" ", args) + " failed: " + output);
    }
  }

  private static boolean haveOpenssl() {
    try {
      return new ProcessBuilder("openssl", "version").start().waitFor() == 0;
    } catch (IOException | InterruptedException missing) {
      return false;
    }
  }

  private static void issue(String name, String extensions) throws IOException, InterruptedException {
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key",
        "-out", name + ".csr", "-subj", "/CN=" + name);
    Files.writeString(dir.resolve(name + ".ext"), extensions);
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
        "-out", name + ".pem", "-extfile", name + ".ext");
  }

  @BeforeAll
  static void serveMutualTls() throws Exception {
    if (!haveOpenssl()) {
      if (System.getenv("CI") != null) {
        throw new AssertionError("openssl is needed by the TLS tests");
      }
      Assumptions.abort("openssl is not installed");
    }
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca");
    issue("server", "subjectAltName=DNS:executor\nextendedKeyUsage=serverAuth\n");
    issue("client", "extendedKeyUsage=clientAuth\n");
    TlsServerCredentials credentials =
        (TlsServerCredentials)
            TlsServerCredentials.newBuilder()
                .keyManager(dir.resolve("server.pem").toFile(), dir.resolve("server.key").toFile())
                .trustManager(dir.resolve("ca.pem").toFile())
                .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE)
                .build();
    server =
        Grpc.newServerBuilderForPort(0, credentials)
            .addService(
                new ExecutorServiceGrpc.ExecutorServiceImplBase() {
                  @Override
                  public void getRun(GetRunRequest request, StreamObserver<GetRunResponse> response) {
                    Run run = Run.newBuilder().setRunId(request.getRunId()).setState(RunState.RUN_STATE_SUCCEEDED).build();
                    response.onNext(GetRunResponse.newBuilder().setRun(run).build());
                    response.onCompleted();
                  }
                })
            .build()
            .start();
  }

  @AfterAll
  static void stop() throws InterruptedException {
    if (server != null) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static String address() {
    return "127.0.0.1:" + server.getPort();
  }

  @Test
  void theClientDialsMutualTlsWithTheFilesGiven() {
    TlsFiles files = new TlsFiles(dir.resolve("ca.pem"), dir.resolve("client.pem"), dir.resolve("client.key"), "executor");
    try (IAClient client = IAClient.builder().endpoint(address()).tls(files).build()) {
      assertEquals(RunState.RUN_STATE_SUCCEEDED, client.getRun("run-1").getState());
    }
  }

  @Test
  void withoutAClientCertificateAMutualTlsServerRefusesTheClient() {
    TlsFiles files = new TlsFiles(dir.resolve("ca.pem"), null, null, "executor");
    try (IAClient client = IAClient.builder().endpoint(address()).tls(files).timeout(Duration.ofSeconds(10)).build()) {
      IAException error = assertThrows(IAException.class, () -> client.getRun("run-1"));
      assertEquals(Status.Code.UNAVAILABLE, error.code());
    }
  }

  @Test
  void theVariablesNameTheFiles() {
    TlsFiles files = TlsFiles.fromEnv(Map.of("IA_TLS_CA", "ca.pem", "IA_TLS_SERVER_NAME", "executor")).orElseThrow();

    assertEquals(new TlsFiles(Path.of("ca.pem"), null, null, "executor"), files);
    assertTrue(TlsFiles.fromEnv(Map.of("IA_TLS_SERVER_NAME", "executor")).isEmpty());
  }

  @Test
  void aCertificateWithoutItsKeyIsRefusedNamingTheVariables() {
    IllegalArgumentException error =
        assertThrows(IllegalArgumentException.class, () -> TlsFiles.fromEnv(Map.of("IA_TLS_CERT", "client.pem")));

    assertEquals("IA_TLS_CERT is set but IA_TLS_KEY is not: give both or neither", error.getMessage());
  }

  @Test
  void aCaFileThatCannotBeReadIsNamedAsAnInvalidArgument() {
    TlsFiles files = new TlsFiles(dir.resolve("nope.pem"), null, null, null);

    IAException error = assertThrows(IAException.class, () -> IAClient.builder().endpoint("127.0.0.1:1").tls(files).build());

    assertEquals(Status.Code.INVALID_ARGUMENT, error.code());
    assertTrue(error.getMessage().contains("ca=" + dir.resolve("nope.pem")), error.getMessage());
  }
}
