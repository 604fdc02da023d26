import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { IAClient } from "../src/client.js";
import { IAError } from "../src/errors.js";
import { BadRequestSchema, ErrorInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";
import { RunEventSchema, RunState, type RunEvent } from "../src/gen/ia/executor/v1/message_pb.js";
import { ExecutorService } from "../src/gen/ia/executor/v1/service_pb.js";
import { RegistryService } from "../src/gen/ia/registry/v1/service_pb.js";
import { createNodeClient } from "../src/node.js";
import { bearerInterceptors } from "../src/token.js";

const stateEvent = (sequence: number, state: RunState): RunEvent =>
  create(RunEventSchema, {
    runId: "run-1",
    sequence: BigInt(sequence),
    kind: { case: "runStateChanged", value: { state } },
  });

/** A client of in-memory fakes: `executor` overrides the executor's methods. */
function clientOf(executor: Partial<ServiceImpl<typeof ExecutorService>>): IAClient {
  const transport = createRouterTransport(({ service }) => {
    service(ExecutorService, executor);
    service(RegistryService, {
      getPipeline(request) {
        return { pipeline: { name: request.name, revision: 1n } };
      },
    });
  });
  return new IAClient(transport, { endpoint: "memory" });
}

test("NOT_FOUND keeps its code, reason and metadata", async () => {
  const client = clientOf({
    getRun(request: { runId: string }) {
      throw new ConnectError("run does not exist", Code.NotFound, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "RUN_NOT_FOUND", metadata: { run_id: request.runId } } },
      ]);
    },
  });

  const error = await client.getRun("nope").catch((e: unknown) => e);

  assert.ok(error instanceof IAError);
  assert.equal(error.code, Code.NotFound);
  assert.equal(error.codeName, "NOT_FOUND");
  assert.equal(error.reason, "RUN_NOT_FOUND");
  assert.deepEqual(error.metadata, { run_id: "nope" });
  assert.equal(error.unreachable, false);
  assert.equal(error.message, "NOT_FOUND: run does not exist [RUN_NOT_FOUND]");
});

test("INVALID_ARGUMENT keeps its field violations", async () => {
  const client = clientOf({
    submitHumanInput() {
      throw new ConnectError("the answer does not match", Code.InvalidArgument, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "INVALID_INPUT" } },
        { desc: BadRequestSchema, value: { fieldViolations: [{ field: "data.approved", description: "not a boolean" }] } },
      ]);
    },
  });

  const error = await client.submitHumanInput("task-1", { approved: "yes" }).catch((e: unknown) => e);

  assert.ok(error instanceof IAError);
  assert.deepEqual(error.fieldViolations, [{ field: "data.approved", description: "not a boolean" }]);
  assert.match(error.message, /\n {2}data\.approved: not a boolean$/);
});

test("a definition that is not canonical JSON is refused before sending", async () => {
  const client = clientOf({});

  const error = await client.createPipeline({ name: "p", stepz: [] }).catch((e: unknown) => e);

  assert.ok(error instanceof IAError);
  assert.equal(error.code, Code.InvalidArgument);
  assert.match(error.message, /stepz/);
});

test("watchRun reopens a broken stream from the last sequence seen", async () => {
  const opened: bigint[] = [];
  const client = clientOf({
    async *watchRun(request: { fromSequence: bigint }) {
      opened.push(request.fromSequence);
      for (let sequence = Number(request.fromSequence) + 1; sequence <= 4; sequence++) {
        if (opened.length === 1 && sequence === 3) {
          throw new ConnectError("executor restarting", Code.Unavailable);
        }
        yield { event: stateEvent(sequence, RunState.RUNNING) };
      }
    },
  });

  const sequences: number[] = [];
  for await (const event of client.watchRun("run-1")) {
    sequences.push(Number(event.sequence));
  }

  assert.deepEqual(sequences, [1, 2, 3, 4]);
  assert.deepEqual(opened, [0n, 2n]);
});

