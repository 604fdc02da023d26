package io.iamodules.sdk;

/**
 * One entry of a {@code google.rpc.BadRequest}.
 *
 * @param field a JSON path into the request, for example {@code steps[2].inputs.topic}
 * @param description what is wrong with it
 */
public record FieldViolation(String field, String description) {}
