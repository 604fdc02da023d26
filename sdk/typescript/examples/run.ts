// Registers a pipeline, runs it through the IA Modules front door and prints its
// events and outputs.
//
//   node dist/examples/run.js ../../examples/pipelines/hello.json who=TypeScript times=2
//
// The endpoint is IA_ENDPOINT (default localhost:8080); start the stack with
// `make up` first.
import { readFileSync } from "node:fs";
import { IAError, RunState, StepState, type RunEvent } from "../src/index.js";
import { createNodeClient } from "../src/node.js";

const [definitionPath, ...pairs] = process.argv.slice(2);
if (!definitionPath) {
  console.error("usage: run.js DEFINITION.json [key=value ...]");
  process.exit(2);
}
const definition = JSON.parse(readFileSync(definitionPath, "utf8"));
// A value that parses as JSON keeps its type (times=3 is a number).
const inputs = Object.fromEntries(
  pairs.map((pair) => {
    const [key, raw] = pair.split(/=(.*)/s);
    try {
      return [key, JSON.parse(raw)];
    } catch {
      return [key, raw];
    }
  }),
);

function print(event: RunEvent): void {
  const { kind } = event;
  if (kind.case === "runStateChanged") {
    console.log(`  #${event.sequence} run ${RunState[kind.value.state]}`);
  } else if (kind.case === "stepStateChanged") {
    console.log(`  #${event.sequence} step ${kind.value.stepId} ${StepState[kind.value.state]}`);
  } else if (kind.case === "inputRequested") {
    console.log(`  #${event.sequence} waiting for input: task ${kind.value.taskId}`);
  }
}

const client = createNodeClient();
try {
  try {
    const created = await client.createPipeline(definition);
    console.log(`registered ${created.pipeline?.name} revision ${created.pipeline?.revision}`);
  } catch (error) {
    if (!(error instanceof IAError && error.reason === "PIPELINE_ALREADY_EXISTS")) {
      throw error;
    }
    console.log(`pipeline ${definition.name} is already registered`);
  }
  const started = await client.startRun({ pipeline: definition.name, inputs });
  console.log(`started run ${started.runId}`);
  const run = await client.waitRun(started.runId, { onEvent: print });
  console.log(`run ${run.runId} ended ${RunState[run.state]}\noutputs: ${JSON.stringify(run.outputs, null, 2)}`);
  process.exitCode = run.state === RunState.SUCCEEDED ? 0 : 3;
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  client.close();
}
