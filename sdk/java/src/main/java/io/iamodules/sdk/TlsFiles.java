package io.iamodules.sdk;

import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The PEM files of a TLS connection, as every part of IA Modules reads them from
 * IA_TLS_CA, IA_TLS_CERT, IA_TLS_KEY and IA_TLS_SERVER_NAME.
 *
 * @param ca the CA the server's certificate must chain to; null means the system roots
 * @param cert the client certificate chain to present (mutual TLS); null for none
 * @param key the private key of {@code cert}; given with it or not at all
 * @param serverName the name to check the server's certificate against when it
 *     differs from the host dialled; null or empty for the host
 */
public record TlsFiles(Path ca, Path cert, Path key, String serverName) {
  public static final String CA_VARIABLE = "IA_TLS_CA";
  public static final String CERT_VARIABLE = "IA_TLS_CERT";
  public static final String KEY_VARIABLE = "IA_TLS_KEY";
  public static final String SERVER_NAME_VARIABLE = "IA_TLS_SERVER_NAME";

  /** Checks that cert and key come together. */
  public TlsFiles {
    requirePair(cert, key, "cert", "key");
  }

  /** The files IA_TLS_* name; empty when none of the files is set (plaintext). */
  public static Optional<TlsFiles> fromEnv() {
    return fromEnv(System.getenv());
  }

  static Optional<TlsFiles> fromEnv(Map<String, String> env) {
    Path ca = path(env.get(CA_VARIABLE));
    Path cert = path(env.get(CERT_VARIABLE));
    Path key = path(env.get(KEY_VARIABLE));
    if (ca == null && cert == null && key == null) {
      return Optional.empty();
    }
    requirePair(cert, key, CERT_VARIABLE, KEY_VARIABLE);
    return Optional.of(new TlsFiles(ca, cert, key, env.get(SERVER_NAME_VARIABLE)));
  }

  /** The channel credentials of these files, read now; a file that cannot be read is named. */
  ChannelCredentials credentials() {
    TlsChannelCredentials.Builder builder = TlsChannelCredentials.newBuilder();
    if (ca != null) {
      try {
        builder.trustManager(ca.toFile());
      } catch (IOException | IllegalArgumentException error) {
        throw unreadable("ca", ca, error);
      }
    }
    if (cert != null) {
      try {
        builder.keyManager(cert.toFile(), key.toFile());
      } catch (IOException | IllegalArgumentException error) {
        throw unreadable("cert", cert + ", key=" + key, error);
      }
    }
    return builder.build();
  }

  private static void requirePair(Path cert, Path key, String certName, String keyName) {
    if ((cert == null) != (key == null)) {
      String given = cert == null ? keyName : certName;
      String missing = cert == null ? certName : keyName;
      throw new IllegalArgumentException(given + " is set but " + missing + " is not: give both or neither");
    }
  }

  private static IllegalArgumentException unreadable(String name, Object path, Exception error) {
    return new IllegalArgumentException(name + "=" + path + " cannot be read: " + error);
  }

  private static Path path(String value) {
    return value == null || value.isEmpty() ? null : Path.of(value);
  }
}
