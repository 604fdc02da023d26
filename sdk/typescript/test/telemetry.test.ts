import assert from "node:assert/strict";
import { test } from "node:test";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { IAClient } from "../src/client.js";
import { IAError } from "../src/errors.js";
import { ErrorInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";
import { PluginKind } from "../src/gen/ia/plugin/v1/message_pb.js";
import { PluginHealth } from "../src/gen/ia/pluginhost/v1/message_pb.js";
import { PluginHostService } from "../src/gen/ia/pluginhost/v1/service_pb.js";
import { SpanStatus } from "../src/gen/ia/telemetry/v1/message_pb.js";
import type { QueryMetricsRequest } from "../src/gen/ia/telemetry/v1/request_response_pb.js";
import { TelemetryService } from "../src/gen/ia/telemetry/v1/service_pb.js";

/** A client whose plugin host and telemetry service are in-memory fakes; `seen` keeps their requests. */
function clientOf(seen: unknown[] = []): IAClient {
  const transport = createRouterTransport(({ service }) => {
    service(PluginHostService, {
      listPlugins(request) {
        seen.push(request);
        // Two pages of one plugin each, to show the client follows the token.
        return request.pageToken === ""
          ? { plugins: [{ name: "http", kinds: [PluginKind.STEP], health: PluginHealth.SERVING }], nextPageToken: "p2" }
          : { plugins: [{ name: "llm", kinds: [PluginKind.STEP] }] };
      },
      getPlugin(request) {
        throw new ConnectError(`no plugin ${request.name}`, Code.NotFound, undefined, [
          { desc: ErrorInfoSchema, value: { reason: "PLUGIN_NOT_FOUND" } },
        ]);
      },
    });
    service(TelemetryService, {
      listTraces(request) {
        seen.push(request);
        return { traces: [{ traceId: "a".repeat(32), runId: request.runId, status: SpanStatus.OK }] };
      },
      getTrace(request) {
        return { trace: { summary: { traceId: request.traceId }, spans: [{ spanId: "1", name: "run" }] } };
      },
      queryMetrics(request) {
        seen.push(request);
        return { series: [{ name: request.name, labels: { status: "succeeded" }, points: [{ count: 2n, sum: 1.5 }] }] };
      },
      listBenchmarks(request) {
        return { benchmarks: [{ benchmarkId: "b1", suite: request.suite }] };
      },
      getBenchmark(request) {
        return { benchmark: { benchmarkId: request.benchmarkId, suite: "engine" } };
      },
      recordBenchmark(request) {
        seen.push(request);
        return { benchmark: { suite: request.benchmark?.suite, figures: request.benchmark?.figures, benchmarkId: "new" } };
      },
    });
  });
  return new IAClient(transport, { endpoint: "memory" });
}

test("listPlugins walks every page", async () => {
  const seen: unknown[] = [];
  const names: string[] = [];
  for await (const plugin of clientOf(seen).listPlugins({ kind: PluginKind.STEP })) {
    names.push(plugin.name);
  }

  assert.deepEqual(names, ["http", "llm"]);
  assert.equal(seen.length, 2);
});

test("getPlugin of an unknown name throws IAError with its reason", async () => {
  const error = await clientOf().getPlugin("nope").catch((e: unknown) => e);

  assert.ok(error instanceof IAError);
  assert.equal(error.code, Code.NotFound);
  assert.equal(error.reason, "PLUGIN_NOT_FOUND");
});

test("listTraces sends its filters, times as timestamps", async () => {
  const seen: unknown[] = [];
  const traces = [];
  for await (const trace of clientOf(seen).listTraces({ runId: "run-1", from: 1_000, to: new Date(5_000) })) {
    traces.push(trace);
  }

  assert.equal(traces[0].runId, "run-1");
  const request = seen[0] as { runId: string; startTimeFrom: never; startTimeTo: never };
  assert.equal(timestampMs(request.startTimeFrom), 1_000);
  assert.equal(timestampMs(request.startTimeTo), 5_000);
});

test("getTrace returns the trace with its spans", async () => {
  const trace = await clientOf().getTrace("b".repeat(32));

  assert.equal(trace.summary?.traceId, "b".repeat(32));
  assert.deepEqual(trace.spans.map((s) => s.name), ["run"]);
});

test("queryMetrics sends the step as a duration and returns the series", async () => {
  const seen: unknown[] = [];
  const series = await clientOf(seen).queryMetrics({
    name: "pipeline_runs_finished_total",
    groupBy: ["state"],
    stepMs: 1_500,
  });

  assert.equal(series[0].labels.status, "succeeded");
  const request = seen[0] as QueryMetricsRequest;
  assert.deepEqual(request.groupBy, ["state"]);
  assert.equal(request.step?.seconds, 1n);
  assert.equal(request.step?.nanos, 500_000_000);
  assert.equal(request.startTime, undefined);
});

test("benchmarks: list, get and record", async () => {
  const seen: unknown[] = [];
  const client = clientOf(seen);
  const listed = [];
  for await (const run of client.listBenchmarks({ suite: "grpc" })) {
    listed.push(run.suite);
  }
  const one = await client.getBenchmark("b9");
  const recorded = await client.recordBenchmark(
    { suite: "dashboard", figures: [{ metric: "p50", unit: "ms", value: 12 }] },
    { requestId: "r1" },
  );

  assert.deepEqual(listed, ["grpc"]);
  assert.equal(one.benchmarkId, "b9");
  assert.equal(recorded.benchmarkId, "new");
  assert.equal(recorded.figures[0].value, 12);
  assert.equal((seen[0] as { requestId: string }).requestId, "r1");
});
