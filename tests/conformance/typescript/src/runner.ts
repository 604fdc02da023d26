// Runs tests/conformance/scenarios.json with the TypeScript SDK, over gRPC
// (connect-node) or gRPC-Web (connect-web, as the browser does). Prints one JSON
// line per scenario, then `<label>: N passed, N failed`; exits 1 if any failed.
//
//   node dist/runner.js --endpoint 127.0.0.1:8080 --namespace ts-1 [--transport grpc-web]
import { parseArgs } from "node:util";
import {
  HumanTaskState,
  IAClient,
  IAError,
  RunState,
  StepState,
  type Run,
} from "@ia-modules/sdk";
import { createNodeClient } from "@ia-modules/sdk/node";
import { createWebClient } from "@ia-modules/sdk/web";
import { CallFailed, Scenario, loadDocument, plain, type Handler, type Json, type Step } from "./scenario.js";

const { values } = parseArgs({
  options: {
    endpoint: { type: "string" },
    namespace: { type: "string" },
    scenarios: { type: "string", default: new URL("../../scenarios.json", import.meta.url).pathname },
    transport: { type: "string", default: "grpc" },
    only: { type: "string", multiple: true },
  },
});
if (!values.endpoint || !values.namespace || !["grpc", "grpc-web"].includes(values.transport!)) {
  console.error("usage: runner.js --endpoint HOST:PORT --namespace NS [--transport grpc|grpc-web] [--only NAME]");
  process.exit(2);
}

const connect = (endpoint: string, timeoutMs?: number): IAClient & { close?: () => void } =>
  values.transport === "grpc-web"
    ? createWebClient(`http://${endpoint}`, { timeoutMs })
    : createNodeClient(endpoint, { timeoutMs });

/** The SDK's error, normalized for the scenario's expect_error. */
function failed(error: unknown): CallFailed {
  const e = IAError.from(error);
  return new CallFailed(
    e.codeName,
    e.message,
    e.reason,
    e.metadata,
    e.fieldViolations.map((v) => v.field),
    e.unreachable,
  );
}

/** `watchRun` camelCase oneof cases as the scenario file writes them. */
const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function runResult(run: Run) {
  return {
    state: RunState[run.state],
    outputs: run.outputs ?? {},
    steps: Object.fromEntries(run.steps.map((s) => [s.stepId, StepState[s.state]])),
  };
}

