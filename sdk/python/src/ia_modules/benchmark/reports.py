"""Reports of a result (and its comparison and history): console, JSON, Markdown, HTML.

The HTML report is one self-contained file: its charts are inline SVG, with no
script and nothing fetched, so it opens anywhere and can be archived by CI.
"""

from __future__ import annotations

import enum
import html
import io
import json
from dataclasses import dataclass, field
from typing import Any

from ia_modules.benchmark.comparison import Comparison
from ia_modules.benchmark.result import LATENCY, STEP_PREFIX, BenchmarkResult, unit_of
from ia_modules.benchmark.statistics import Verdict

__all__ = ["Report", "ReportFormat"]

_BINS = 20
_WIDTH, _HEIGHT, _PAD = 640, 240, 40
_COLORS = {Verdict.FASTER: "#1a7f37", Verdict.SLOWER: "#cf222e", Verdict.NO_CHANGE: "#57606a"}


class ReportFormat(enum.StrEnum):
    """Where a report goes: a terminal, a program, a CI comment or a browser."""

    console = "console"
    json = "json"
    markdown = "markdown"
    html = "html"


def _value(metric: str, value: float) -> str:
    unit = unit_of(metric)
    if unit == "s":
        return f"{value * 1000:.3f} ms"
    return f"{value:.2f} {unit}"


