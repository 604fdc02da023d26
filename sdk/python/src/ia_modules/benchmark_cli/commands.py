"""The commands of `ia-benchmark`. Each imports the benchmark library when it runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ia_modules.cli.console import CLIError, ExitCode, handles_errors, note, settings, stderr, stdout

if TYPE_CHECKING:
    from ia_modules.benchmark import BenchmarkResult, Comparison, History, Report

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = "console|json|markdown|html"
FormatOption = Annotated[str, typer.Option("--format", metavar=FORMATS, help="How to print the report.")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the report (run: the result JSON) here.")
]
ThresholdOption = Annotated[
    str, typer.Option("--threshold", metavar="PERCENT", help="How much slower counts as a regression, e.g. 10%.")
]
IterationsOption = Annotated[int, typer.Option("--iterations", "-n", help="Measured runs.")]
WarmupOption = Annotated[int, typer.Option("--warmup", help="Runs first, not measured.")]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", "-c", help="Runs at a time.")]
InputOption = Annotated[Path | None, typer.Option("--input", metavar="FILE", help="Run inputs (a JSON object).")]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="memory|cpu",
        help="memory: peak RSS and growth per run of the executor and plugins (with --local, this process); "
        "cpu: their CPU seconds per run, and with --local a cProfile file and its top functions.",
    ),
]
LocalOption = Annotated[
    bool, typer.Option("--local", help="Run in this process with the engine (pass and wait steps only).")
]
ThroughputOption = Annotated[
    str | None,
    typer.Option("--throughput-path", metavar="PATH", help="Items per second from the list at PATH, e.g. outputs.items."),
]
SaveBaselineOption = Annotated[
    str | None, typer.Option("--save-baseline", metavar="NAME", help="Also store this result as baseline NAME.")
]


def _benchmark_errors(command: F) -> F:
    """Benchmark errors become one-line CLI errors; anything else is left to handles_errors."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Exception as error:
            from ia_modules.benchmark import BenchmarkError

            if isinstance(error, BenchmarkError):
                raise CLIError(str(error)) from None
            raise

    return handles_errors(wrapper)  # type: ignore[return-value]


def _format(value: str) -> Any:
    from ia_modules.benchmark import ReportFormat

    try:
        return ReportFormat(value)
    except ValueError:
        raise CLIError(f"--format {value!r}: expected one of {FORMATS}", ExitCode.USAGE) from None


def _history() -> History:
    from ia_modules.benchmark import History, default_history_dir

    return History(default_history_dir())


def _emit(report: Report, report_format: str, output: Path | None) -> None:
    """Prints the report, or writes it to `output` (and says where)."""
    from ia_modules.benchmark import ReportFormat

    chosen = _format(report_format)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report.render(chosen), encoding="utf-8")
        note(f"wrote the {chosen.value} report to {output}")
    elif chosen is ReportFormat.console:
        report.print(stdout())
    else:
        typer.echo(report.render(chosen), nl=False)


