import { create, fromJson, isMessage, type MessageInitShape, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type CallOptions, type Client, type Transport } from "@connectrpc/connect";
import {
  RunState,
  type BreakpointSchema,
  type HumanTaskState,
  type HumanTask,
  type Run,
  type RunEvent,
} from "./gen/ia/executor/v1/message_pb.js";
import { ExecutorService } from "./gen/ia/executor/v1/service_pb.js";
import { PipelineSchema, type Pipeline } from "./gen/ia/pipeline/v1/pipeline_pb.js";
import type { PipelineVersion } from "./gen/ia/registry/v1/message_pb.js";
import type { InspectRunResponse } from "./gen/ia/executor/v1/request_response_pb.js";
import type {
  CreatePipelineResponse,
  UpdatePipelineResponse,
  ValidatePipelineResponse,
} from "./gen/ia/registry/v1/request_response_pb.js";
import { RegistryService } from "./gen/ia/registry/v1/service_pb.js";
import type { PluginKind } from "./gen/ia/plugin/v1/message_pb.js";
import type { Plugin } from "./gen/ia/pluginhost/v1/message_pb.js";
import { PluginHostService } from "./gen/ia/pluginhost/v1/service_pb.js";
import {
  BenchmarkRunSchema,
  SpanStatus,
  type BenchmarkRun,
  type MetricSeries,
  type Trace,
  type TraceSummary,
} from "./gen/ia/telemetry/v1/message_pb.js";
import { TelemetryService } from "./gen/ia/telemetry/v1/service_pb.js";
import { IAError } from "./errors.js";

/** Deadline of each unary call, in milliseconds. Streams have none: a run may take hours. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** How often a broken WatchRun stream is reopened before giving up. */
export const RECONNECT_ATTEMPTS = 8;

/** The states a run never leaves. */
export const FINAL_RUN_STATES: ReadonlySet<RunState> = new Set([
  RunState.SUCCEEDED,
  RunState.FAILED,
  RunState.CANCELLED,
  RunState.TIMED_OUT,
]);

/** A definition: the generated message, or its canonical JSON (snake_case or camelCase names). */
export type PipelineSource = Pipeline | JsonObject;

export interface ClientOptions {
  /** The endpoint the transport talks to, for error messages. */
  endpoint: string;
  /** Deadline of each unary call; 0 for none. */
  timeoutMs?: number;
}

/** Aborts a call: every method takes one. */
export interface Cancellable {
  signal?: AbortSignal;
}

export interface StartRunOptions extends Cancellable {
  /** A registered pipeline's name... */
  pipeline?: string;
  /** ...or an inline definition. */
  definition?: PipelineSource;
  /** Registry revision; 0 (default) means the latest. */
  revision?: number | bigint;
  inputs?: JsonObject;
  /** Makes the start idempotent: the same id returns the same run. */
  requestId?: string;
  /**
   * Debugging: pause before these steps (see `resumeRun`, `stepRun`,
   * `inspectRun`), given as step ids or with a CEL condition.
   */
  breakpoints?: (string | { stepId: string; condition?: string })[];
  /** Debugging: canned outputs by step id; a mocked step completes with its mock and is never dispatched. */
  mocks?: Record<string, JsonObject>;
}

/** Which paused step to let go on, and the top-level fields to set in its input first. */
export interface StepEditOptions extends Cancellable {
  /** Empty (default) means the first paused step. */
  stepId?: string;
  /** Edit and continue: recorded as a `StepInputEdited` event. */
  inputs?: JsonObject;
}

export interface ListRunsOptions extends Cancellable {
  pipeline?: string;
  states?: RunState[];
  pageSize?: number;
}

export interface ListTasksOptions extends Cancellable {
  runId?: string;
  /** Empty means OPEN. */
  states?: HumanTaskState[];
  pageSize?: number;
}

export interface ListPipelinesOptions extends Cancellable {
  prefix?: string;
  labels?: Record<string, string>;
  pageSize?: number;
}

export interface ListPluginsOptions extends Cancellable {
  /** Only plugins of this kind; unspecified (default) means any. */
  kind?: PluginKind;
  pageSize?: number;
}

/** A time as a Date or as milliseconds since the epoch. */
export type TimeLike = Date | number;

