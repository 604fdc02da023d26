/**
 * Metrics from the telemetry service: finished runs by state, step failures by
 * error type, step latency percentiles over time and by step; and the traces of
 * recent runs, each opening as a waterfall.
 */
import { useEffect, useState } from "react";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { MetricSeries } from "@ia-modules/sdk";
import { SpanStatus, type TraceSummary } from "@ia-modules/sdk";
import { client, formatDuration, formatTime, take } from "../api";
import { Chart, type ChartSeries } from "../Chart";
import {
  bucketStarts,
  countsOver,
  displayStepMs,
  fineStepMs,
  percentilesBy,
  percentilesOver,
  type Series,
} from "../metrics";
import { formatCount, formatSeconds, formatStep } from "../scale";
import { TraceView } from "../TraceView";
import { ErrorBox, navigate, Section } from "../ui";

const RANGES = [
  ["15 min", 15 * 60_000],
  ["1 hour", 3_600_000],
  ["6 hours", 6 * 3_600_000],
  ["24 hours", 24 * 3_600_000],
] as const;

// Run and step states in the colours the rest of the app gives them.
const STATE_COLORS: Record<string, string> = {
  succeeded: "var(--succeeded)",
  failed: "var(--failed)",
  cancelled: "var(--cancelled)",
  timed_out: "var(--retrying)",
};
const PALETTE = ["var(--failed)", "var(--retrying)", "var(--waiting)", "var(--running)", "var(--cancelled)"];

function toSeries(series: MetricSeries[]): Series[] {
  return series.map((s) => ({
    labels: { ...s.labels },
    buckets: s.points.map((p) => ({
      timeMs: p.time ? timestampDate(p.time).getTime() : 0,
      count: Number(p.count),
      sum: p.sum,
      min: p.min,
      max: p.max,
    })),
  }));
}

interface Data {
  fromMs: number;
  toMs: number;
  runs: Series[];
  errors: Series[];
  latency: Series[];
}

function timeLabel(ms: number, rangeMs: number): string {
  const date = new Date(ms);
  return rangeMs > 6 * 3_600_000
    ? date.toLocaleString([], { day: "numeric", hour: "2-digit", minute: "2-digit" })
    : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: rangeMs <= 15 * 60_000 ? "2-digit" : undefined });
}

export function MetricsPage({ runId, traceId }: { runId?: string; traceId?: string }) {
  const [rangeMs, setRangeMs] = useState<number>(RANGES[1][1]);
  const [pipeline, setPipeline] = useState("");
  const [query, setQuery] = useState("");
  const [refresh, setRefresh] = useState(0);
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    const timer = setTimeout(() => setQuery(pipeline.trim()), 300);
    return () => clearTimeout(timer);
  }, [pipeline]);

  useEffect(() => {
    const abort = new AbortController();
    const toMs = Date.now();
    const fromMs = toMs - rangeMs;
    const labels: Record<string, string> = query ? { pipeline: query } : {};
    const step = displayStepMs(rangeMs);
    const common = { from: fromMs, to: toMs, labels, signal: abort.signal };
    Promise.all([
      client.queryMetrics({ ...common, name: "pipeline_runs_finished_total", groupBy: ["state"], stepMs: step }),
      client.queryMetrics({ ...common, name: "pipeline_step_errors_total", groupBy: ["error_type"], stepMs: step }),
      client.queryMetrics({ ...common, name: "pipeline_step_duration_seconds", groupBy: ["step"], stepMs: fineStepMs(rangeMs) }),
    ])
      .then(([runs, errors, latency]) => {
        setData({ fromMs, toMs, runs: toSeries(runs), errors: toSeries(errors), latency: toSeries(latency) });
        setError(undefined);
      })
      .catch((e) => abort.signal.aborted || setError(e));
    return () => abort.abort();
  }, [rangeMs, query, refresh]);

  const traces = <Traces pipeline={query} runId={runId} traceId={traceId} refresh={refresh} />;
  const focused = runId !== undefined || traceId !== undefined;
  return (
    <>
      {focused && traces}
      <Section
        title="Metrics"
        actions={
          <button onClick={() => setRefresh((n) => n + 1)} data-testid="refresh">
            Refresh
          </button>
        }
      >
        <div className="toolbar">
          <label htmlFor="metrics-range">Range</label>
          <select id="metrics-range" value={rangeMs} onChange={(e) => setRangeMs(Number(e.target.value))}>
            {RANGES.map(([label, ms]) => (
              <option key={ms} value={ms}>
                last {label}
              </option>
            ))}
          </select>
          <label htmlFor="metrics-pipeline">Pipeline</label>
          <input id="metrics-pipeline" type="search" placeholder="all" value={pipeline} onChange={(e) => setPipeline(e.target.value)} />
        </div>
        <ErrorBox error={error} title="The telemetry service did not answer" />
        {data && <Charts data={data} rangeMs={rangeMs} />}
      </Section>
      {!focused && traces}
    </>
  );
}

