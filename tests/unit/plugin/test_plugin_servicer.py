"""PluginService as a plugin process serves it, called through the in-process harness."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from ia.plugin.v1 import message_pb2
from ia_modules.errors import IAError
from ia_modules.plugin import (
    CallInfo,
    ConditionResult,
    ConfigError,
    InputError,
    Issue,
    Kind,
    PluginContext,
    PluginError,
    PluginHarness,
    Report,
    condition_plugin,
    hook_plugin,
    reporter_plugin,
    step_plugin,
    transform_plugin,
    validator_plugin,
)
from ia_modules.plugin.servicer import CallWatch, PluginServicer

LIMIT_SCHEMA = {
    "type": "object",
    "required": ["limit"],
    "additionalProperties": False,
    "properties": {"limit": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string"}}},
}


@condition_plugin(version="2.0.0", config_schema=LIMIT_SCHEMA)
def over_limit(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    """True when amount is over the limit."""
    if "amount" not in data:
        raise InputError("amount", "the input has no amount")
    return ConditionResult(data["amount"] > config["limit"], f"{data['amount']} vs {config['limit']}")


@validator_plugin("over_limit", version="2.0.0")
def over_limit_check(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> list[Any]:
    return [Issue("too big", "amount", "TOO_BIG"), "plain text issue", {"path": "x", "message": "dict issue"}]


@condition_plugin
def plain_bool(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> Any:
    return data.get("answer", True) if "pair" not in data else (False, "as a pair")


@step_plugin
async def work(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    """Streams a log and progress, records cost, and echoes the call."""
    ctx.log("starting", who=data.get("who"))
    ctx.progress(0.5, "half way")
    ctx.progress(7, "clamped")
    ctx.record_cost(usd=0.25, api_calls=2)
    return {"run": ctx.run_id, "key": ctx.idempotency_key, "attempt": ctx.attempt, "remaining": ctx.time_remaining()}


@step_plugin
def threaded_work(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    ctx.log("from a worker thread", level="warning")
    return {"done": True}


@step_plugin
async def fails(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> Any:
    how = data["how"]
    if how == "retryable":
        raise PluginError("upstream is down", reason="UPSTREAM_DOWN", retryable=True, upstream="svc")
    if how == "final":
        raise PluginError("card declined", reason="CARD_DECLINED")
    if how == "config":
        raise ConfigError("timezone", "'Mars/Base' is not a time zone")
    if how == "memory":
        raise MemoryError
    if how == "bug":
        raise KeyError("missing")
    if how == "not_a_dict":
        return ["a", "list"]
    return {"when": object()}


@step_plugin
async def wait_forever(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    await asyncio.Event().wait()
    return {}


class _Held:
    """Lets a test hold a call in flight until it says so."""

    def clear(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()


HELD = _Held()


@step_plugin
async def hold(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    HELD.started.set()
    await HELD.release.wait()
    return {"held": True}


@transform_plugin
def double(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> Any:
    return None if data.get("empty") else {"value": data["value"] * 2}


@hook_plugin
def remember(config: dict[str, Any], event: dict[str, Any], ctx: PluginContext) -> None:
    SEEN.append(event)


@reporter_plugin
def summary(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> Any:
    if config.get("plain"):
        return f"run {data['run_id']}"
    if config.get("broken"):
        return 42
    return Report(f"# {data['run_id']}", "text/markdown", "run.md")


SEEN: list[dict[str, Any]] = []
ALL = (over_limit, over_limit_check, plain_bool, work, threaded_work, fails, wait_forever, double, remember, summary)


@pytest.fixture
async def harness():
    async with PluginHarness.in_process(*ALL) as running:
        yield running


async def test_describe_lists_each_name_once_with_all_its_kinds(harness: PluginHarness) -> None:
    described = {d.name: d for d in harness.plugins}

    assert sorted(described) == sorted({p.name for p in ALL})
    limit = described["over_limit"]
    assert list(limit.kinds) == [message_pb2.PLUGIN_KIND_CONDITION, message_pb2.PLUGIN_KIND_VALIDATOR]
    assert limit.version == "2.0.0"
    assert limit.description == "True when amount is over the limit."
    assert limit.config_schema["required"] == ["limit"]


async def test_a_condition_answers_with_its_reason(harness: PluginHarness) -> None:
    answer = await harness.client.evaluate_condition("over_limit", {"limit": 10}, {"amount": 12})
    assert answer == ConditionResult(True, "12 vs 10")
    assert (await harness.client.evaluate_condition("plain_bool", {}, {"answer": False})).result is False
    assert await harness.client.evaluate_condition("plain_bool", {}, {"pair": 1}) == ConditionResult(False, "as a pair")


async def test_config_that_breaks_the_schema_is_refused_naming_each_field(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as refused:
        await harness.client.evaluate_condition("over_limit", {"limit": "ten", "tags": [1], "extra": 0}, {})

    error = refused.value
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_CONFIG"
    assert dict(error.field_violations) == {
        "config.extra": "Additional properties are not allowed ('extra' was unexpected)",
        "config.limit": "'ten' is not of type 'number'",
        "config.tags[0]": "1 is not of type 'string'",
    }
    assert "(and 2 more)" in error.message


async def test_a_missing_required_config_field_is_named(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as refused:
        await harness.client.evaluate_condition("over_limit", {}, {"amount": 1})
    assert refused.value.field_violations == [("config.limit", "'limit' is a required property")]
    assert refused.value.metadata["field"] == "config.limit"


async def test_bad_input_is_refused_naming_the_input_field(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as refused:
        await harness.client.evaluate_condition("over_limit", {"limit": 1}, {})
    assert refused.value.reason == "INVALID_INPUT"
    assert refused.value.field_violations == [("input.amount", "the input has no amount")]


async def test_a_validator_returns_issues_in_every_accepted_form(harness: PluginHarness) -> None:
    verdict = await harness.client.validate("over_limit", {"limit": 1}, {"amount": 5})

    assert verdict.valid is False
    assert verdict.issues == [
        Issue("too big", "amount", "TOO_BIG"),
        Issue("plain text issue", "", "INVALID"),
        Issue("dict issue", "x", "INVALID"),
    ]


async def test_a_step_streams_logs_and_progress_then_its_result_with_cost(harness: PluginHarness) -> None:
    seen: list[str] = []
    call = CallInfo(run_id="r1", step_id="s", attempt=2, idempotency_key="r1/s/0")

    outcome = await harness.client.execute_step(
        "work", {}, {"who": "ann"}, call=call, timeout_s=30, on_message=lambda m: seen.append(m.WhichOneof("message"))
    )

    assert seen == ["log", "progress", "progress", "result"]
    assert outcome.output["run"] == "r1" and outcome.output["key"] == "r1/s/0" and outcome.output["attempt"] == 2
    assert outcome.output["remaining"] > 0
    assert outcome.logs[0].message == "starting" and outcome.logs[0].fields["who"] == "ann"
    assert outcome.logs[0].level == message_pb2.LOG_LEVEL_INFO
    assert [p.fraction for p in outcome.progress] == [0.5, 1.0]
    assert (outcome.cost_usd, outcome.api_calls) == (0.25, 2)


async def test_a_plain_function_runs_in_a_thread_and_still_streams(harness: PluginHarness) -> None:
    outcome = await harness.client.execute_step("threaded_work")

    assert outcome.output == {"done": True}
    assert [(log.message, log.level) for log in outcome.logs] == [
        ("from a worker thread", message_pb2.LOG_LEVEL_WARNING)
    ]


@pytest.mark.parametrize(
    ("how", "code", "reason", "words"),
    [
        ("retryable", grpc.StatusCode.UNAVAILABLE, "UPSTREAM_DOWN", "upstream is down"),
        ("final", grpc.StatusCode.UNKNOWN, "CARD_DECLINED", "card declined"),
        ("config", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CONFIG", "config.timezone: 'Mars/Base'"),
        ("memory", grpc.StatusCode.RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "ran out of memory"),
        ("bug", grpc.StatusCode.UNKNOWN, "PLUGIN_FAILED", "failed: KeyError: 'missing'"),
        ("not_a_dict", grpc.StatusCode.UNKNOWN, "PLUGIN_FAILED", "must return a dict, not list"),
        ("not_json", grpc.StatusCode.UNKNOWN, "PLUGIN_FAILED", "output is not JSON data"),
    ],
)
async def test_every_failure_becomes_a_status_with_a_stable_reason(
    harness: PluginHarness, how: str, code: grpc.StatusCode, reason: str, words: str
) -> None:
    with pytest.raises(IAError) as failed:
        await harness.client.execute_step("fails", {}, {"how": how})

    assert failed.value.code is code
    assert failed.value.reason == reason
    assert words in failed.value.message
    assert failed.value.metadata["plugin"] == "fails"


async def test_an_unknown_plugin_or_kind_is_refused(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as missing:
        await harness.client.execute_step("nope")
    assert missing.value.code is grpc.StatusCode.NOT_FOUND
    assert missing.value.reason == "PLUGIN_NOT_FOUND"
    assert "it serves double, fails" in missing.value.message

    with pytest.raises(IAError) as wrong_kind:
        await harness.client.transform("work")
    assert wrong_kind.value.code is grpc.StatusCode.UNIMPLEMENTED
    assert wrong_kind.value.reason == "KIND_NOT_SUPPORTED"
    assert "is not a transform plugin (it is: step)" in wrong_kind.value.message


async def test_a_transform_returns_its_dict(harness: PluginHarness) -> None:
    assert await harness.client.transform("double", {}, {"value": 21}) == {"value": 42}
    assert await harness.client.transform("double", {}, {"empty": True}) == {}


async def test_a_hook_receives_the_event(harness: PluginHarness) -> None:
    SEEN.clear()
    await harness.client.on_event("remember", {}, "step.succeeded", {"step": "fetch"}, call=CallInfo(run_id="r9"))

    [event] = SEEN
    assert event["type"] == "step.succeeded"
    assert event["data"] == {"step": "fetch"}
    assert event["time"].endswith("Z")


async def test_a_reporter_renders_a_report_or_text(harness: PluginHarness) -> None:
    report = await harness.client.report("summary", {}, {"run_id": "r1"})
    assert report == Report("# r1", "text/markdown", "run.md")
    assert (await harness.client.report("summary", {"plain": True}, {"run_id": "r1"})).content == "run r1"
    with pytest.raises(IAError, match="must return a Report or a str, not int"):
        await harness.client.report("summary", {"broken": True}, {"run_id": "r1"})


async def test_the_call_timeout_bounds_calls_that_carry_no_deadline() -> None:
    async with PluginHarness.in_process(wait_forever, call_timeout_s=0.2) as harness:
        with pytest.raises(IAError) as late:
            await harness.client.execute_step("wait_forever", timeout_s=None)

    assert late.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert late.value.reason == "DEADLINE_EXCEEDED"
    assert "did not finish within 0.2s" in late.value.message


async def test_calls_beyond_the_concurrency_limit_are_refused() -> None:
    HELD.clear()
    async with PluginHarness.in_process(hold, work, max_concurrency=1) as harness:
        busy = asyncio.ensure_future(harness.client.execute_step("hold", timeout_s=10))
        await HELD.started.wait()
        with pytest.raises(IAError) as refused:
            await harness.client.execute_step("work")
        HELD.release.set()
        assert (await busy).output == {"held": True}

    assert refused.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused.value.reason == "TOO_MANY_CALLS"
    assert "already has 1 calls in flight (limit 1)" in refused.value.message


def test_the_call_watch_reports_calls_past_their_deadline_and_grace() -> None:
    watch = CallWatch()
    late = watch.begin("slow", deadline=100.0)
    watch.begin("no_deadline", deadline=None)
    watch.begin("on_time", deadline=200.0)

    assert watch.overdue(grace_s=2, now=101.0) == []
    assert watch.overdue(grace_s=2, now=103.0) == ["slow"]
    watch.end(late)
    assert watch.overdue(grace_s=2, now=103.0) == []


def test_a_process_serves_at_least_one_plugin_each_once() -> None:
    with pytest.raises(ValueError, match="at least one plugin"):
        PluginServicer([])
    with pytest.raises(ValueError, match="two step plugins are named 'work'"):
        PluginServicer([work, work])
    other_version = step_plugin("over_limit", version="9")(lambda c, d, x: {})
    with pytest.raises(ValueError, match="has two versions: 2.0.0 and 9"):
        PluginServicer([over_limit, other_version])


def test_plugin_names_must_be_usable_identifiers() -> None:
    with pytest.raises(ValueError, match="must start with a letter"):
        step_plugin("1st step")(lambda c, d, x: {})


def test_kinds_map_to_the_contract() -> None:
    assert Kind.from_proto(message_pb2.PLUGIN_KIND_REPORTER) is Kind.REPORTER
    assert Kind.HOOK.proto == message_pb2.PLUGIN_KIND_HOOK
    with pytest.raises(ValueError):
        Kind.from_proto(message_pb2.PLUGIN_KIND_UNSPECIFIED)