def _inputs(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    from ia_modules.cli.sources import read_json_object

    return read_json_object(path)


def _measure(
    pipeline: str,
    *,
    iterations: int,
    warmup: int,
    concurrency: int,
    input_file: Path | None,
    profile: str | None,
    local: bool,
    throughput_path: str | None,
    profile_output: Path | None,
) -> BenchmarkResult:
    """Runs the benchmark with a progress bar on stderr, then stores it in the history."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ia_modules.benchmark import RunSettings, load_target, record_in_telemetry, run_benchmark

    run_settings = RunSettings(
        iterations=iterations,
        warmup=warmup,
        concurrency=concurrency,
        inputs=_inputs(input_file),
        local=local,
        profile=profile or "",
        throughput_path=throughput_path or "",
        endpoint=settings.endpoint,
        profile_output=profile_output,
    )
    run_settings.check()
    target = load_target(pipeline)
    console = stderr()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        # Piped or captured stderr gets no bar, only the notes.
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(f"{target.name} ({warmup} warm-up)", total=warmup + iterations)
        result = run_benchmark(target, run_settings, lambda done, _total: progress.update(task, completed=done))
    path = _history().save(result)
    note(f"stored in the history as {path}")
    if not local:
        note(record_in_telemetry(result, settings.endpoint))
    return result


@_benchmark_errors
def run_command(
    pipeline: Annotated[str, typer.Argument(help="A definition file, or the name of a registered pipeline.")],
    iterations: IterationsOption = 10,
    warmup: WarmupOption = 0,
    concurrency: ConcurrencyOption = 1,
    input_file: InputOption = None,
    profile: ProfileOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the result JSON here.")
    ] = None,
    local: LocalOption = False,
    throughput_path: ThroughputOption = None,
    save_baseline: SaveBaselineOption = None,
    report_format: FormatOption = "console",
) -> None:
    """Run PIPELINE N times and measure latency, steps, throughput, cost and (optionally) resources."""
    from ia_modules.benchmark import Report, default_history_dir

    # A local CPU profile goes beside the result, or into the history folder.
    profile_output = (
        output.with_suffix(".prof")
        if output is not None
        else default_history_dir() / "profiles" / f"{Path(pipeline).stem}.prof"
    )
    result = _measure(
        pipeline,
        iterations=iterations,
        warmup=warmup,
        concurrency=concurrency,
        input_file=input_file,
        profile=profile,
        local=local,
        throughput_path=throughput_path,
        profile_output=profile_output,
    )
    if save_baseline:
        _history().save_baseline(result, save_baseline)
        note(f"stored as baseline {save_baseline!r}")
    if output is not None:
        result.save(output)
        note(f"wrote the result to {output}")
    _emit(Report(result), report_format, None)


def _load(reference: str) -> BenchmarkResult:
    return _history().find(reference)


def _gate(comparison: Comparison, threshold: float, what: str) -> None:
    regressions = comparison.regressions(threshold)
    failed = sum(r.state != "SUCCEEDED" for r in comparison.current.runs)
    if failed:
        raise CLIError(f"{what}: {failed} of {len(comparison.current.runs)} runs did not succeed")
    if regressions:
        listed = ", ".join(f"{m.metric} {m.change:+.1%}" for m in regressions)
        raise CLIError(f"{what}: significant regression past {threshold:.0%}: {listed}")


@_benchmark_errors
def compare_command(
    baseline: Annotated[str, typer.Argument(help="A result file or a stored baseline's name.")],
    current: Annotated[str, typer.Argument(help="A result file or a stored baseline's name.")],
    report_format: FormatOption = "console",
    output: OutputOption = None,
) -> None:
    """Compare two results: medians, p95, ratio, bootstrap CI and a verdict per metric."""
    from ia_modules.benchmark import Report, compare

    base, now = _load(baseline), _load(current)
    _emit(Report(now, compare(base, now)), report_format, output)


def _latest(pipeline: str | None, exclude: BenchmarkResult | None = None) -> BenchmarkResult:
    history = _history()
    if pipeline is None:
        candidates = sorted(history.root.glob("*/*.json"), key=lambda p: p.stat().st_mtime)
        candidates = [p for p in candidates if p.parent.name != "baselines"]
        if not candidates:
            raise CLIError(f"no stored results in {history.root}; run `ia-benchmark run PIPELINE` first")
        from ia_modules.benchmark import BenchmarkResult

        return BenchmarkResult.load(candidates[-1])
    # The baseline may itself be in the history; the result to check is another one.
    results = [
        r
        for r in history.results(pipeline)
        if exclude is None or (r.started_at, r.wall_s) != (exclude.started_at, exclude.wall_s)
    ]
    if not results:
        raise CLIError(
            f"no stored result of {pipeline!r} besides the baseline in {history.root}; "
            f"run `ia-benchmark run` first or give one with --current FILE"
        )
    return results[-1]


@_benchmark_errors
def regression_command(
    baseline: Annotated[str, typer.Option("--baseline", metavar="FILE|NAME", help="The baseline to hold to.")],
    current: Annotated[
        str | None,
        typer.Option("--current", metavar="FILE|NAME", help="The result to check [default: the latest stored one]."),
    ] = None,
    threshold: ThresholdOption = "10%",
    report_format: FormatOption = "console",
    output: OutputOption = None,
) -> None:
    """Check a result against a baseline; exit 1 on a significant regression past the threshold."""
    from ia_modules.benchmark import Report, compare, parse_threshold

    limit = parse_threshold(threshold)
    base = _load(baseline)
    now = _load(current) if current else _latest(base.pipeline, exclude=base)
    comparison = compare(base, now)
    _emit(Report(now, comparison, _history().results(now.pipeline), limit), report_format, output)
    _gate(comparison, limit, now.pipeline)


@_benchmark_errors
def report_command(
    result: Annotated[
        str | None, typer.Argument(help="A result file or stored baseline name [default: the latest stored result].")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", metavar="FILE|NAME", help="Also compare with this baseline.")
    ] = None,
    threshold: ThresholdOption = "10%",
    report_format: FormatOption = "console",
    output: OutputOption = None,
) -> None:
    """Report a result: tables, or an HTML page with a latency histogram, step bars and the trend."""
    from ia_modules.benchmark import Report, compare, parse_threshold

    chosen = _load(result) if result else _latest(None)
    comparison = compare(_load(baseline), chosen) if baseline else None
    limit = parse_threshold(threshold) if baseline else None
    _emit(Report(chosen, comparison, _history().results(chosen.pipeline), limit), report_format, output)


@_benchmark_errors
def ci_command(
    pipeline: Annotated[str, typer.Argument(help="A definition file, or the name of a registered pipeline.")],
    baseline: Annotated[str, typer.Option("--baseline", metavar="FILE|NAME", help="The baseline to hold to.")],
    threshold: ThresholdOption = "10%",
    iterations: IterationsOption = 20,
    warmup: WarmupOption = 2,
    concurrency: ConcurrencyOption = 1,
    input_file: InputOption = None,
    local: LocalOption = False,
    throughput_path: ThroughputOption = None,
    report_format: FormatOption = "console",
    output: OutputOption = None,
) -> None:
    """Run, compare with the baseline, print the report; exit 1 on a significant regression."""
    from ia_modules.benchmark import Report, compare, parse_threshold

    limit = parse_threshold(threshold)
    base = _load(baseline)
    result = _measure(
        pipeline,
        iterations=iterations,
        warmup=warmup,
        concurrency=concurrency,
        input_file=input_file,
        profile=None,
        local=local,
        throughput_path=throughput_path,
        profile_output=None,
    )
    comparison = compare(base, result)
    _emit(Report(result, comparison, _history().results(result.pipeline), limit), report_format, output)
    _gate(comparison, limit, result.pipeline)
