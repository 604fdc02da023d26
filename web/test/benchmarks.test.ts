import { describe, expect, it } from "vitest";
import { compare, formatChange, historyOf, metricsOf, type BenchmarkRecord } from "../src/benchmarks";
import { formatSeconds, niceMax } from "../src/scale";

const run = (id: string, startMs: number, figures: BenchmarkRecord["figures"]): BenchmarkRecord => ({
  id,
  suite: "grpc",
  startMs,
  figures,
});

const older = run("a", 1_000, [
  { metric: "p50", unit: "ms", value: 20, baseline: 10 },
  { metric: "rate", unit: "runs/s", value: 100 },
]);
const newer = run("b", 2_000, [
  { metric: "p50", unit: "ms", value: 15, baseline: 10, met: true },
  { metric: "rate", unit: "runs/min", value: 6000 },
  { metric: "p99", unit: "ms", value: 40 },
]);

describe("history", () => {
  it("lists one metric's values oldest first, skipping runs without it", () => {
    expect(metricsOf([newer, older])).toEqual(["p50", "rate", "p99"]);
    const history = historyOf([newer, older], "p50");
    expect(history.unit).toBe("ms");
    expect(history.points.map((p) => [p.id, p.value, p.baseline])).toEqual([
      ["a", 20, 10],
      ["b", 15, 10],
    ]);
    expect(historyOf([newer, older], "p99").points.map((p) => p.id)).toEqual(["b"]);
  });
});

describe("compare", () => {
  it("puts figures side by side with their change, and refuses to compare different units", () => {
    const rows = compare(older, newer);
    expect(rows.map((r) => r.metric)).toEqual(["p50", "rate", "p99"]);
    expect(rows[0].change).toBeCloseTo(-0.25);
    expect(rows[1]).toMatchObject({ unitChanged: true, change: undefined });
    expect(rows[2]).toMatchObject({ before: undefined, after: 40, change: undefined });
  });

  it("formats a change as a signed percentage", () => {
    expect(formatChange(-0.25)).toBe("−25 %");
    expect(formatChange(0.034)).toBe("+3.4 %");
    expect(formatChange(undefined)).toBe("");
  });
});

describe("scale", () => {
  it("rounds an axis top up to 1, 2 or 5 times a power of ten", () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(0.13)).toBeCloseTo(0.2);
    expect(niceMax(200)).toBe(200);
    expect(niceMax(Number.NaN)).toBe(1);
  });

  it("formats seconds in the unit that reads best", () => {
    expect(formatSeconds(0.0004)).toBe("400 µs");
    expect(formatSeconds(0.0123)).toBe("12.3 ms");
    expect(formatSeconds(2.5)).toBe("2.5 s");
  });
});
