/** Benchmark history and comparison, from recorded runs (plain data, no messages). */

export interface Figure {
  metric: string;
  unit: string;
  value: number;
  baseline?: number;
  met?: boolean;
}

export interface BenchmarkRecord {
  id: string;
  suite: string;
  startMs: number;
  figures: Figure[];
}

export interface HistoryPoint {
  id: string;
  startMs: number;
  value: number;
  baseline?: number;
  met?: boolean;
}

/** The metrics recorded in these runs, in the order first seen. */
export function metricsOf(runs: BenchmarkRecord[]): string[] {
  const seen = new Set<string>();
  for (const run of runs) {
    for (const figure of run.figures) {
      seen.add(figure.metric);
    }
  }
  return [...seen];
}

/** One metric's value over the runs that measured it, oldest first. */
export function historyOf(runs: BenchmarkRecord[], metric: string): { unit: string; points: HistoryPoint[] } {
  let unit = "";
  const points: HistoryPoint[] = [];
  for (const run of runs) {
    const figure = run.figures.find((f) => f.metric === metric);
    if (figure) {
      unit ||= figure.unit;
      points.push({ id: run.id, startMs: run.startMs, value: figure.value, baseline: figure.baseline, met: figure.met });
    }
  }
  points.sort((a, b) => a.startMs - b.startMs || a.id.localeCompare(b.id));
  return { unit, points };
}

export interface ComparisonRow {
  metric: string;
  unit: string;
  before?: number;
  after?: number;
  /** after / before - 1, when both are there and before is not 0. */
  change?: number;
  /** The units differ between the runs, so the numbers do not compare. */
  unitChanged: boolean;
}

/** Every metric of either run, side by side: `before`'s order first, then what only `after` has. */
export function compare(before: BenchmarkRecord, after: BenchmarkRecord): ComparisonRow[] {
  const names = metricsOf([before, after]);
  return names.map((metric) => {
    const a = before.figures.find((f) => f.metric === metric);
    const b = after.figures.find((f) => f.metric === metric);
    const unitChanged = a !== undefined && b !== undefined && a.unit !== b.unit;
    const change = a && b && a.value !== 0 && !unitChanged ? b.value / a.value - 1 : undefined;
    return { metric, unit: (a ?? b)!.unit, before: a?.value, after: b?.value, change, unitChanged };
  });
}

/** A change as a signed percentage, e.g. "+12.5 %". */
export function formatChange(change: number | undefined): string {
  if (change === undefined) {
    return "";
  }
  const percent = change * 100;
  const digits = Math.abs(percent) < 10 ? 1 : 0;
  return `${percent >= 0 ? "+" : "−"}${Math.abs(percent).toFixed(digits)} %`;
}
