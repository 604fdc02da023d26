/**
 * The TypeScript client of IA Modules. Pick a transport:
 *
 *     import { createNodeClient } from "@ia-modules/sdk/node";   // gRPC, Node
 *     import { createWebClient } from "@ia-modules/sdk/web";     // gRPC-Web, browser
 *
 * This entry point holds what both share: the client (registry, executor,
 * plugin host, telemetry), its error, and the generated messages and enums of
 * the contracts.
 */
export {
  DEFAULT_TIMEOUT_MS,
  FINAL_RUN_STATES,
  IAClient,
  RECONNECT_ATTEMPTS,
  toPipeline,
  type Cancellable,
  type ClientOptions,
  type ListBenchmarksOptions,
  type ListPipelinesOptions,
  type ListPluginsOptions,
  type ListTracesOptions,
  type QueryMetricsOptions,
  type TimeLike,
  type ListRunsOptions,
  type ListTasksOptions,
  type PipelineSource,
  type StartRunOptions,
  type StepEditOptions,
  type WaitOptions,
  type WatchOptions,
} from "./client.js";
export { DEFAULT_ENDPOINT, baseUrl } from "./endpoint.js";
export { IAError, codeName, type FieldViolation } from "./errors.js";
export { bearerInterceptors, resolveToken } from "./token.js";
export { Code } from "@connectrpc/connect";
export * from "./gen/ia/executor/v1/message_pb.js";
export * from "./gen/ia/executor/v1/request_response_pb.js";
export { ExecutorService } from "./gen/ia/executor/v1/service_pb.js";
export * from "./gen/ia/pipeline/v1/pipeline_pb.js";
export * from "./gen/ia/registry/v1/message_pb.js";
export * from "./gen/ia/registry/v1/request_response_pb.js";
export { RegistryService } from "./gen/ia/registry/v1/service_pb.js";
export { LogLevel, PluginKind } from "./gen/ia/plugin/v1/message_pb.js";
export * from "./gen/ia/pluginhost/v1/message_pb.js";
export * from "./gen/ia/pluginhost/v1/request_response_pb.js";
export { PluginHostService } from "./gen/ia/pluginhost/v1/service_pb.js";
export * from "./gen/ia/telemetry/v1/message_pb.js";
export * from "./gen/ia/telemetry/v1/request_response_pb.js";
export { TelemetryService } from "./gen/ia/telemetry/v1/service_pb.js";
