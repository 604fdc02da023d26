import { describe, expect, it } from "vitest";
import { waterfall, type SpanTimes } from "../src/waterfall";

const span = (spanId: string, parentSpanId: string, startMs: number, endMs: number, name = spanId): SpanTimes => ({
  spanId,
  parentSpanId,
  name,
  service: "executor",
  startMs,
  endMs,
  error: false,
});

describe("waterfall", () => {
  it("puts children under their parent, siblings by start, on the trace's axis", () => {
    const fall = waterfall([
      span("s2", "run", 1_050, 1_100),
      span("run", "", 1_000, 1_200),
      span("s1", "run", 1_010, 1_040),
      span("rpc", "s1", 1_020, 1_030),
    ]);

    expect(fall.startMs).toBe(1_000);
    expect(fall.durationMs).toBe(200);
    expect(fall.rows.map((r) => [r.span.spanId, r.depth])).toEqual([
      ["run", 0],
      ["s1", 1],
      ["rpc", 2],
      ["s2", 1],
    ]);
    const s2 = fall.rows[3];
    expect(s2.offsetMs).toBe(50);
    expect(s2.durationMs).toBe(50);
    expect(s2.left).toBeCloseTo(0.25);
    expect(s2.width).toBeCloseTo(0.25);
  });

  it("shows a span whose parent is not stored as a root", () => {
    const fall = waterfall([span("child", "gone", 5, 10), span("root", "", 0, 10)]);
    expect(fall.rows.map((r) => [r.span.spanId, r.depth])).toEqual([
      ["root", 0],
      ["child", 0],
    ]);
  });

  it("shows each span of a parent cycle once", () => {
    const fall = waterfall([span("a", "b", 0, 5), span("b", "a", 1, 4)]);
    expect(fall.rows.map((r) => r.span.spanId).sort()).toEqual(["a", "b"]);
  });

  it("gives a zero-length trace full-width bars and an empty one no rows", () => {
    expect(waterfall([span("x", "", 7, 7)]).rows[0]).toMatchObject({ left: 0, width: 1 });
    expect(waterfall([]).rows).toEqual([]);
  });
});
