import { describe, expect, it } from "vitest";
import {
  bucketStarts,
  bucketValues,
  countsOver,
  displayStepMs,
  fineStepMs,
  percentilesBy,
  percentilesOver,
  quantile,
} from "../src/metrics";

const bucket = (timeMs: number, values: number[]) => ({
  timeMs,
  count: values.length,
  sum: values.reduce((a, b) => a + b, 0),
  min: Math.min(...values),
  max: Math.max(...values),
});

describe("bucketValues", () => {
  it("is exact for one or two values", () => {
    expect(bucketValues(bucket(0, [0.3]))).toEqual([0.3]);
    expect(bucketValues(bucket(0, [0.5, 0.1]))).toEqual([0.1, 0.5]);
  });

  it("keeps the min, max and sum of more values", () => {
    const values = bucketValues(bucket(0, [1, 2, 3, 10]));
    expect(values).toEqual([1, 2.5, 2.5, 10]);
    expect(values.reduce((a, b) => a + b)).toBe(16);
  });

  it("has nothing for an empty bucket", () => {
    expect(bucketValues({ timeMs: 0, count: 0, sum: 0, min: 0, max: 0 })).toEqual([]);
  });
});

describe("quantile", () => {
  it("interpolates between the nearest values", () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.95)).toBeCloseTo(4.8);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([], 0.5)).toBeUndefined();
  });
});

describe("percentilesBy", () => {
  it("gives each step its percentiles, slowest first", () => {
    const rows = percentilesBy(
      [
        { labels: { step: "fast" }, buckets: [bucket(0, [0.01]), bucket(1000, [0.02, 0.03])] },
        { labels: { step: "slow" }, buckets: [bucket(0, [1]), bucket(2000, [3])] },
      ],
      "step",
    );
    expect(rows.map((r) => r.key)).toEqual(["slow", "fast"]);
    expect(rows[0]).toMatchObject({ count: 2, p50: 2, max: 3 });
    expect(rows[1]).toMatchObject({ count: 3, p50: 0.02, max: 0.03 });
  });
});

describe("display buckets", () => {
  it("lines buckets up with multiples of the step", () => {
    expect(bucketStarts(1_500, 4_000, 1_000)).toEqual([1_000, 2_000, 3_000]);
  });

  it("sums a counter's increases per bucket, and drops points outside the range", () => {
    const starts = [0, 60_000];
    const counts = countsOver(
      [
        { labels: { state: "succeeded" }, buckets: [bucket(0, [1]), bucket(30_000, [1]), bucket(60_000, [1]), bucket(120_000, [1])] },
        { labels: { state: "failed" }, buckets: [bucket(65_000, [1])] },
      ],
      starts,
      60_000,
    );
    expect(counts).toEqual([
      [2, 1],
      [0, 1],
    ]);
  });

  it("takes percentiles over every series per bucket, with gaps where nothing fell", () => {
    const over = percentilesOver(
      [
        { labels: { step: "a" }, buckets: [bucket(0, [1]), bucket(10, [3])] },
        { labels: { step: "b" }, buckets: [bucket(5, [2])] },
      ],
      [0, 1000],
      1000,
    );
    expect(over.p50).toEqual([2, undefined]);
    expect(over.p99![0]).toBeCloseTo(2.98);
  });

  it("picks round steps within the service's bucket limit", () => {
    expect(displayStepMs(3_600_000)).toBe(120_000);
    expect(displayStepMs(15 * 60_000)).toBe(30_000);
    expect(fineStepMs(3_600_000)).toBe(400);
    expect(3_600_000 / fineStepMs(3_600_000)).toBeLessThanOrEqual(10_000);
    expect(86_400_000 / fineStepMs(86_400_000)).toBeLessThanOrEqual(10_000);
  });
});