export interface ListTracesOptions extends Cancellable {
  pipeline?: string;
  runId?: string;
  /** Only traces with this status; unspecified (default) means any. */
  status?: SpanStatus;
  /** Only traces that started at or after this time... */
  from?: TimeLike;
  /** ...and before this one. */
  to?: TimeLike;
  pageSize?: number;
}

export interface QueryMetricsOptions extends Cancellable {
  /** A metric name, e.g. `pipeline_step_duration_seconds`. */
  name: string;
  /** Only points carrying every one of these label values. */
  labels?: Record<string, string>;
  /** Keep only these labels (series differing in others are merged); empty keeps all. */
  groupBy?: string[];
  /** The range; the service defaults `to` to now and `from` to an hour before it. */
  from?: TimeLike;
  to?: TimeLike;
  /** The bucket width in milliseconds; 0 (default) means 60 s. */
  stepMs?: number;
}

export interface ListBenchmarksOptions extends Cancellable {
  suite?: string;
  labels?: Record<string, string>;
  pageSize?: number;
}

export interface WatchOptions extends Cancellable {
  /** Send events with a sequence number above this; 0 (default) replays all. */
  fromSequence?: number | bigint;
}

export interface WaitOptions extends Cancellable {
  /** Sees every event on the way, for progress displays. */
  onEvent?: (event: RunEvent) => void;
}

/**
 * A client of the services behind one endpoint (Envoy): the registry, the
 * executor, the plugin host and the telemetry service, over any
 * Connect transport: gRPC from Node (`@ia-modules/sdk/node`), gRPC-Web from the
 * browser (`@ia-modules/sdk/web`). Methods return the generated messages and
 * throw `IAError` for every failed call; lists and streams are async iterables.
 */
export class IAClient {
  /** The generated clients, for calls this layer does not wrap. */
  readonly registry: Client<typeof RegistryService>;
  readonly executor: Client<typeof ExecutorService>;
  readonly pluginHost: Client<typeof PluginHostService>;
  readonly telemetry: Client<typeof TelemetryService>;
  readonly endpoint: string;
  private readonly timeoutMs: number;

