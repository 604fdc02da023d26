"""The telemetry service: receives OTLP from every service and answers questions about it.

- `server.py` wires the parts and starts serving (`ia-telemetry`);
- `service.py` maps the TelemetryService RPCs to the domain;
- `receiver.py` is the OTLP/gRPC receiver (traces and metrics) on the same port;
- `spans.py` turns OTLP spans into stored spans (limits, truncation, refusals);
- `points.py` derives pipeline metric points from spans and OTLP metrics;
- `traces.py`, `metrics.py`, `benchmarks.py` hold the rules of each question;
- `exporters/` sends the metric points on (StatsD, DogStatsD, Datadog, CloudWatch,
  Embedded Metric Format) and forwards OTLP upstream;
- `store.py` keeps spans, traces, points and benchmark runs in the database.
"""
