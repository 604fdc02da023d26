/**
 * Turning QueryMetrics buckets into what the metrics page draws. A bucket keeps
 * only the count, sum, minimum and maximum of its values, so percentiles are
 * estimated from buckets made small enough that most hold one or two values.
 */

/** One bucket as the telemetry service sends it, with the time in milliseconds. */
export interface Bucket {
  timeMs: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface Series {
  labels: Record<string, string>;
  buckets: Bucket[];
}

/**
 * The values a bucket stands for: exact for one or two values (they are its min
 * and max); for more, the min, the max, and the rest at the mean that keeps the sum.
 */
export function bucketValues(bucket: Bucket): number[] {
  const { count, sum, min, max } = bucket;
  if (count <= 0) {
    return [];
  }
  if (count === 1) {
    return [sum];
  }
  if (count === 2) {
    return [min, max];
  }
  const rest = (sum - min - max) / (count - 2);
  return [min, ...Array<number>(count - 2).fill(rest), max];
}

/** The q-quantile (0..1) of the values by linear interpolation; undefined for none. */
export function quantile(values: number[], q: number): number | undefined {
  if (values.length === 0) {
    return undefined;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const position = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function percentiles(values: number[]): Percentiles | undefined {
  if (values.length === 0) {
    return undefined;
  }
  return {
    count: values.length,
    p50: quantile(values, 0.5)!,
    p95: quantile(values, 0.95)!,
    p99: quantile(values, 0.99)!,
    max: Math.max(...values),
  };
}

/** Percentiles of each series, keyed by the value of `label` (e.g. each step), largest p95 first. */
export function percentilesBy(series: Series[], label: string): Array<{ key: string } & Percentiles> {
  const values = new Map<string, number[]>();
  for (const one of series) {
    const key = one.labels[label] ?? "";
    const list = values.get(key) ?? [];
    for (const bucket of one.buckets) {
      list.push(...bucketValues(bucket));
    }
    values.set(key, list);
  }
  return [...values]
    .map(([key, list]) => ({ key, ...percentiles(list)! }))
    .filter((row) => row.count > 0)
    .sort((a, b) => b.p95 - a.p95 || a.key.localeCompare(b.key));
}

/** The start of each display bucket of `stepMs` from `fromMs` up to (not including) `toMs`. */
export function bucketStarts(fromMs: number, toMs: number, stepMs: number): number[] {
  const first = Math.floor(fromMs / stepMs) * stepMs;
  const starts = [];
  for (let t = first; t < toMs; t += stepMs) {
    starts.push(t);
  }
  return starts;
}

/** Counts per display bucket, one row per series: what a stacked bar chart of a counter needs. */
export function countsOver(series: Series[], starts: number[], stepMs: number): number[][] {
  return series.map((one) => {
    const counts = starts.map(() => 0);
    for (const bucket of one.buckets) {
      const index = indexOf(starts, bucket.timeMs, stepMs);
      if (index >= 0) {
        // A counter's values are increases: the sum is how many happened.
        counts[index] += bucket.sum;
      }
    }
    return counts;
  });
}

/** p50, p95 and p99 of all series' values per display bucket (undefined where none fell). */
export function percentilesOver(
  series: Series[],
  starts: number[],
  stepMs: number,
): { p50: Array<number | undefined>; p95: Array<number | undefined>; p99: Array<number | undefined> } {
  const values: number[][] = starts.map(() => []);
  for (const one of series) {
    for (const bucket of one.buckets) {
      const index = indexOf(starts, bucket.timeMs, stepMs);
      if (index >= 0) {
        values[index].push(...bucketValues(bucket));
      }
    }
  }
  return {
    p50: values.map((v) => quantile(v, 0.5)),
    p95: values.map((v) => quantile(v, 0.95)),
    p99: values.map((v) => quantile(v, 0.99)),
  };
}

function indexOf(starts: number[], timeMs: number, stepMs: number): number {
  if (starts.length === 0 || timeMs < starts[0]) {
    return -1;
  }
  const index = Math.floor((timeMs - starts[0]) / stepMs);
  return index < starts.length ? index : -1;
}

/**
 * The fine bucket width for percentiles over a range: small enough that buckets
 * rarely hold more than two values, within the service's 10,000 buckets.
 */
export function fineStepMs(rangeMs: number): number {
  return Math.max(100, Math.ceil(rangeMs / 9_000));
}

/** A round display bucket width giving about `target` bars over the range. */
export function displayStepMs(rangeMs: number, target = 30): number {
  const choices = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);
  return choices.find((step) => rangeMs / step <= target) ?? choices[choices.length - 1];
}
