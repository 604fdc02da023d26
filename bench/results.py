"""Figures, and how they are written to bench/results/ as JSON and Markdown.

A figure is one measured number of ours next to the baseline it is judged
against, measured in the same run. Its target is one of:

- `ratio`: ours / baseline must be at most `target`;
- `difference`: ours - baseline must be at most `target` (same unit);
- `value`: ours itself must be below `target`.

A figure without a target is a reference line, shown for context.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

TARGET_KINDS = ("ratio", "difference", "value")


@dataclass
class Figure:
    """One row of the report."""

    metric: str
    unit: str
    ours: float | None
    baseline: float | None = None
    baseline_name: str | None = None
    target_kind: str | None = None
    target: float | None = None
    note: str | None = None
    samples: int | None = None

    def __post_init__(self) -> None:
        if self.target_kind is not None and self.target_kind not in TARGET_KINDS:
            raise ValueError(f"unknown target kind {self.target_kind!r}")

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.baseline:
            return None
        return self.ours / self.baseline

    @property
    def difference(self) -> float | None:
        if self.ours is None or self.baseline is None:
            return None
        return self.ours - self.baseline

    @property
    def met(self) -> bool | None:
        """Whether the target holds; None when there is no target or no number."""
        judged = {
            "ratio": self.ratio,
            "difference": self.difference,
            "value": self.ours,
        }.get(self.target_kind or "")
        if judged is None or self.target is None:
            return None
        if self.target_kind == "value":
            return judged < self.target
        return judged <= self.target

    @property
    def target_text(self) -> str:
        if self.target_kind == "ratio":
            return f"ratio <= {self.target:g}"
        if self.target_kind == "difference":
            return f"<= +{self.target:g} {self.unit} over baseline"
        if self.target_kind == "value":
            return f"< {self.target:g} {self.unit}"
        return ""

    def to_json(self) -> dict:
        data = asdict(self)
        data.update(
            ratio=self.ratio,
            difference=self.difference if self.target_kind == "difference" else None,
            target_text=self.target_text or None,
            met=self.met,
        )
        return data


@dataclass
class SuiteResult:
    """What one suite measured, or why it could not."""

    suite: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unavailable: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "suite": self.suite,
            "seconds": round(self.seconds, 2),
            "unavailable": self.unavailable,
            "notes": self.notes,
            "figures": [f.to_json() for f in self.figures],
        }


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if value == 0:
        text = "0"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def _ratio_cell(figure: Figure) -> str:
    ratio = figure.ratio
    if ratio is None:
        return ""
    text = f"{ratio:.3g}x"
    if figure.target_kind == "difference":
        text += f" ({figure.difference:+.3f} {figure.unit})"
    return text


def _met_cell(figure: Figure) -> str:
    return {True: "yes", False: "**NO**", None: ""}[figure.met]


def markdown(results: list[SuiteResult], header: dict) -> str:
    """The report as a Markdown page: one table, then notes."""
    lines = [
        "# Benchmark results",
        "",
        f"{header['started']} on {header['machine']}, "
        f"{header['mode']} mode, {header['seconds']:.0f} s in all.",
        "Every baseline was measured in the same run, next to our figure.",
        "",
        "| suite | metric | ours | baseline | ratio | target | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        if result.unavailable:
            lines.append(
                f"| {result.suite} | (not measured) | {result.unavailable} | | | | |"
            )
        for f in result.figures:
            baseline = (
                f"{_number(f.baseline, f.unit)} ({f.baseline_name})"
                if f.baseline is not None
                else ""
            )
            lines.append(
                f"| {result.suite} | {f.metric} | {_number(f.ours, f.unit)} | {baseline} "
                f"| {_ratio_cell(f)} | {f.target_text} | {_met_cell(f)} |"
            )
    notes = [
        (result.suite, note)
        for result in results
        for note in result.notes
    ] + [
        (result.suite, f"{f.metric}: {f.note}")
        for result in results
        for f in result.figures
        if f.note
    ]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- **{suite}**: {note}" for suite, note in notes]
    return "\n".join(lines) + "\n"


def write(results: list[SuiteResult], header: dict, folder: Path) -> tuple[Path, Path]:
    """Write latest.json and latest.md into `folder`; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    as_json = folder / "latest.json"
    as_md = folder / "latest.md"
    document = dict(header, suites=[r.to_json() for r in results])
    as_json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    as_md.write_text(markdown(results, header))
    return as_json, as_md


def machine() -> str:
    """A short description of where the numbers were taken."""
    load = os.getloadavg()[0]
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores "
        f"(load average {load:.1f} at the start), Python {platform.python_version()}"
    )


class NotMeasurable(Exception):
    """A part of ours that a suite measures does not exist yet.

    The suite is reported as not measured, with this message, and the run goes
    on. A missing *baseline* is an error instead (see environments.py).
    """
