/**
 * Recorded benchmark runs (the telemetry service's ListBenchmarks): a metric's
 * history as a chart, the runs as a table, and two runs compared figure by figure.
 */
import { useEffect, useState } from "react";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { BenchmarkRun } from "@ia-modules/sdk";
import { client, formatTime, take } from "../api";
import { compare, formatChange, historyOf, metricsOf, type BenchmarkRecord } from "../benchmarks";
import { Chart } from "../Chart";
import { formatCount } from "../scale";
import { ErrorBox, navigate, Section } from "../ui";

function record(run: BenchmarkRun): BenchmarkRecord {
  return {
    id: run.benchmarkId,
    suite: run.suite,
    startMs: run.startTime ? timestampDate(run.startTime).getTime() : 0,
    figures: run.figures.map((f) => ({ metric: f.metric, unit: f.unit, value: f.value, baseline: f.baseline, met: f.met })),
  };
}

function number(value: number | undefined, unit = ""): string {
  if (value === undefined) {
    return "";
  }
  return `${+value.toPrecision(4)}${unit ? ` ${unit}` : ""}`;
}

export function BenchmarksPage({ suite: initialSuite, compareIds }: { suite?: string; compareIds?: [string, string] }) {
  const [runs, setRuns] = useState<BenchmarkRun[] | null>(null);
  const [error, setError] = useState<unknown>();
  const [suite, setSuite] = useState(initialSuite ?? "");
  const [metric, setMetric] = useState("");
  const [picked, setPicked] = useState<string[]>(compareIds ?? []);

  useEffect(() => {
    const abort = new AbortController();
    take(client.listBenchmarks({ pageSize: 200, signal: abort.signal }), 500)
      .then((found) => {
        setRuns(found);
        setError(undefined);
      })
      .catch((e) => abort.signal.aborted || setError(e));
    return () => abort.abort();
  }, []);

  const suites = [...new Set((runs ?? []).map((r) => r.suite))].sort();
  const chosenSuite = suite && suites.includes(suite) ? suite : (suites[0] ?? "");
  const ofSuite = (runs ?? []).filter((r) => r.suite === chosenSuite).map(record);
  const metrics = metricsOf(ofSuite);
  const chosenMetric = metric && metrics.includes(metric) ? metric : (metrics[0] ?? "");
  const history = historyOf(ofSuite, chosenMetric);
  const hasBaseline = history.points.some((p) => p.baseline !== undefined);
  const toggle = (id: string) =>
    setPicked((now) => (now.includes(id) ? now.filter((p) => p !== id) : [...now, id].slice(-2)));

  return (
    <>
      <Section title="Benchmarks">
        <ErrorBox error={error} title="The telemetry service did not answer" />
        {runs && runs.length === 0 && (
          <p className="muted" data-testid="no-benchmarks">
            No benchmark is recorded yet: <code>make bench</code> records each suite it runs.
          </p>
        )}
        {runs && runs.length > 0 && (
          <>
            <div className="toolbar">
              <label htmlFor="bench-suite">Suite</label>
              <select id="bench-suite" value={chosenSuite} onChange={(e) => setSuite(e.target.value)}>
                {suites.map((s) => (
                  <option key={s}>{s}</option>
                ))}
              </select>
              <label htmlFor="bench-metric">Metric</label>
              <select id="bench-metric" value={chosenMetric} onChange={(e) => setMetric(e.target.value)} className="grow">
                {metrics.map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            </div>
            <Chart
              title={`${chosenMetric} (${history.unit || "value"}), oldest to newest run`}
              labels={history.points.map((p) =>
                new Date(p.startMs).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }),
              )}
              series={[
                { name: "ours", values: history.points.map((p) => p.value), color: "var(--accent)" },
                ...(hasBaseline
                  ? [{ name: "baseline", values: history.points.map((p) => p.baseline), color: "var(--cancelled)" }]
                  : []),
              ]}
              kind="lines"
              format={formatCount}
              testId="chart-history"
            />
            <h3>Runs of {chosenSuite}</h3>
            <p className="muted small">Values of “{chosenMetric}”. Choose two runs to compare every figure.</p>
            <div className="table-wrap">
              <table data-testid="benchmarks">
                <thead>
                  <tr>
                    <th>Compare</th>
                    <th>Started</th>
                    <th className="wide">Mode</th>
                    <th className="num">Value</th>
                    <th>Target</th>
                    <th className="wide">Machine</th>
                  </tr>
                </thead>
                <tbody>
                  {[...ofSuite].reverse().map((run) => {
                    const full = runs.find((r) => r.benchmarkId === run.id)!;
                    const figure = full.figures.find((f) => f.metric === chosenMetric);
                    return (
                      <tr key={run.id} data-benchmark={run.id}>
                        <td>
                          <input
                            type="checkbox"
                            id={`pick-${run.id}`}
                            checked={picked.includes(run.id)}
                            onChange={() => toggle(run.id)}
                            aria-label={`Compare the run of ${formatTime(full.startTime)}`}
                          />
                        </td>
                        <td className="nowrap">{formatTime(full.startTime)}</td>
                        <td className="wide">{full.mode}</td>
                        <td className="num nowrap">{number(figure?.value, figure?.unit)}</td>
                        <td>
                          {figure?.met === undefined ? (
                            ""
                          ) : (
                            <span className={`badge state-${figure.met ? "succeeded" : "failed"}`}>{figure.met ? "met" : "missed"}</span>
                          )}
                        </td>
                        <td className="wide small">{full.machine}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            <div className="actions spaced">
              <button
                className="primary"
                disabled={picked.length !== 2}
                onClick={() => navigate(`/benchmarks?compare=${picked.join(",")}`)}
              >
                Compare the two
              </button>
            </div>
          </>
        )}
      </Section>
      {compareIds && <Comparison key={compareIds.join(",")} ids={compareIds} />}
    </>
  );
}

/** Two runs fetched with GetBenchmark, older first, each figure's change as a bar. */
function Comparison({ ids }: { ids: [string, string] }) {
  const [pair, setPair] = useState<[BenchmarkRun, BenchmarkRun] | null>(null);
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    const abort = new AbortController();
    Promise.all(ids.map((id) => client.getBenchmark(id, { signal: abort.signal })))
      .then(([a, b]) => setPair(record(a).startMs <= record(b).startMs ? [a, b] : [b, a]))
      .catch((e) => abort.signal.aborted || setError(e));
    return () => abort.abort();
  }, [ids]);

  const rows = pair ? compare(record(pair[0]), record(pair[1])) : [];
  const widest = Math.max(0.01, ...rows.map((r) => Math.abs(r.change ?? 0)));
  return (
    <Section title="Comparison">
      <ErrorBox error={error} title="A benchmark could not be loaded" />
      {pair && (
        <>
          <p className="muted small">
            {pair[0].suite}: {formatTime(pair[0].startTime)} → {formatTime(pair[1].startTime)}. For times lower is better; for
            rates higher is.
          </p>
          <div className="table-wrap">
            <table data-testid="comparison">
              <thead>
                <tr>
                  <th>Metric</th>
                  <th className="num">Before</th>
                  <th className="num">After</th>
                  <th className="num">Change</th>
                  <th className="wide">
                    <span className="sr-only">Change as a bar</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.metric} data-metric={row.metric}>
                    <td>{row.metric}</td>
                    <td className="num nowrap">{number(row.before, row.unit)}</td>
                    <td className="num nowrap">{number(row.after, row.unit)}</td>
                    <td className="num nowrap" data-testid="change">
                      {row.unitChanged ? "units differ" : formatChange(row.change)}
                    </td>
                    <td className="wide">
                      {row.change !== undefined && (
                        <span className="diverging" aria-hidden="true">
                          <span
                            className={`bar ${row.change >= 0 ? "up" : "down"}`}
                            style={{ width: `${(Math.abs(row.change) / widest) * 50}%` }}
                          />
                        </span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Section>
  );
}