function Charts({ data, rangeMs }: { data: Data; rangeMs: number }) {
  const step = displayStepMs(rangeMs);
  const starts = bucketStarts(data.fromMs, data.toMs, step);
  const labels = starts.map((t) => timeLabel(t, rangeMs));
  const runCounts = countsOver(data.runs, starts, step);
  const runSeries: ChartSeries[] = data.runs.map((s, i) => ({
    name: s.labels.state || "unknown",
    values: runCounts[i],
    color: STATE_COLORS[s.labels.state] ?? PALETTE[i % PALETTE.length],
  }));
  const errorCounts = countsOver(data.errors, starts, step);
  const errorSeries: ChartSeries[] = data.errors.map((s, i) => ({
    name: s.labels.error_type || "unknown",
    values: errorCounts[i],
    color: PALETTE[i % PALETTE.length],
  }));
  const latency = percentilesOver(data.latency, starts, step);
  const byStep = percentilesBy(data.latency, "step");
  const totalRuns = runCounts.flat().reduce((a, b) => a + b, 0);
  const failedRuns = runSeries.filter((s) => s.name !== "succeeded").flatMap((s) => s.values).reduce<number>((a, b) => a + (b ?? 0), 0);
  const minutes = rangeMs / 60_000;

  return (
    <>
      <dl className="facts stat-line" data-testid="metric-facts">
        <dt>Runs finished</dt>
        <dd data-testid="runs-finished">{totalRuns}</dd>
        <dt>Run rate</dt>
        <dd>{formatCount(totalRuns / minutes)} per minute</dd>
        <dt>Not succeeded</dt>
        <dd>
          {failedRuns}
          {totalRuns > 0 && ` (${Math.round((failedRuns / totalRuns) * 100)} %)`}
        </dd>
        <dt>Step errors</dt>
        <dd>{errorCounts.flat().reduce((a, b) => a + b, 0)}</dd>
      </dl>
      <div className="charts">
        <Chart
          title={`Runs finished per ${formatStep(step)}, by state`}
          labels={labels}
          series={runSeries}
          kind="bars"
          format={formatCount}
          testId="chart-runs"
        />
        <Chart
          title={`Step failures per ${formatStep(step)}, by error type`}
          labels={labels}
          series={errorSeries}
          kind="bars"
          format={formatCount}
          testId="chart-failures"
        />
        <Chart
          title="Step latency percentiles"
          labels={labels}
          series={[
            { name: "p50", values: latency.p50, color: "var(--succeeded)" },
            { name: "p95", values: latency.p95, color: "var(--retrying)" },
            { name: "p99", values: latency.p99, color: "var(--failed)" },
          ]}
          kind="lines"
          format={formatSeconds}
          testId="chart-latency"
        />
      </div>
      <h3>Step latency by step</h3>
      {byStep.length === 0 ? (
        <p className="muted">No step finished in this range.</p>
      ) : (
        <div className="table-wrap">
          <table data-testid="latency-by-step">
            <thead>
              <tr>
                <th>Step</th>
                <th className="num">Count</th>
                <th className="num">p50</th>
                <th className="num">p95</th>
                <th className="num wide">p99</th>
                <th className="num wide">Max</th>
              </tr>
            </thead>
            <tbody>
              {byStep.slice(0, 50).map((row) => (
                <tr key={row.key} data-step={row.key}>
                  <td>{row.key || <span className="muted">(none)</span>}</td>
                  <td className="num">{row.count}</td>
                  <td className="num nowrap">{formatSeconds(row.p50)}</td>
                  <td className="num nowrap">{formatSeconds(row.p95)}</td>
                  <td className="num nowrap wide">{formatSeconds(row.p99)}</td>
                  <td className="num nowrap wide">{formatSeconds(row.max)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="muted small">
        Percentiles are estimated from buckets of {formatStep(fineStepMs(rangeMs))}: exact while a bucket holds at most two
        values of a step.
      </p>
    </>
  );
}

function Traces({ pipeline, runId, traceId, refresh }: { pipeline: string; runId?: string; traceId?: string; refresh: number }) {
  const [traces, setTraces] = useState<TraceSummary[] | null>(null);
  const [error, setError] = useState<unknown>();
  const [runsOnly, setRunsOnly] = useState(true);
  // A run's spans reach the service within a second or so of its end: look again a few times.
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Most traces are single calls (GetRun, WatchRun...); the runs' ones are what people look for.
    take(client.listTraces({ pipeline, runId, pageSize: 100, signal: abort.signal }), 100)
      .then((found) => {
        setTraces(found);
        setError(undefined);
        if (runId && found.length === 0 && attempt < 10) {
          timer = setTimeout(() => setAttempt((n) => n + 1), 1000);
        }
      })
      .catch((e) => abort.signal.aborted || setError(e));
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [pipeline, runId, refresh, attempt]);

  // A run's page links here with its id: open the run's trace once it is listed.
  const opened = traceId ?? (runId ? traces?.find((t) => t.runId === runId)?.traceId : undefined);
  const shown = (traces ?? []).filter((t) => !runsOnly || t.runId || t.traceId === opened).slice(0, 25);

  return (
    <>
      <Section title={runId ? `Traces of run ${runId}` : "Recent traces"}>
        {!runId && (
          <div className="toolbar">
            <label>
              <input type="checkbox" checked={runsOnly} onChange={(e) => setRunsOnly(e.target.checked)} /> Only traces of runs
            </label>
          </div>
        )}
        <ErrorBox error={error} title="The telemetry service did not answer" />
        {traces && shown.length === 0 && (
          <p className="muted" data-testid="no-traces">
            No trace {runId ? "of this run " : ""}is stored{runId ? " (yet: spans arrive within a second or so)" : ""}.
          </p>
        )}
        {shown.length > 0 && (
          <div className="table-wrap">
            <table data-testid="traces">
              <thead>
                <tr>
                  <th>Trace</th>
                  <th>Pipeline</th>
                  <th>Run</th>
                  <th>Status</th>
                  <th className="num">Duration</th>
                  <th className="num wide">Spans</th>
                  <th className="wide">Started</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((t) => (
                  <tr key={t.traceId} data-trace={t.traceId} aria-selected={t.traceId === opened}>
                    <td>
                      <a href={`#/metrics?trace=${t.traceId}`} onClick={(e) => (e.preventDefault(), navigate(`/metrics?trace=${t.traceId}`))}>
                        {t.rootName || t.traceId.slice(0, 8)}
                      </a>
                      <div className="muted small">{t.rootService}</div>
                    </td>
                    <td>{t.pipeline}</td>
                    <td>{t.runId && <a href={`#/runs/${t.runId}`}>{t.runId.slice(0, 8)}</a>}</td>
                    <td>
                      <span className={`badge state-${t.status === SpanStatus.ERROR ? "failed" : "succeeded"}`}>
                        {t.status === SpanStatus.ERROR ? "error" : "ok"}
                      </span>
                    </td>
                    <td className="num nowrap">{formatDuration(t.duration ? Number(t.duration.seconds) * 1000 + t.duration.nanos / 1e6 : undefined)}</td>
                    <td className="num wide">{t.spanCount}</td>
                    <td className="wide nowrap">{formatTime(t.startTime)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      {opened && <TraceView key={opened} traceId={opened} />}
    </>
  );
}