  constructor(transport: Transport, options: ClientOptions) {
    this.registry = createClient(RegistryService, transport);
    this.executor = createClient(ExecutorService, transport);
    this.pluginHost = createClient(PluginHostService, transport);
    this.telemetry = createClient(TelemetryService, transport);
    this.endpoint = options.endpoint;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  // Registry

  /** Stores a new pipeline as revision 1; the response has `.pipeline` and `.warnings`. */
  createPipeline(
    pipeline: PipelineSource,
    options: Cancellable & { requestId?: string } = {},
  ): Promise<CreatePipelineResponse> {
    return this.call((o) =>
      this.registry.createPipeline({ pipeline: toPipeline(pipeline), requestId: options.requestId ?? "" }, o),
      options,
    );
  }

  /** A revision of a pipeline; 0 (default) means the latest. */
  async getPipeline(name: string, options: Cancellable & { revision?: number | bigint } = {}): Promise<PipelineVersion> {
    const response = await this.call(
      (o) => this.registry.getPipeline({ name, revision: BigInt(options.revision ?? 0) }, o),
      options,
    );
    return required(response.pipeline, "pipeline");
  }

  /** The latest revision of every pipeline, by name; pages are fetched as you iterate. */
  listPipelines(options: ListPipelinesOptions = {}): AsyncIterable<PipelineVersion> {
    return this.pages(async (pageToken) => {
      const page = await this.call(
        (o) =>
          this.registry.listPipelines(
            { namePrefix: options.prefix ?? "", labels: options.labels ?? {}, pageSize: options.pageSize ?? 0, pageToken },
            o,
          ),
        options,
      );
      return [page.pipelines, page.nextPageToken];
    });
  }

  /** Stores a new revision; an empty `updateMask` replaces the whole definition. */
  updatePipeline(
    pipeline: PipelineSource,
    options: Cancellable & { updateMask?: string[]; etag?: string } = {},
  ): Promise<UpdatePipelineResponse> {
    return this.call(
      (o) =>
        this.registry.updatePipeline(
          { pipeline: toPipeline(pipeline), updateMask: { paths: options.updateMask ?? [] }, etag: options.etag ?? "" },
          o,
        ),
      options,
    );
  }

  /** Deletes a pipeline and all its revisions; returns how many were deleted. */
  async deletePipeline(name: string, options: Cancellable & { etag?: string } = {}): Promise<number> {
    const response = await this.call((o) => this.registry.deletePipeline({ name, etag: options.etag ?? "" }, o), options);
    return Number(response.deletedRevisions);
  }

  /** Validates a definition (JSON text in any dialect, or an object) without storing it. */
  validatePipeline(
    definition: string | JsonObject,
    options: Cancellable & { strict?: boolean } = {},
  ): Promise<ValidatePipelineResponse> {
    const definitionJson = typeof definition === "string" ? definition : JSON.stringify(definition);
    return this.call(
      (o) =>
        this.registry.validatePipeline(
          { source: { case: "definitionJson", value: definitionJson }, strict: options.strict ?? false },
          o,
        ),
      options,
    );
  }

  // Executor

  /** Starts a run of a registered pipeline or an inline definition. */
  async startRun(options: StartRunOptions): Promise<Run> {
    const pipeline =
      options.definition !== undefined
        ? { case: "definition" as const, value: toPipeline(options.definition) }
        : { case: "pipelineName" as const, value: options.pipeline ?? "" };
    const response = await this.call(
      (o) =>
        this.executor.startRun(
          {
            pipeline,
            revision: BigInt(options.revision ?? 0),
            inputs: options.inputs ?? {},
            requestId: options.requestId ?? "",
            breakpoints: (options.breakpoints ?? []).map(toBreakpoint),
            mocks: options.mocks,
          },
          o,
        ),
      options,
    );
    return required(response.run, "run");
  }

  /** A run with the state of each step. */
  async getRun(runId: string, options: Cancellable = {}): Promise<Run> {
    const response = await this.call((o) => this.executor.getRun({ runId }, o), options);
    return required(response.run, "run");
  }

  /** Cancels a run and whatever it has in flight. */
  async cancelRun(runId: string, options: Cancellable & { reason?: string } = {}): Promise<Run> {
    const response = await this.call((o) => this.executor.cancelRun({ runId, reason: options.reason ?? "" }, o), options);
    return required(response.run, "run");
  }

  /** Runs, newest first, without step details; pages are fetched as you iterate. */
  listRuns(options: ListRunsOptions = {}): AsyncIterable<Run> {
    return this.pages(async (pageToken) => {
      const page = await this.call(
        (o) =>
          this.executor.listRuns(
            { pipelineName: options.pipeline ?? "", states: options.states ?? [], pageSize: options.pageSize ?? 0, pageToken },
            o,
          ),
        options,
      );
      return [page.runs, page.nextPageToken];
    });
  }

  /**
   * The run's events after `fromSequence`, then live ones until it ends. A stream
   * that breaks with UNAVAILABLE after delivering events is reopened from the last
   * sequence seen, so no event is lost or repeated. Break out of the loop (or
   * abort the signal) to hang up.
   */
  async *watchRun(runId: string, options: WatchOptions = {}): AsyncGenerator<RunEvent> {
    const from = BigInt(options.fromSequence ?? 0);
    let last = from;
    let failures = 0;
    for (;;) {
      try {
        const request = { runId, fromSequence: last, batch: true };
        for await (const response of this.executor.watchRun(request, { signal: options.signal })) {
          // Batched responses carry `events`; a server that predates batching sends `event`.
          const events = response.events?.length ? response.events : response.event ? [response.event] : [];
          for (const event of events) {
            last = event.sequence;
            failures = 0;
            yield event;
          }
        }
        return;
      } catch (error) {
        const wrapped = IAError.from(error, this.endpoint);
        const resumable = wrapped.code === Code.Unavailable && last > from;
        if (!resumable || failures >= RECONNECT_ATTEMPTS) {
          throw wrapped;
        }
        failures += 1;
        await delay(Math.min(200 * 2 ** (failures - 1), 2000), options.signal);
      }
    }
  }

  /**
   * Watches a run until it ends, waits for a person's input or is paused (at a
   * breakpoint, or after `stepRun`), and returns it then.
   */
  async waitRun(runId: string, options: WaitOptions = {}): Promise<Run> {
    for await (const event of this.watchRun(runId, { signal: options.signal })) {
      options.onEvent?.(event);
      if (event.kind.case !== "runStateChanged") {
        continue;
      }
      const state = event.kind.value.state;
      if (FINAL_RUN_STATES.has(state)) {
        break;
      }
      if (state === RunState.WAITING_FOR_INPUT && (await this.waitsForInput(runId, options))) {
        break;
      }
      // A replayed pause may be history: the run is paused only if it still says so.
      if (state === RunState.PAUSED && (await this.getRun(runId, options)).state === RunState.PAUSED) {
        break;
      }
    }
    return this.getRun(runId, options);
  }

  /**
   * Lets a paused run go on: every step it holds runs, and it pauses again only
   * at a breakpoint. FAILED_PRECONDITION when the run is not paused.
   */
  async resumeRun(runId: string, options: StepEditOptions = {}): Promise<Run> {
    const response = await this.call(
      (o) => this.executor.resumeRun({ runId, stepId: options.stepId ?? "", inputs: options.inputs }, o),
      options,
    );
    return required(response.run, "run");
  }

  /** Runs exactly one paused step, then pauses again before the next one; fails like `resumeRun`. */
  async stepRun(runId: string, options: StepEditOptions = {}): Promise<Run> {
    const response = await this.call(
      (o) => this.executor.stepRun({ runId, stepId: options.stepId ?? "", inputs: options.inputs }, o),
      options,
    );
    return required(response.run, "run");
  }

  /** The paused steps with their resolved inputs, the outputs so far and every condition evaluated. */
  inspectRun(runId: string, options: Cancellable = {}): Promise<InspectRunResponse> {
    return this.call((o) => this.executor.inspectRun({ runId }, o), options);
  }

  /** Human-input tasks, OPEN ones unless `states` says otherwise. */
  listHumanTasks(options: ListTasksOptions = {}): AsyncIterable<HumanTask> {
    return this.pages(async (pageToken) => {
      const page = await this.call(
        (o) =>
          this.executor.listHumanTasks(
            { runId: options.runId ?? "", states: options.states ?? [], pageSize: options.pageSize ?? 0, pageToken },
            o,
          ),
        options,
      );
      return [page.tasks, page.nextPageToken];
    });
  }

  /**
   * Answers a task, which resumes its run. An answer that does not match the
   * task's ui_schema throws INVALID_ARGUMENT with one field violation per problem.
   */
  async submitHumanInput(
    taskId: string,
    data: JsonObject,
    options: Cancellable & { submitter?: string } = {},
  ): Promise<HumanTask> {
    const response = await this.call(
      (o) => this.executor.submitHumanInput({ taskId, data, submitter: options.submitter ?? "" }, o),
      options,
    );
    return required(response.task, "task");
  }

  // Plugin host

  /** The plugins the host knows, by name, with health, restarts, grants and config schema. */
  listPlugins(options: ListPluginsOptions = {}): AsyncIterable<Plugin> {
    return this.pages(async (pageToken) => {
      const page = await this.call(
        (o) => this.pluginHost.listPlugins({ kind: options.kind ?? 0, pageSize: options.pageSize ?? 0, pageToken }, o),
        options,
      );
      return [page.plugins, page.nextPageToken];
    });
  }

  /** One plugin; NOT_FOUND (PLUGIN_NOT_FOUND) when no plugin has that name. */
  async getPlugin(name: string, options: Cancellable = {}): Promise<Plugin> {
    const response = await this.call((o) => this.pluginHost.getPlugin({ name }, o), options);
    return required(response.plugin, "plugin");
  }

  // Telemetry

  /** Stored traces, newest first; pages are fetched as you iterate. */
  listTraces(options: ListTracesOptions = {}): AsyncIterable<TraceSummary> {
    return this.pages(async (pageToken) => {
      const page = await this.call(
        (o) =>
          this.telemetry.listTraces(
            {
              pipeline: options.pipeline ?? "",
              runId: options.runId ?? "",
              status: options.status ?? SpanStatus.UNSPECIFIED,
              startTimeFrom: timestamp(options.from),
              startTimeTo: timestamp(options.to),
              pageSize: options.pageSize ?? 0,
              pageToken,
            },
            o,
          ),
        options,
      );
      return [page.traces, page.nextPageToken];
    });
  }

  /** Every stored span of a trace, by start time; NOT_FOUND (TRACE_NOT_FOUND) when none is. */
  async getTrace(traceId: string, options: Cancellable = {}): Promise<Trace> {
    const response = await this.call((o) => this.telemetry.getTrace({ traceId }, o), options);
    return required(response.trace, "trace");
  }

  /** A metric's series in buckets (count, sum, min, max each), for charts. */
  async queryMetrics(options: QueryMetricsOptions): Promise<MetricSeries[]> {
    const stepMs = options.stepMs ?? 0;
    const response = await this.call(
      (o) =>
        this.telemetry.queryMetrics(
          {
            name: options.name,
            labels: options.labels ?? {},
            groupBy: options.groupBy ?? [],
            startTime: timestamp(options.from),
            endTime: timestamp(options.to),
            step: stepMs ? { seconds: BigInt(Math.floor(stepMs / 1000)), nanos: Math.round((stepMs % 1000) * 1e6) } : undefined,
          },
          o,
        ),
      options,
    );
    return response.series;
  }

  /** Recorded benchmark runs, newest first; pages are fetched as you iterate. */
  listBenchmarks(options: ListBenchmarksOptions = {}): AsyncIterable<BenchmarkRun> {
    return this.pages(async (pageToken) => {
      const page = await this.call(
        (o) =>
          this.telemetry.listBenchmarks(
            { suite: options.suite ?? "", labels: options.labels ?? {}, pageSize: options.pageSize ?? 0, pageToken },
            o,
          ),
        options,
      );
      return [page.benchmarks, page.nextPageToken];
    });
  }

  /** One recorded benchmark run; NOT_FOUND (BENCHMARK_NOT_FOUND) when there is none. */
  async getBenchmark(benchmarkId: string, options: Cancellable = {}): Promise<BenchmarkRun> {
    const response = await this.call((o) => this.telemetry.getBenchmark({ benchmarkId }, o), options);
    return required(response.benchmark, "benchmark");
  }

  /** Records one benchmark suite run; the service assigns its id and create time. */
  async recordBenchmark(
    benchmark: MessageInitShape<typeof BenchmarkRunSchema>,
    options: Cancellable & { requestId?: string } = {},
  ): Promise<BenchmarkRun> {
    const response = await this.call(
      (o) => this.telemetry.recordBenchmark({ benchmark: create(BenchmarkRunSchema, benchmark), requestId: options.requestId ?? "" }, o),
      options,
    );
    return required(response.benchmark, "benchmark");
  }

  // A replayed WAITING_FOR_INPUT event may be history: the run waits only if it
  // still says so and a task is still open.
  private async waitsForInput(runId: string, options: Cancellable): Promise<boolean> {
    if ((await this.getRun(runId, options)).state !== RunState.WAITING_FOR_INPUT) {
      return false;
    }
    for await (const _ of this.listHumanTasks({ runId, pageSize: 1, signal: options.signal })) {
      return true;
    }
    return false;
  }

  private async call<T>(send: (options: CallOptions) => Promise<T>, options: Cancellable): Promise<T> {
    try {
      return await send({ signal: options.signal, timeoutMs: this.timeoutMs || undefined });
    } catch (error) {
      throw IAError.from(error, this.endpoint);
    }
  }

  private async *pages<T>(fetch: (pageToken: string) => Promise<[T[], string]>): AsyncGenerator<T> {
    let token = "";
    do {
      const [items, next] = await fetch(token);
      yield* items;
      token = next;
    } while (token);
  }
}

/** The canonical message of a definition given as a message or as canonical JSON. */
export function toPipeline(source: PipelineSource): Pipeline {
  if (isMessage(source, PipelineSchema)) {
    return source;
  }
  try {
    return fromJson(PipelineSchema, source as JsonValue);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new IAError(Code.InvalidArgument, `not a canonical pipeline definition: ${message}`, {
      reason: "INVALID_ARGUMENT",
      fieldViolations: [{ field: "pipeline", description: message }],
    });
  }
}

function toBreakpoint(point: string | { stepId: string; condition?: string }): MessageInitShape<typeof BreakpointSchema> {
  return typeof point === "string" ? { stepId: point } : { stepId: point.stepId, condition: point.condition ?? "" };
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) {
    throw new IAError(Code.Internal, `the response has no ${field}`);
  }
  return value;
}

function timestamp(time: TimeLike | undefined) {
  return time === undefined ? undefined : timestampFromMs(typeof time === "number" ? time : time.getTime());
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(IAError.from(signal.reason));
    }, { once: true });
  });
}

