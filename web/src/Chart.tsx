/**
 * Small SVG charts: stacked bars for counts and lines for levels, over time or
 * over named categories. Each draws in the theme's colours and carries its data
 * as a table too, for screen readers and keyboard users.
 */
import { useEffect, useRef, useState, type RefObject } from "react";
import { niceMax } from "./scale";

export interface ChartSeries {
  name: string;
  /** One value per x position; undefined leaves a gap. */
  values: Array<number | undefined>;
  /** A CSS colour, e.g. `var(--failed)`. */
  color: string;
}

interface Props {
  title: string;
  /** The x positions' labels, one per value. */
  labels: string[];
  series: ChartSeries[];
  kind: "bars" | "lines";
  format: (value: number) => string;
  testId?: string;
}

const HEIGHT = 200;
const PAD = { left: 62, right: 12, top: 10, bottom: 28 };

/** The element's width in CSS pixels, so the chart draws at its real size and its text stays readable. */
function useWidth(fallback: number): [RefObject<HTMLElement>, number] {
  const ref = useRef<HTMLElement>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const element = ref.current;
    if (!element) {
      return;
    }
    const observer = new ResizeObserver(([entry]) => setWidth(Math.max(200, Math.round(entry.contentRect.width))));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export function Chart({ title, labels, series, kind, format, testId }: Props) {
  const [ref, WIDTH] = useWidth(560);
  const totals = labels.map((_, i) =>
    kind === "bars"
      ? series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0)
      : Math.max(0, ...series.map((s) => s.values[i] ?? 0)),
  );
  const top = niceMax(Math.max(0, ...totals));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = labels.length > 0 ? plotW / labels.length : plotW;
  const y = (value: number) => PAD.top + plotH - (top > 0 ? (value / top) * plotH : 0);
  const x = (i: number) => PAD.left + slot * i + slot / 2;
  const ticks = [0, top / 2, top];
  // As many x labels as fit without touching (about 90 px each), always the first and last.
  const room = Math.max(2, Math.floor(plotW / 90));
  const every = Math.max(1, Math.ceil(labels.length / room));
  const shown = labels.map((_, i) => i).filter((i) => i % every === 0 && labels.length - 1 - i >= every / 2 || i === labels.length - 1);
  const empty = totals.every((t) => t === 0);

  return (
    <figure className="chart" data-testid={testId} ref={ref}>
      <figcaption>{title}</figcaption>
      <svg width={WIDTH} height={HEIGHT} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${title}: chart; the data follow as a table`}>
        {ticks.map((t) => (
          <g key={t}>
            <line className="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(t)} y2={y(t)} />
            <text className="axis" x={PAD.left - 6} y={y(t) + 4} textAnchor="end">
              {format(t)}
            </text>
          </g>
        ))}
        {shown.map((i) => (
          // The outer labels hang inwards, so they are not cut at the edges.
          <text
            key={i}
            className="axis"
            x={shown.length > 1 && i === 0 ? PAD.left : shown.length > 1 && i === labels.length - 1 ? WIDTH - PAD.right : x(i)}
            y={HEIGHT - 8}
            textAnchor={shown.length > 1 && i === 0 ? "start" : shown.length > 1 && i === labels.length - 1 ? "end" : "middle"}
          >
            {labels[i]}
          </text>
        ))}
        {kind === "bars" &&
          labels.map((label, i) => {
            let base = 0;
            return series.map((s) => {
              const value = s.values[i] ?? 0;
              if (value <= 0) {
                return null;
              }
              const rect = (
                <rect
                  key={`${s.name}-${i}`}
                  x={x(i) - Math.max(1, slot * 0.35)}
                  width={Math.max(2, slot * 0.7)}
                  y={y(base + value)}
                  height={Math.max(1, y(base) - y(base + value))}
                  fill={s.color}
                >
                  <title>{`${label}: ${s.name} ${format(value)}`}</title>
                </rect>
              );
              base += value;
              return rect;
            });
          })}
        {kind === "lines" &&
          series.map((s) => {
            const points = s.values.map((v, i) => (v === undefined ? null : `${x(i)},${y(v)}`));
            // Split the polyline where values are missing.
            const runs: string[][] = [[]];
            for (const p of points) {
              if (p === null) {
                runs.push([]);
              } else {
                runs[runs.length - 1].push(p);
              }
            }
            return (
              <g key={s.name}>
                {runs.filter((r) => r.length > 1).map((r, i) => (
                  <polyline key={i} points={r.join(" ")} fill="none" stroke={s.color} strokeWidth={2} />
                ))}
                {runs.filter((r) => r.length === 1).map((r, i) => {
                  const [cx, cy] = r[0].split(",");
                  return <circle key={i} cx={cx} cy={cy} r={3} fill={s.color} />;
                })}
              </g>
            );
          })}
        {empty && (
          <text className="axis" x={PAD.left + plotW / 2} y={PAD.top + plotH / 2} textAnchor="middle">
            nothing in this range
          </text>
        )}
      </svg>
      <ul className="legend">
        {series.map((s) => (
          <li key={s.name}>
            <span className="swatch" style={{ background: s.color }} /> {s.name}
          </li>
        ))}
      </ul>
      <details>
        <summary>Data</summary>
        <div className="table-wrap">
          <table className="small">
            <thead>
              <tr>
                <th />
                {series.map((s) => (
                  <th key={s.name}>{s.name}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {labels.map((label, i) =>
                series.some((s) => s.values[i] !== undefined && s.values[i] !== 0) ? (
                  <tr key={i}>
                    <td className="nowrap">{label}</td>
                    {series.map((s) => (
                      <td key={s.name}>{s.values[i] === undefined ? "" : format(s.values[i]!)}</td>
                    ))}
                  </tr>
                ) : null,
              )}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
