"""What every IA Modules service shares.

- `server`: `ServiceConfig`, `Wiring`, `start`/`serve`/`run` - one grpc.aio server
  with health, reflection of the whole public API, error handling, graceful shutdown.
- `errors`: `abort`, `abort_invalid_argument`, `abort_invalid_definition` - gRPC
  status codes with google.rpc details (one ErrorInfo each).
- `database`: `Database` - SQLAlchemy Core, SQLite (WAL) or PostgreSQL, with
  ordered per-service migrations.
- `pagination`: `PageTokens`, `page_size` - signed, opaque page tokens.
- `logging`: `configure_logging`, `get_logger` - one structured line per event.
- `telemetry`: tracing over OTLP (bounded, never blocking), gRPC server spans and
  RPC metrics, `/metrics` for Prometheus, and the metric catalog (pipeline_*,
  plugin_*, grpc_server_*) every service shares.
"""
