package io.iamodules.sdk;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The one exception every call of the client throws. It keeps the gRPC code and
 * the {@code google.rpc} details the service sent, so callers branch on the stable
 * {@link #reason()} rather than on message text:
 *
 * <pre>{@code
 * try { client.getPipeline("etl"); }
 * catch (IAException e) { if ("PIPELINE_NOT_FOUND".equals(e.reason())) ... }
 * }</pre>
 */
public final class IAException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;
  private final String statusMessage;
  private final String reason;
  private final Map<String, String> metadata;
  private final List<FieldViolation> fieldViolations;
  private final String endpoint;
  private final boolean unreachable;

  IAException(
      Status.Code code,
      String statusMessage,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> fieldViolations,
      String endpoint,
      boolean unreachable,
      Throwable cause) {
    super(describe(code, statusMessage, reason, fieldViolations, endpoint, unreachable), cause);
    this.code = code;
    this.statusMessage = statusMessage;
    this.reason = reason;
    this.metadata = Map.copyOf(metadata);
    this.fieldViolations = List.copyOf(fieldViolations);
    this.endpoint = endpoint;
    this.unreachable = unreachable;
  }

  /**
   * Wraps a failed gRPC call.
   *
   * @param connected whether the channel had a connection when the call failed: a
   *     transport failure without details on a channel that never connected means
   *     the endpoint could not be reached
   */
  static IAException from(Throwable error, String endpoint, boolean connected) {
    if (error instanceof IAException known) {
      return known;
    }
    Status status = Status.fromThrowable(error);
    com.google.rpc.Status details = detailsOf(error);
    String reason = null;
    Map<String, String> metadata = Map.of();
    List<FieldViolation> violations = new ArrayList<>();
    int detailCount = details == null ? 0 : details.getDetailsCount();
    for (Any detail : details == null ? List.<Any>of() : details.getDetailsList()) {
      try {
        if (detail.is(ErrorInfo.class) && reason == null) {
          ErrorInfo info = detail.unpack(ErrorInfo.class);
          reason = info.getReason().isEmpty() ? null : info.getReason();
          metadata = info.getMetadataMap();
        } else if (detail.is(BadRequest.class)) {
          for (BadRequest.FieldViolation v : detail.unpack(BadRequest.class).getFieldViolationsList()) {
            violations.add(new FieldViolation(v.getField(), v.getDescription()));
          }
        }
      } catch (InvalidProtocolBufferException malformed) {
        // A detail that does not decode is left out; the code and message still stand.
      }
    }
    Status.Code code = status.getCode();
    boolean transport = code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED;
    boolean unreachable = transport && detailCount == 0 && !connected;
    String message = status.getDescription() != null ? status.getDescription() : String.valueOf(status.getCause());
    return new IAException(code, message, reason, metadata, violations, endpoint, unreachable, error);
  }

  /** A request the client refuses before sending it. */
  static IAException invalidArgument(String field, String description, String endpoint) {
    return new IAException(
        Status.Code.INVALID_ARGUMENT,
        field + ": " + description,
        "INVALID_ARGUMENT",
        Map.of(),
        List.of(new FieldViolation(field, description)),
        endpoint,
        false,
        null);
  }

  private static com.google.rpc.Status detailsOf(Throwable error) {
    if (error instanceof StatusRuntimeException || error instanceof StatusException) {
      return StatusProto.fromThrowable(error);
    }
    return null;
  }

  private static String describe(
      Status.Code code,
      String message,
      String reason,
      List<FieldViolation> violations,
      String endpoint,
      boolean unreachable) {
    if (unreachable) {
      return "cannot reach the IA Modules endpoint at " + endpoint + ": " + message
          + " (is the stack up? `ia-modules up`)";
    }
    StringBuilder text = new StringBuilder(code.name()).append(": ").append(message);
    if (reason != null) {
      text.append(" [").append(reason).append(']');
    }
    for (FieldViolation v : violations) {
      text.append("\n  ").append(v.field().isEmpty() ? "" : v.field() + ": ").append(v.description());
    }
    return text.toString();
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** The status message from the service. */
  public String statusMessage() {
    return statusMessage;
  }

  /** The stable UPPER_SNAKE reason of the {@code ErrorInfo} detail, or null. */
  public String reason() {
    return reason;
  }

  /** The {@code ErrorInfo} metadata, for example {@code {run_id=...}}. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The {@code BadRequest} details: which fields were wrong, and why. */
  public List<FieldViolation> fieldViolations() {
    return fieldViolations;
  }

  /** The address the client called. */
  public String endpoint() {
    return endpoint;
  }

  /** True when no connection to the endpoint could be made at all. */
  public boolean unreachable() {
    return unreachable;
  }
}
