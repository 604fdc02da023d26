// Times StartRun-and-wait of a registered pipeline with the TypeScript SDK (gRPC
// from Node, the built sdk/typescript/dist) and prints one JSON line:
// {"p50_ms", "p99_ms", "failed", "samples"}.
//   node clients_bench.mjs --endpoint HOST:PORT --pipeline NAME [--iterations N] [--warmup N]
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";

const sdk = new URL("../../../../sdk/typescript/dist/src/", import.meta.url);
const { createNodeClient } = await import(new URL("node.js", sdk).href);
const { RunState } = await import(new URL("index.js", sdk).href);

const { values } = parseArgs({
  options: {
    endpoint: { type: "string" },
    pipeline: { type: "string" },
    iterations: { type: "string", default: "200" },
    warmup: { type: "string", default: "10" },
  },
});

// Same definitions as bench/measure.py: median, and nearest-rank percentiles.
function median(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function percentile(samples, q) {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((q / 100) * sorted.length)) - 1];
}

const client = createNodeClient(values.endpoint);
async function run() {
  const started = await client.startRun({ pipeline: values.pipeline, inputs: { count: 1 } });
  const done = await client.waitRun(started.runId);
  return done.state === RunState.SUCCEEDED;
}

try {
  for (let i = 0; i < Number(values.warmup); i++) await run();
  const times = [];
  let failed = 0;
  for (let i = 0; i < Number(values.iterations); i++) {
    const start = performance.now();
    const succeeded = await run();
    times.push(performance.now() - start);
    if (!succeeded) failed++;
  }
  console.log(JSON.stringify({ p50_ms: median(times), p99_ms: percentile(times, 99), failed, samples: times.length }));
} finally {
  client.close();
}