test("watchRun asks for batches and yields their events one by one", async () => {
  const requests: { batch: boolean }[] = [];
  const client = clientOf({
    async *watchRun(request: { batch: boolean }) {
      requests.push(request);
      yield { events: [stateEvent(1, RunState.RUNNING), stateEvent(2, RunState.RUNNING)] };
      yield { events: [stateEvent(3, RunState.SUCCEEDED)] };
    },
  });

  const sequences: number[] = [];
  for await (const event of client.watchRun("run-1")) {
    sequences.push(Number(event.sequence));
  }

  assert.deepEqual(sequences, [1, 2, 3]);
  assert.equal(requests[0].batch, true);
});

test("watchRun does not reopen a stream that failed before any event", async () => {
  const client = clientOf({
    async *watchRun() {
      throw new ConnectError("run does not exist", Code.NotFound);
    },
  });

  const error = await (async () => {
    for await (const _ of client.watchRun("nope")) {
      // nothing arrives
    }
  })().catch((e: unknown) => e);

  assert.ok(error instanceof IAError);
  assert.equal(error.code, Code.NotFound);
});

test("waitRun returns once the run waits for a person", async () => {
  const client = clientOf({
    async *watchRun() {
      yield { event: stateEvent(1, RunState.RUNNING) };
      yield { event: stateEvent(2, RunState.WAITING_FOR_INPUT) };
      await new Promise(() => {}); // the stream stays open while the run waits
    },
    getRun() {
      return { run: { runId: "run-1", state: RunState.WAITING_FOR_INPUT } };
    },
    listHumanTasks() {
      return { tasks: [{ taskId: "task-1" }] };
    },
  });
  const seen: number[] = [];

  const run = await client.waitRun("run-1", { onEvent: (e) => seen.push(Number(e.sequence)) });

  assert.equal(run.state, RunState.WAITING_FOR_INPUT);
  assert.deepEqual(seen, [1, 2]);
});

test("listRuns fetches every page", async () => {
  const ids = ["a", "b", "c", "d", "e"];
  const client = clientOf({
    listRuns(request: { pageSize: number; pageToken: string }) {
      const start = Number(request.pageToken || 0);
      const end = Math.min(start + request.pageSize, ids.length);
      return {
        runs: ids.slice(start, end).map((runId) => ({ runId })),
        nextPageToken: end < ids.length ? String(end) : "",
      };
    },
  });

  const listed: string[] = [];
  for await (const run of client.listRuns({ pageSize: 2 })) {
    listed.push(run.runId);
  }

  assert.deepEqual(listed, ids);
});

test("an endpoint where nothing listens is unreachable, and says so", async () => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const client = createNodeClient(`127.0.0.1:${port}`, { timeoutMs: 10_000 });

  const error = await client.getPipeline("p").catch((e: unknown) => e);
  client.close();

  assert.ok(error instanceof IAError);
  assert.equal(error.unreachable, true);
  assert.equal(error.code, Code.Unavailable);
  assert.match(error.message, new RegExp(`^cannot reach the IA Modules endpoint at 127\\.0\\.0\\.1:${port}`));
});

test("the token option, else IA_TOKEN, is sent as a bearer token", async () => {
  const seen: (string | null)[] = [];
  const clientWith = (token?: string): IAClient =>
    new IAClient(
      createRouterTransport(
        ({ service }) => {
          service(RegistryService, {
            getPipeline(request, context) {
              seen.push(context.requestHeader.get("authorization"));
              return { pipeline: { name: request.name, revision: 1n } };
            },
          });
        },
        { transport: { interceptors: bearerInterceptors(token) } },
      ),
      { endpoint: "memory" },
    );
  const before = process.env.IA_TOKEN;
  try {
    process.env.IA_TOKEN = "from-env";
    await clientWith().getPipeline("p");
    await clientWith("iak_given").getPipeline("p");
    delete process.env.IA_TOKEN;
    await clientWith().getPipeline("p");
  } finally {
    if (before === undefined) delete process.env.IA_TOKEN;
    else process.env.IA_TOKEN = before;
  }

  assert.deepEqual(seen, ["Bearer from-env", "Bearer iak_given", null]);
});
