/** The plugins this process serves: the step `ts_reverse`. */

import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../../src/gen/google/rpc/error_details_pb.js";
import { type PluginDescriptor, PluginKind } from "../../../src/gen/ia/plugin/v1/message_pb.js";
import type { PluginService } from "../../../src/gen/ia/plugin/v1/service_pb.js";

const DESCRIPTORS: PluginDescriptor[] = [
  {
    $typeName: "ia.plugin.v1.PluginDescriptor",
    name: "ts_reverse",
    version: "1.0.0",
    kinds: [PluginKind.STEP],
    description: "Reverses the input string field named by `field` (default `text`).",
    configSchema: {
      type: "object",
      additionalProperties: false,
      properties: { field: { type: "string", minLength: 1, default: "text" } },
    },
  },
];

/** An error status with the ErrorInfo (and BadRequest) the plugin contract asks for. */
function failure(code: Code, reason: string, message: string, field?: string): ConnectError {
  const details = [{ desc: ErrorInfoSchema, value: { reason, domain: "ia-modules" } }];
  const violations = field
    ? [{ desc: BadRequestSchema, value: { fieldViolations: [{ field, description: message }] } }]
    : [];
  return new ConnectError(message, code, undefined, [...details, ...violations]);
}

function checkPlugin(name: string, kind: PluginKind): void {
  const descriptor = DESCRIPTORS.find((d) => d.name === name);
  if (descriptor === undefined) {
    throw failure(Code.NotFound, "PLUGIN_NOT_FOUND", `this process serves no plugin "${name}"`);
  }
  if (!descriptor.kinds.includes(kind)) {
    throw failure(Code.Unimplemented, "KIND_NOT_SUPPORTED", `plugin "${name}" is not a ${PluginKind[kind]} plugin`);
  }
}

function configuredField(config: JsonObject | undefined): string {
  const field = config?.["field"] ?? "text";
  if (typeof field !== "string" || field === "") {
    throw failure(Code.InvalidArgument, "INVALID_CONFIG", "must be a non-empty string", "config.field");
  }
  return field;
}

/** Reverses by code point, so that characters outside the BMP stay whole. */
export function reverse(text: string): string {
  return Array.from(text).reverse().join("");
}

/** PluginService for this process; kinds it does not have answer Unimplemented. */
export const pluginService: Partial<ServiceImpl<typeof PluginService>> = {
  describe() {
    return { plugins: DESCRIPTORS, protocolVersion: 1 };
  },

  async *executeStep(request) {
    checkPlugin(request.plugin, PluginKind.STEP);
    const field = configuredField(request.config);
    const value = request.input?.[field];
    if (typeof value !== "string") {
      throw failure(Code.InvalidArgument, "INVALID_INPUT", "must be a string", `input.${field}`);
    }
    yield { message: { case: "result", value: { output: { [field]: reverse(value) } } } };
  },
};
