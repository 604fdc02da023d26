"""`ia-benchmark`: benchmark pipelines, compare with baselines, report, and gate CI."""
