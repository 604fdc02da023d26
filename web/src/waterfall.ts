/**
 * A trace as a waterfall: its spans in tree order (each child under its parent,
 * siblings by start time), each placed on the trace's time axis.
 */

/** The parts of a span the waterfall needs, times in milliseconds since the epoch. */
export interface SpanTimes {
  spanId: string;
  parentSpanId: string;
  name: string;
  service: string;
  startMs: number;
  endMs: number;
  error: boolean;
}

export interface WaterfallRow<S extends SpanTimes = SpanTimes> {
  span: S;
  /** How deep in the tree: 0 for a root (or a span whose parent is not stored). */
  depth: number;
  /** Offset from the trace's start and duration, in milliseconds. */
  offsetMs: number;
  durationMs: number;
  /** Where the bar starts and how wide it is, as fractions (0..1) of the trace. */
  left: number;
  width: number;
}

export interface Waterfall<S extends SpanTimes = SpanTimes> {
  startMs: number;
  durationMs: number;
  rows: WaterfallRow<S>[];
}

export function waterfall<S extends SpanTimes>(spans: S[]): Waterfall<S> {
  if (spans.length === 0) {
    return { startMs: 0, durationMs: 0, rows: [] };
  }
  const startMs = Math.min(...spans.map((s) => s.startMs));
  const endMs = Math.max(...spans.map((s) => Math.max(s.endMs, s.startMs)));
  const durationMs = endMs - startMs;
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, S[]>();
  for (const span of spans) {
    // A parent that was not stored (dropped, or in another service's trace part) makes a root.
    const parent = span.parentSpanId && ids.has(span.parentSpanId) && span.parentSpanId !== span.spanId ? span.parentSpanId : "";
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const byStart = (a: S, b: S) => a.startMs - b.startMs || a.name.localeCompare(b.name);
  const rows: WaterfallRow<S>[] = [];
  const seen = new Set<string>();
  const visit = (span: S, depth: number) => {
    if (seen.has(span.spanId)) {
      return; // a cycle of parent ids: show each span once
    }
    seen.add(span.spanId);
    const offsetMs = span.startMs - startMs;
    const spanMs = Math.max(0, span.endMs - span.startMs);
    rows.push({
      span,
      depth,
      offsetMs,
      durationMs: spanMs,
      left: durationMs > 0 ? offsetMs / durationMs : 0,
      width: durationMs > 0 ? spanMs / durationMs : 1,
    });
    for (const child of [...(children.get(span.spanId) ?? [])].sort(byStart)) {
      visit(child, depth + 1);
    }
  };
  for (const root of [...(children.get("") ?? [])].sort(byStart)) {
    visit(root, 0);
  }
  // Spans only reachable through a cycle have no root; show them at the top level.
  for (const span of [...spans].sort(byStart)) {
    visit(span, 0);
  }
  return { startMs, durationMs, rows };
}
