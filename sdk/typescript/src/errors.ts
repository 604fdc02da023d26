import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
} from "./gen/google/rpc/error_details_pb.js";

/** One BadRequest field violation: `field` is a JSON path, e.g. `steps[2].inputs.topic`. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** Node's error codes for a connection that could not be made. */
const CONNECT_FAILURES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
]);

/**
 * The one error type every call of the client throws. It keeps the gRPC code
 * and the google.rpc details the service sent, so callers branch on the stable
 * `reason` rather than on message text:
 *
 *     try { await client.getPipeline("etl"); }
 *     catch (e) { if (e instanceof IAError && e.reason === "PIPELINE_NOT_FOUND") ... }
 */
export class IAError extends Error {
  override readonly name = "IAError";

  constructor(
    /** The gRPC status code (Connect's `Code` enum has the gRPC numbers). */
    readonly code: Code,
    /** The status message from the service. */
    readonly rawMessage: string,
    readonly details: {
      /** The stable UPPER_SNAKE reason of the ErrorInfo detail. */
      reason?: string;
      /** The ErrorInfo metadata, e.g. `{ run_id: "..." }`. */
      metadata?: Record<string, string>;
      fieldViolations?: FieldViolation[];
      /** The endpoint the client called. */
      endpoint?: string;
      /** True when no connection to the endpoint could be made at all. */
      unreachable?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(describe(code, rawMessage, details), { cause: details.cause });
  }

  /** The code as the contracts spell it: `NOT_FOUND`. */
  get codeName(): string {
    return codeName(this.code);
  }

  get reason(): string | undefined {
    return this.details.reason;
  }

  get metadata(): Record<string, string> {
    return this.details.metadata ?? {};
  }

  get fieldViolations(): FieldViolation[] {
    return this.details.fieldViolations ?? [];
  }

  get endpoint(): string | undefined {
    return this.details.endpoint;
  }

  get unreachable(): boolean {
    return this.details.unreachable ?? false;
  }

  /** Wraps whatever a Connect call threw. */
  static from(error: unknown, endpoint?: string): IAError {
    if (error instanceof IAError) {
      return error;
    }
    const connectError = ConnectError.from(error);
    const [info] = connectError.findDetails(ErrorInfoSchema);
    const fieldViolations = connectError
      .findDetails(BadRequestSchema)
      .flatMap((request) => request.fieldViolations)
      .map(({ field, description }) => ({ field, description }));
    const unreachable = connectError.details.length === 0 && connectFailure(connectError);
    // fetch reports a refused connection as UNKNOWN; gRPC calls it UNAVAILABLE.
    const code = unreachable && connectError.code === Code.Unknown ? Code.Unavailable : connectError.code;
    return new IAError(code, connectError.rawMessage, {
      reason: info?.reason || undefined,
      metadata: info ? { ...info.metadata } : undefined,
      fieldViolations,
      endpoint,
      unreachable,
      cause: error,
    });
  }
}

/** `NOT_FOUND` for Code.NotFound. */
export function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/(?<=[a-z])(?=[A-Z])/g, "_").toUpperCase();
}

/**
 * True when the call failed before any response: no response headers, and a
 * network error in the cause chain (Node's http2, or fetch in the browser) or a
 * plain UNAVAILABLE.
 */
function connectFailure(error: ConnectError): boolean {
  if ([...error.metadata.keys()].length > 0) {
    return false;
  }
  const seen = new Set<unknown>();
  for (let cause: unknown = error.cause; cause && !seen.has(cause); ) {
    seen.add(cause);
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && CONNECT_FAILURES.has(code)) {
      return true;
    }
    if (cause instanceof TypeError && error.code === Code.Unknown) {
      // fetch reports an unreachable server as "TypeError: fetch failed".
      return true;
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return error.code === Code.Unavailable;
}

function describe(
  code: Code,
  message: string,
  details: IAError["details"],
): string {
  if (details.unreachable) {
    return `cannot reach the IA Modules endpoint at ${details.endpoint}: ${message} (is the stack up? \`ia-modules up\`)`;
  }
  let text = `${codeName(code)}: ${message}`;
  if (details.reason) {
    text += ` [${details.reason}]`;
  }
  for (const { field, description } of details.fieldViolations ?? []) {
    text += field ? `\n  ${field}: ${description}` : `\n  ${description}`;
  }
  return text;
}
