import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { IAClient } from "../src/client.js";
import { IAError } from "../src/errors.js";
import { RunEventSchema, RunState, type RunEvent } from "../src/gen/ia/executor/v1/message_pb.js";
import type {
  ResumeRunRequest,
  StartRunRequest,
  StepRunRequest,
} from "../src/gen/ia/executor/v1/request_response_pb.js";
import { ExecutorService } from "../src/gen/ia/executor/v1/service_pb.js";

const stateEvent = (sequence: number, state: RunState): RunEvent =>
  create(RunEventSchema, { runId: "run-1", sequence: BigInt(sequence), kind: { case: "runStateChanged", value: { state } } });

function clientOf(executor: Partial<ServiceImpl<typeof ExecutorService>>): IAClient {
  return new IAClient(createRouterTransport(({ service }) => service(ExecutorService, executor)), { endpoint: "memory" });
}

test("startRun sends breakpoints, with or without a condition, and mocks", async () => {
  let sent: StartRunRequest | undefined;
  const client = clientOf({
    startRun(request: StartRunRequest) {
      sent = request;
      return { run: { runId: "run-1", state: RunState.PENDING } };
    },
  });

  await client.startRun({
    pipeline: "hello",
    breakpoints: ["greet", { stepId: "cheer", condition: "input.times > 2" }],
    mocks: { sign: { signature: "mocked" } },
  });

  assert.deepEqual(
    sent?.breakpoints.map((b) => [b.stepId, b.condition]),
    [["greet", ""], ["cheer", "input.times > 2"]],
  );
  assert.deepEqual(sent?.mocks, { sign: { signature: "mocked" } });
});

test("stepRun and resumeRun send the paused step and its edited inputs", async () => {
  let stepped: StepRunRequest | undefined;
  let resumed: ResumeRunRequest | undefined;
  const client = clientOf({
    stepRun(request: StepRunRequest) {
      stepped = request;
      return { run: { runId: request.runId, state: RunState.RUNNING } };
    },
    resumeRun(request: ResumeRunRequest) {
      resumed = request;
      return { run: { runId: request.runId, state: RunState.RUNNING } };
    },
  });

  await client.stepRun("run-1");
  const run = await client.resumeRun("run-1", { stepId: "cheer", inputs: { times: 5 } });

  assert.equal(run.state, RunState.RUNNING);
  assert.equal(stepped?.runId, "run-1");
  assert.equal(stepped?.stepId, "");
  assert.equal(stepped?.inputs, undefined);
  assert.equal(resumed?.stepId, "cheer");
  assert.deepEqual(resumed?.inputs, { times: 5 });
});

test("resuming a run that is not paused throws FAILED_PRECONDITION", async () => {
  const client = clientOf({
    resumeRun() {
      throw new ConnectError("the run is not paused", Code.FailedPrecondition);
    },
  });

  const error = await client.resumeRun("run-1").catch((e: unknown) => e);

  assert.ok(error instanceof IAError);
  assert.equal(error.codeName, "FAILED_PRECONDITION");
});

test("inspectRun returns the paused steps with their inputs", async () => {
  const client = clientOf({
    inspectRun(request: { runId: string }) {
      return {
        run: { runId: request.runId, state: RunState.PAUSED },
        paused: [{ stepId: "greet", input: { message: "hi" }, reason: "breakpoint" }],
        outputs: {},
      };
    },
  });

  const inspection = await client.inspectRun("run-1");

  assert.deepEqual(
    inspection.paused.map((p) => [p.stepId, p.input, p.reason]),
    [["greet", { message: "hi" }, "breakpoint"]],
  );
});

test("waitRun returns once the run is paused", async () => {
  const client = clientOf({
    async *watchRun() {
      yield { event: stateEvent(1, RunState.RUNNING) };
      yield { event: stateEvent(2, RunState.PAUSED) };
      await new Promise(() => {}); // the stream stays open while the run is paused
    },
    getRun() {
      return { run: { runId: "run-1", state: RunState.PAUSED } };
    },
  });

  const run = await client.waitRun("run-1");

  assert.equal(run.state, RunState.PAUSED);
});

test("waitRun reads past a pause that is history", async () => {
  const client = clientOf({
    async *watchRun() {
      yield { event: stateEvent(1, RunState.PAUSED) };
      yield { event: stateEvent(2, RunState.RUNNING) };
      yield { event: stateEvent(3, RunState.SUCCEEDED) };
    },
    getRun() {
      return { run: { runId: "run-1", state: RunState.SUCCEEDED } };
    },
  });
  const seen: number[] = [];

  const run = await client.waitRun("run-1", { onEvent: (e) => seen.push(Number(e.sequence)) });

  assert.equal(run.state, RunState.SUCCEEDED);
  assert.deepEqual(seen, [1, 2, 3]);
});
