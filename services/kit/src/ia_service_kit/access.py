"""The role each method needs, for every service, in one table.

viewer reads; operator runs, cancels and answers human tasks; admin changes
pipelines and plugins (and holds the keys); `service` is only held by the
deployment's own services, for the calls a person never makes directly (a step
sent to the plugin host, telemetry export). Health and reflection need no
identity. A method missing from the table needs admin: a new RPC is closed until
someone decides who may call it.
"""

from __future__ import annotations

from ia_service_kit.identity import SERVICE_ROLE

__all__ = ["PUBLIC_METHODS", "REQUIRED_ROLE", "required_role"]

_VIEWER, _OPERATOR, _ADMIN = "viewer", "operator", "admin"

REQUIRED_ROLE: dict[str, str] = {
    # Registry
    "/ia.registry.v1.RegistryService/GetPipeline": _VIEWER,
    "/ia.registry.v1.RegistryService/ListPipelines": _VIEWER,
    "/ia.registry.v1.RegistryService/ListPipelineVersions": _VIEWER,
    "/ia.registry.v1.RegistryService/ValidatePipeline": _VIEWER,
    "/ia.registry.v1.RegistryService/CreatePipeline": _ADMIN,
    "/ia.registry.v1.RegistryService/UpdatePipeline": _ADMIN,
    "/ia.registry.v1.RegistryService/DeletePipeline": _ADMIN,
    "/ia.registry.v1.RegistryService/ImportPipelines": _ADMIN,
    # Executor
    "/ia.executor.v1.ExecutorService/GetRun": _VIEWER,
    "/ia.executor.v1.ExecutorService/ListRuns": _VIEWER,
    "/ia.executor.v1.ExecutorService/WatchRun": _VIEWER,
    "/ia.executor.v1.ExecutorService/ListHumanTasks": _VIEWER,
    # A dry run walks the pipeline with mocks: nothing runs and nothing is stored.
    "/ia.executor.v1.ExecutorService/DryRun": _VIEWER,
    "/ia.executor.v1.ExecutorService/InspectRun": _VIEWER,
    "/ia.executor.v1.ExecutorService/StartRun": _OPERATOR,
    "/ia.executor.v1.ExecutorService/CancelRun": _OPERATOR,
    "/ia.executor.v1.ExecutorService/ResumeRun": _OPERATOR,
    "/ia.executor.v1.ExecutorService/StepRun": _OPERATOR,
    "/ia.executor.v1.ExecutorService/SubmitHumanInput": _OPERATOR,
    # Plugin host
    "/ia.pluginhost.v1.PluginHostService/ListPlugins": _VIEWER,
    "/ia.pluginhost.v1.PluginHostService/GetPlugin": _VIEWER,
    "/ia.pluginhost.v1.PluginHostService/InstallPlugin": _ADMIN,
    "/ia.pluginhost.v1.PluginHostService/UninstallPlugin": _ADMIN,
    # Where a plugin is served (its address): the executor's business, not a person's.
    "/ia.pluginhost.v1.PluginHostService/ResolvePlugin": SERVICE_ROLE,
    # Telemetry
    "/ia.telemetry.v1.TelemetryService/ListTraces": _VIEWER,
    "/ia.telemetry.v1.TelemetryService/GetTrace": _VIEWER,
    "/ia.telemetry.v1.TelemetryService/QueryMetrics": _VIEWER,
    "/ia.telemetry.v1.TelemetryService/ListBenchmarks": _VIEWER,
    "/ia.telemetry.v1.TelemetryService/GetBenchmark": _VIEWER,
    "/ia.telemetry.v1.TelemetryService/RecordBenchmark": _OPERATOR,
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export": SERVICE_ROLE,
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": SERVICE_ROLE,
}

PUBLIC_METHODS = frozenset(
    {
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.health.v1.Health/List",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }
)
"""Methods served to anyone: load balancers probe health, tools list the API."""


def required_role(method: str) -> str | None:
    """The role `method` needs; None for a public method."""
    if method in PUBLIC_METHODS:
        return None
    if method.startswith("/ia.plugin.v1.PluginService/"):
        # The plugin protocol (ExecuteStep, ...) is spoken by services to plugins.
        return SERVICE_ROLE
    return REQUIRED_ROLE.get(method, _ADMIN)