@dataclass
class Report:
    """A result to show, with its comparison against a baseline and earlier results, if any."""

    result: BenchmarkResult
    comparison: Comparison | None = None
    history: list[BenchmarkResult] = field(default_factory=list)
    threshold: float | None = None

    def render(self, report_format: ReportFormat) -> str:
        """The report as text in `report_format` (console gives plain text)."""
        if report_format is ReportFormat.json:
            return self.json()
        if report_format is ReportFormat.markdown:
            return self.markdown()
        if report_format is ReportFormat.html:
            return self.html()
        from rich.console import Console

        console = Console(record=True, width=110, file=io.StringIO())
        self.print(console)
        return console.export_text()

    # ----- console -----------------------------------------------------------------

    def print(self, console: Any) -> None:
        """Prints the report with Rich tables to `console`."""
        from rich.table import Table

        summary = self.result.summary()
        console.print(
            f"[bold]{self.result.pipeline}[/]: {summary['iterations']} runs ({self.result.mode}), "
            f"{summary['ops_s']:.2f} runs/s, {summary['failed_runs']} failed, "
            f"cost ${summary['cost_usd']:.4f}, {summary['api_calls']} API calls"
        )
        table = Table("metric", "median", "p95", "min", "max", title="measured")
        for metric, figures in summary["metrics"].items():
            table.add_row(metric, *(_value(metric, figures[k]) for k in ("median", "p95", "min", "max")))
        console.print(table)
        if self.comparison is not None:
            table = Table(
                "metric", "baseline median", "current median", "ratio", "95% CI", "verdict", title="against the baseline"
            )
            for m in self.comparison.metrics:
                table.add_row(
                    m.metric,
                    _value(m.metric, m.baseline_median),
                    _value(m.metric, m.current_median),
                    f"{m.estimate.ratio:.3f}",
                    f"{m.estimate.low:.3f}-{m.estimate.high:.3f}",
                    f"[{_COLORS[m.verdict]}]{m.verdict}[/]",
                )
            console.print(table)
            if self.threshold is not None:
                console.print(self._gate_line())
        for top in self.result.profile_report.get("top_functions", [])[:10]:
            console.print(f"  {top['cumulative_s']:.4f}s cumulative  {top['calls']:>6} calls  {top['function']}")
        for note in self.result.notes:
            console.print(f"[dim]note: {note}[/]")

    def _gate_line(self) -> str:
        assert self.comparison is not None and self.threshold is not None
        found = self.comparison.regressions(self.threshold)
        if found:
            return f"REGRESSION past {self.threshold:.0%}: " + ", ".join(f"{m.metric} {m.change:+.1%}" for m in found)
        return f"no significant regression past {self.threshold:.0%}"

    # ----- JSON and Markdown -------------------------------------------------------

    def json(self) -> str:
        """The result's summary, the comparison and the gate, as one JSON document."""
        document: dict[str, Any] = {"result": self.result.summary(), "notes": self.result.notes}
        if self.result.profile_report:
            document["profile"] = self.result.profile_report
        if self.comparison is not None:
            document["comparison"] = self.comparison.to_dict(self.threshold)
        return json.dumps(document, indent=2) + "\n"

    def markdown(self) -> str:
        """GitHub-flavoured Markdown, short enough for a pull-request comment."""
        summary = self.result.summary()
        lines = [
            f"### Benchmark: `{self.result.pipeline}`",
            "",
            f"{summary['iterations']} runs ({self.result.mode}), {summary['ops_s']:.2f} runs/s, "
            f"{summary['failed_runs']} failed.",
            "",
        ]
        if self.comparison is not None:
            if self.threshold is not None:
                lines += [f"**{self._gate_line()}**", ""]
            lines += [
                "| metric | baseline median | current median | ratio | 95% CI | verdict |",
                "|---|---:|---:|---:|---:|---|",
            ]
            for m in self.comparison.metrics:
                lines.append(
                    f"| {m.metric} | {_value(m.metric, m.baseline_median)} | {_value(m.metric, m.current_median)} "
                    f"| {m.estimate.ratio:.3f} | {m.estimate.low:.3f}-{m.estimate.high:.3f} | {m.verdict} |"
                )
        else:
            lines += ["| metric | median | p95 |", "|---|---:|---:|"]
            for metric, figures in summary["metrics"].items():
                lines.append(f"| {metric} | {_value(metric, figures['median'])} | {_value(metric, figures['p95'])} |")
        lines += [""] + [f"> {note}" for note in self.result.notes]
        return "\n".join(lines).rstrip() + "\n"

    # ----- HTML --------------------------------------------------------------------

    def html(self) -> str:
        """One HTML file with inline SVG charts: latency histogram, step breakdown, trend."""
        summary = self.result.summary()
        title = html.escape(f"Benchmark: {self.result.pipeline}")
        rows = "".join(
            f"<tr><td>{html.escape(metric)}</td><td>{_value(metric, f['median'])}</td><td>{_value(metric, f['p95'])}</td>"
            f"<td>{_value(metric, f['min'])}</td><td>{_value(metric, f['max'])}</td></tr>"
            for metric, f in summary["metrics"].items()
        )
        comparison = ""
        if self.comparison is not None:
            gate = f"<p class='gate'>{html.escape(self._gate_line())}</p>" if self.threshold is not None else ""
            comparison = (
                "<h2>Against the baseline</h2>" + gate + "<table><tr><th>metric</th><th>baseline median</th>"
                "<th>current median</th><th>ratio</th><th>95% CI</th><th>verdict</th></tr>"
                + "".join(
                    f"<tr><td>{html.escape(m.metric)}</td><td>{_value(m.metric, m.baseline_median)}</td>"
                    f"<td>{_value(m.metric, m.current_median)}</td><td>{m.estimate.ratio:.3f}</td>"
                    f"<td>{m.estimate.low:.3f}-{m.estimate.high:.3f}</td>"
                    f"<td style='color:{_COLORS[m.verdict]}'>{m.verdict}</td></tr>"
                    for m in self.comparison.metrics
                )
                + "</table>"
            )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.result.notes)
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
td, th {{ border: 1px solid #d0d7de; padding: 4px 10px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
svg {{ background: #f6f8fa; border: 1px solid #d0d7de; display: block; margin: 0.5rem 0 1.5rem; }}
svg text {{ font-size: 11px; fill: #57606a; }}
.gate {{ font-weight: bold; }}
</style></head><body>
<h1>{title}</h1>
<p>{summary['iterations']} runs ({html.escape(self.result.mode)}), concurrency {self.result.concurrency},
{summary['ops_s']:.2f} runs/s, {summary['failed_runs']} failed, started {html.escape(self.result.started_at)}.</p>
<table><tr><th>metric</th><th>median</th><th>p95</th><th>min</th><th>max</th></tr>{rows}</table>
{comparison}
<h2>Latency distribution</h2>
{self._histogram()}
<h2>Time per step (median)</h2>
{self._step_bars()}
<h2>Median latency across stored results</h2>
{self._trend()}
<ul>{notes}</ul>
</body></html>
"""

    def _histogram(self) -> str:
        values = [v * 1000 for v in self.result.metrics()[LATENCY]]
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        counts = [0] * _BINS
        for value in values:
            counts[min(_BINS - 1, int((value - low) / span * _BINS))] += 1
        tallest = max(counts)
        bar_width = (_WIDTH - 2 * _PAD) / _BINS
        plot_height = _HEIGHT - 2 * _PAD
        bars = "".join(
            f'<rect class="bar" x="{_PAD + i * bar_width:.1f}" y="{_HEIGHT - _PAD - c / tallest * plot_height:.1f}" '
            f'width="{bar_width - 2:.1f}" height="{c / tallest * plot_height:.1f}" fill="#0969da">'
            f"<title>{c} runs</title></rect>"
            for i, c in enumerate(counts)
        )
        return _svg(
            "latency-histogram",
            bars
            + _axis()
            + f'<text x="{_PAD}" y="{_HEIGHT - _PAD + 16}">{low:.2f} ms</text>'
            + f'<text x="{_WIDTH - _PAD}" y="{_HEIGHT - _PAD + 16}" text-anchor="end">{high:.2f} ms</text>'
            + f'<text x="{_PAD + 4}" y="{_PAD - 8}">{tallest} runs</text>',
            "Histogram of run latency",
        )

    def _step_bars(self) -> str:
        steps = {
            metric.removeprefix(STEP_PREFIX): summary["median"] * 1000
            for metric, summary in self.result.summary()["metrics"].items()
            if metric.startswith(STEP_PREFIX)
        }
        if not steps:
            return _svg("step-breakdown", '<text x="20" y="40">no step timings recorded</text>', "Time per step", 60)
        row, label = 22, 120
        height = len(steps) * row + 2 * 12
        longest = max(steps.values()) or 1.0
        widths = [max(1.0, value / longest * (_WIDTH - label - 110)) for value in steps.values()]
        bars = "".join(
            f'<text x="{label - 6}" y="{12 + i * row + 14}" text-anchor="end">{html.escape(step)}</text>'
            f'<rect class="bar" x="{label}" y="{12 + i * row + 3}" height="{row - 6}" width="{width:.1f}" '
            f'fill="#8250df"><title>{value:.3f} ms</title></rect>'
            f'<text x="{label + width + 6:.1f}" y="{12 + i * row + 14}">{value:.3f} ms</text>'
            for i, ((step, value), width) in enumerate(zip(steps.items(), widths, strict=True))
        )
        return _svg("step-breakdown", bars, "Median time per step", height)

    def _trend(self) -> str:
        points = [(r.started_at, r.summary()["metrics"][LATENCY]["median"] * 1000) for r in self.history if r.runs]
        current = (self.result.started_at, self.result.summary()["metrics"][LATENCY]["median"] * 1000)
        if current not in points:
            points.append(current)
        highest = max(v for _t, v in points) or 1.0
        plot_width, plot_height = _WIDTH - 2 * _PAD, _HEIGHT - 2 * _PAD
        step = plot_width / max(1, len(points) - 1)
        coords = [
            (_PAD + (i * step if len(points) > 1 else plot_width / 2), _HEIGHT - _PAD - v / highest * plot_height)
            for i, (_t, v) in enumerate(points)
        ]
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        dots = "".join(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#bf3989"><title>{html.escape(t)}: {v:.3f} ms</title></circle>'
            for (x, y), (t, v) in zip(coords, points, strict=True)
        )
        caption = "" if len(points) > 1 else f'<text x="{_PAD + 8}" y="{_PAD + 16}">one stored result so far</text>'
        return _svg(
            "latency-trend",
            _axis()
            + f'<polyline class="trend" points="{line}" fill="none" stroke="#bf3989" stroke-width="2"/>'
            + dots
            + caption
            + f'<text x="{_PAD + 4}" y="{_PAD - 8}">{highest:.2f} ms</text>',
            "Median latency of each stored result, oldest first",
        )


def _axis() -> str:
    return (
        f'<line x1="{_PAD}" y1="{_HEIGHT - _PAD}" x2="{_WIDTH - _PAD}" y2="{_HEIGHT - _PAD}" stroke="#57606a"/>'
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_HEIGHT - _PAD}" stroke="#57606a"/>'
    )


def _svg(identifier: str, body: str, label: str, height: int = _HEIGHT) -> str:
    return (
        f'<svg id="{identifier}" xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="{html.escape(label)}">{body}</svg>'
    )

