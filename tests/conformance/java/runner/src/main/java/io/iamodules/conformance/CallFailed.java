package io.iamodules.conformance;

import java.util.List;
import java.util.Map;

/** A failed call as the client exposes it, normalized for a scenario's expect_error. */
final class CallFailed extends RuntimeException {
  private static final long serialVersionUID = 1L;

  final String code;
  final String reason;
  final Map<String, String> metadata;
  final List<String> fields;
  final boolean unreachable;

  CallFailed(
      String code, String message, String reason, Map<String, String> metadata, List<String> fields, boolean unreachable) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.metadata = metadata;
    this.fields = fields;
    this.unreachable = unreachable;
  }

  /** A step that could not be carried out, not an error from the service. */
  static CallFailed of(String message) {
    return new CallFailed("NONE", message, null, Map.of(), List.of(), false);
  }
}