function handlers(client: IAClient): { [kind: string]: Handler } {
  const wrap =
    (handler: Handler): Handler =>
    async (step) => {
      try {
        return await handler(step);
      } catch (error) {
        throw error instanceof CallFailed ? error : failed(error);
      }
    };
  const table: { [kind: string]: Handler } = {
    async create_pipeline(step) {
      const created = await client.createPipeline(step.definition as { [key: string]: Json });
      return [{ revision: created.pipeline?.revision }, created.pipeline?.name];
    },
    async get_pipeline(step) {
      const version = await client.getPipeline(step.name as string, { revision: (step.revision as number) ?? 0 });
      return [{ revision: version.revision, step_ids: version.definition?.steps.map((s) => s.id) }, version.name];
    },
    async list_pipelines(step) {
      const names: string[] = [];
      for await (const version of client.listPipelines({ prefix: step.prefix as string, pageSize: step.page_size as number })) {
        names.push(version.name);
      }
      return [{ names }, names];
    },
    async delete_pipeline(step) {
      return [{ deleted_revisions: await client.deletePipeline(step.name as string) }, null];
    },
    async start_run(step) {
      const ids: string[] = [];
      for (let i = 0; i < ((step.count as number) ?? 1); i++) {
        const run = await client.startRun({
          pipeline: step.pipeline as string,
          inputs: (step.inputs ?? {}) as { [key: string]: Json },
          breakpoints: (step.breakpoints ?? []) as string[],
        });
        ids.push(run.runId);
      }
      return [{ run_ids: ids }, "count" in step ? ids : ids[0]];
    },
    async wait_run(step) {
      const run = await client.waitRun(step.run as string);
      return [runResult(run), run.runId];
    },
    async get_run(step) {
      const run = await client.getRun(step.run as string);
      return [runResult(run), run.runId];
    },
    async inspect_run(step) {
      const inspection = await client.inspectRun(step.run as string);
      const result = {
        state: RunState[inspection.run?.state ?? RunState.UNSPECIFIED],
        paused: inspection.paused.map((p) => p.stepId).sort(),
        inputs: Object.fromEntries(inspection.paused.map((p) => [p.stepId, p.input ?? {}])),
        outputs: inspection.outputs ?? {},
      };
      return [result, inspection.run?.runId];
    },
    async step_run(step) {
      const edit = { stepId: (step.step_id as string) ?? "", inputs: step.inputs as { [key: string]: Json } | undefined };
      const run = await client.stepRun(step.run as string, edit);
      return [runResult(run), run.runId];
    },
    async resume_run(step) {
      const edit = { stepId: (step.step_id as string) ?? "", inputs: step.inputs as { [key: string]: Json } | undefined };
      const run = await client.resumeRun(step.run as string, edit);
      return [runResult(run), run.runId];
    },
    async cancel_run(step) {
      const run = await client.cancelRun(step.run as string, { reason: (step.reason as string) ?? "" });
      return [runResult(run), run.runId];
    },
    async watch_run(step) {
      const from = (step.from_sequence as number) ?? 0;
      const events: [number, string][] = [];
      let outputs: unknown = null;
      let finalState: string | null = null;
      let found = false;
      for await (const event of client.watchRun(step.run as string, { fromSequence: from })) {
        const kind = snake(event.kind.case ?? "");
        events.push([Number(event.sequence), kind]);
        if (event.kind.case === "outputs") {
          outputs = event.kind.value.outputs ?? {};
        }
        if (event.kind.case === "runStateChanged") {
          finalState = RunState[event.kind.value.state];
        }
        if (kind === step.until) {
          found = true;
          break;
        }
      }
      if (step.until !== "end" && !found) {
        throw new Error(`the stream ended without a ${step.until} event: ${JSON.stringify(events)}`);
      }
      const last = events.length > 0 ? events[events.length - 1][0] : from;
      const result = { first_sequence: events[0]?.[0] ?? null, final_state: finalState, outputs, last };
      return [result, { events, last }];
    },
    async list_runs(step) {
      const size = step.page_size as number;
      // The raw client counts the pages; the SDK's iterator hides them.
      const paged: string[] = [];
      let pages = 0;
      let pageToken = "";
      do {
        const page = await client.executor.listRuns({ pipelineName: step.pipeline as string, pageSize: size, pageToken });
        pages += 1;
        if (page.runs.length > size) {
          throw new Error(`a page of ${page.runs.length} runs, over page_size ${size}`);
        }
        paged.push(...page.runs.map((run) => run.runId));
        pageToken = page.nextPageToken;
      } while (pageToken);
      const listed: string[] = [];
      for await (const run of client.listRuns({ pipeline: step.pipeline as string, pageSize: size })) {
        listed.push(run.runId);
      }
      if (JSON.stringify(listed) !== JSON.stringify(paged)) {
        throw new Error(`the SDK listed ${listed}, the pages held ${paged}`);
      }
      return [{ run_ids: listed, pages }, listed];
    },
    async find_task(step) {
      const tasks = [];
      for await (const task of client.listHumanTasks({ runId: step.run as string })) {
        tasks.push(task);
      }
      const [task] = tasks;
      const result = task
        ? { count: tasks.length, step_id: task.stepId, state: HumanTaskState[task.state], data: task.data ?? {} }
        : { count: 0 };
      return [result, task?.taskId ?? null];
    },
    async submit_input(step) {
      const task = await client.submitHumanInput(step.task as string, step.data as { [key: string]: Json }, {
        submitter: "conformance",
      });
      return [{ state: HumanTaskState[task.state] }, task.taskId];
    },
    async unreachable(step) {
      const other = connect(step.endpoint as string, (step.deadline_seconds as number) * 1000);
      try {
        await other.getPipeline("conformance");
      } finally {
        other.close?.();
      }
      return [{}, null];
    },
  };
  return Object.fromEntries(Object.entries(table).map(([kind, handler]) => [kind, wrap(handler)]));
}

const label = values.transport === "grpc-web" ? "typescript-grpc-web" : "typescript";
const document = loadDocument(values.scenarios!, values.namespace);
const client = connect(values.endpoint);
const table = handlers(client);
let passed = 0;
let failedCount = 0;
for (const spec of document.scenarios) {
  if (values.only && !values.only.includes(spec.name)) {
    continue;
  }
  let error: string | null = null;
  try {
    await new Scenario(spec.steps as Step[], document.pipelines, table).run();
    passed += 1;
  } catch (e) {
    error = (e as Error).message;
    failedCount += 1;
  }
  console.log(JSON.stringify(plain({ runner: label, scenario: spec.name, passed: error === null, error })));
}
client.close?.();
console.log(`${label}: ${passed} passed, ${failedCount} failed`);
process.exitCode = failedCount > 0 ? 1 : 0;
