package io.iamodules.sdk;

import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** The channel to one endpoint (Envoy), shared by the blocking and the async client. */
final class Endpoint implements AutoCloseable {
  /** Where clients connect when neither the caller nor IA_ENDPOINT names an endpoint. */
  static final String DEFAULT_ENDPOINT = "localhost:8080";

  final String address;
  final ManagedChannel channel;
  final Duration timeout;

  Endpoint(String address, boolean tls, Duration timeout) {
    this(address, tls, null, timeout);
  }

  /** With TLS files: them; else IA_TLS_* when set; else TLS with the system roots if {@code tls}, else plaintext. */
  Endpoint(String address, boolean tls, TlsFiles files, Duration timeout) {
    this.address = resolve(address);
    TlsFiles chosen;
    ManagedChannelBuilder<?> builder;
    try {
      chosen = files != null ? files : TlsFiles.fromEnv().orElse(null);
      builder = chosen == null ? ManagedChannelBuilder.forTarget(this.address) : Grpc.newChannelBuilder(this.address, chosen.credentials());
    } catch (IllegalArgumentException error) {
      throw IAException.invalidArgument("tls", error.getMessage(), this.address);
    }
    if (chosen == null) {
      builder = tls ? builder.useTransportSecurity() : builder.usePlaintext();
    } else if (chosen.serverName() != null && !chosen.serverName().isEmpty()) {
      builder.overrideAuthority(chosen.serverName());
    }
    this.channel = builder.build();
    this.timeout = timeout;
  }

  Endpoint(String address, ManagedChannel channel, Duration timeout) {
    this.address = address;
    this.channel = channel;
    this.timeout = timeout;
  }

  static String resolve(String address) {
    if (address != null && !address.isEmpty()) {
      return address;
    }
    String env = System.getenv("IA_ENDPOINT");
    return env != null && !env.isEmpty() ? env : DEFAULT_ENDPOINT;
  }

  IAException error(Throwable failure) {
    return IAException.from(failure, address, channel.getState(false) == ConnectivityState.READY);
  }

  @Override
  public void close() {
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException interrupted) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
