"""Benchmarking pipelines: run them N times, compare with a baseline, report, gate CI.

The library behind `ia-benchmark`. The project's own performance suite is
`make bench` (bench/); this measures user pipelines.

    from ia_modules.benchmark import Benchmark
    Benchmark("p.json").iterations(50).warmup(5).local().run().compare("main").assert_no_regression(0.10)
"""

from ia_modules.benchmark.api import Benchmark, Measured
from ia_modules.benchmark.comparison import Comparison, MetricComparison, RegressionError, compare, parse_threshold
from ia_modules.benchmark.history import History, default_history_dir, record_in_telemetry
from ia_modules.benchmark.reports import Report, ReportFormat
from ia_modules.benchmark.result import BenchmarkError, BenchmarkResult, RunSample
from ia_modules.benchmark.runner import RunSettings, Target, load_target, run_benchmark
from ia_modules.benchmark.statistics import RatioEstimate, Summary, Verdict, percentile, ratio_of_medians, summarize

__all__ = [
    "Benchmark",
    "BenchmarkError",
    "BenchmarkResult",
    "Comparison",
    "History",
    "Measured",
    "MetricComparison",
    "RatioEstimate",
    "RegressionError",
    "Report",
    "ReportFormat",
    "RunSample",
    "RunSettings",
    "Summary",
    "Target",
    "Verdict",
    "compare",
    "default_history_dir",
    "load_target",
    "parse_threshold",
    "percentile",
    "ratio_of_medians",
    "record_in_telemetry",
    "run_benchmark",
    "summarize",
]
