/** One trace as a waterfall: spans in tree order on the trace's time axis; choose one for its attributes. */
import { useEffect, useState } from "react";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { SpanStatus, type Span, type Trace } from "@ia-modules/sdk";
import { client, formatDuration, formatTime } from "./api";
import { ErrorBox, Json, Section } from "./ui";
import { waterfall, type SpanTimes } from "./waterfall";

type TimedSpan = SpanTimes & { source: Span };

// Milliseconds with the nanoseconds kept as a fraction: sibling spans often start within the same millisecond.
function ms(time: Timestamp | undefined): number | undefined {
  return time ? Number(time.seconds) * 1000 + time.nanos / 1e6 : undefined;
}

function timed(span: Span): TimedSpan {
  const startMs = ms(span.startTime) ?? 0;
  return {
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    name: span.name,
    service: span.service,
    startMs,
    endMs: ms(span.endTime) ?? startMs,
    error: span.status === SpanStatus.ERROR,
    source: span,
  };
}

export function TraceView({ traceId }: { traceId: string }) {
  const [trace, setTrace] = useState<Trace | null>(null);
  const [error, setError] = useState<unknown>();
  const [chosen, setChosen] = useState<string | null>(null);
  // Spans arrive as their work ends: a running run's trace grows, so it can be loaded again.
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    client
      .getTrace(traceId, { signal: abort.signal })
      .then((found) => {
        setTrace(found);
        setError(undefined);
      })
      .catch((e) => abort.signal.aborted || setError(e));
    return () => abort.abort();
  }, [traceId, reload]);

  const fall = trace ? waterfall(trace.spans.map(timed)) : null;
  const picked = fall?.rows.find((r) => r.span.spanId === chosen)?.span.source;
  return (
    <Section
      title={`Trace ${trace?.summary?.rootName ?? ""}`.trim()}
      actions={<button onClick={() => setReload((n) => n + 1)}>Reload</button>}
    >
      <ErrorBox error={error} title="The trace could not be loaded" />
      {trace && fall && (
        <>
          <p className="muted small">
            <code>{traceId}</code> · {fall.rows.length} spans · {formatDuration(fall.durationMs)} · started{" "}
            {formatTime(trace.summary?.startTime)}
            {trace.summary?.runId && (
              <>
                {" "}
                · <a href={`#/runs/${trace.summary.runId}`}>its run</a>
              </>
            )}
          </p>
          <ol className="waterfall" data-testid="waterfall" aria-label="Spans in the order they nest and start">
            {fall.rows.map((row) => (
              <li key={row.span.spanId} data-span={row.span.name} data-depth={row.depth}>
                <button
                  className={`waterfall-row${row.span.spanId === chosen ? " chosen" : ""}`}
                  aria-pressed={row.span.spanId === chosen}
                  onClick={() => setChosen(row.span.spanId === chosen ? null : row.span.spanId)}
                >
                  <span className="waterfall-name" style={{ paddingLeft: `${Math.min(row.depth, 8) * 14}px` }}>
                    {row.span.name}
                    <span className="muted small"> {row.span.service}</span>
                  </span>
                  <span className="bar-track">
                    <span
                      className={`bar state-${row.span.error ? "failed" : "succeeded"}`}
                      style={{ left: `${row.left * 100}%`, width: `max(2px, ${row.width * 100}%)` }}
                    />
                  </span>
                  <span className="waterfall-time nowrap">{formatDuration(row.durationMs)}</span>
                </button>
              </li>
            ))}
          </ol>
          {picked && (
            <div className="span-details" data-testid="span-details">
              <h3>{picked.name}</h3>
              {picked.statusMessage && <p className="field-error">{picked.statusMessage}</p>}
              <Json value={picked.attributes ?? {}} />
              {picked.events.length > 0 && (
                <ul className="log">
                  {picked.events.map((event, i) => (
                    <li key={i}>
                      {formatTime(event.time)} <strong>{event.name}</strong>{" "}
                      {event.attributes && <code>{JSON.stringify(event.attributes)}</code>}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
        </>
      )}
    </Section>
  );
}
