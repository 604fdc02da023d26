package io.iamodules.sdk;

import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** The channel to one endpoint (Envoy), shared by the blocking and the async client. */
final class Endpoint implements AutoCloseable {
  /** Where clients connect when neither the caller nor IA_ENDPOINT names an endpoint. */
  static final String DEFAULT_ENDPOINT = "localhost:8080";

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  final String address;
  final ManagedChannel channel;
  /** What stubs call through: the channel, sending the bearer token when there is one. */
  final Channel calls;
  final Duration timeout;

  Endpoint(String address, boolean tls, Duration timeout, String token) {
    this(address, tls, null, timeout, token);
  }

  /** With TLS files: them; else IA_TLS_* when set; else TLS with the system roots if {@code tls}, else plaintext. */
  Endpoint(String address, boolean tls, TlsFiles files, Duration timeout, String token) {
    this(resolve(address), open(resolve(address), tls, files), timeout, token);
  }

  Endpoint(String address, ManagedChannel channel, Duration timeout, String token) {
    this.address = address;
    this.channel = channel;
    this.timeout = timeout;
    String resolved = resolveToken(token);
    if (resolved == null) {
      this.calls = channel;
    } else {
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, "Bearer " + resolved);
      this.calls = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
    }
  }

  private static ManagedChannel open(String address, boolean tls, TlsFiles files) {
    TlsFiles chosen;
    ManagedChannelBuilder<?> builder;
    try {
      chosen = files != null ? files : TlsFiles.fromEnv().orElse(null);
      builder = chosen == null ? ManagedChannelBuilder.forTarget(address) : Grpc.newChannelBuilder(address, chosen.credentials());
    } catch (IllegalArgumentException error) {
      throw IAException.invalidArgument("tls", error.getMessage(), address);
    }
    if (chosen == null) {
      builder = tls ? builder.useTransportSecurity() : builder.usePlaintext();
    } else if (chosen.serverName() != null && !chosen.serverName().isEmpty()) {
      builder.overrideAuthority(chosen.serverName());
    }
    return builder.build();
  }

  /** The token given, else IA_TOKEN, else null (no authorization sent). */
  static String resolveToken(String token) {
    if (token != null && !token.isEmpty()) {
      return token;
    }
    String env = System.getenv("IA_TOKEN");
    return env != null && !env.isEmpty() ? env : null;
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
