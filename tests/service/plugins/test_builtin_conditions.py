"""The `conditions` built-ins: time windows in time zones, thresholds, rollouts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from ia_modules.errors import IAError
from ia_modules.plugin import CallInfo, ConditionResult, PluginHarness
from ia_plugins.builtin import conditions


@pytest.fixture
async def harness() -> AsyncIterator[PluginHarness]:
    async with PluginHarness.in_process(*conditions.PLUGINS) as running:
        yield running


async def ask(harness: PluginHarness, name: str, config: dict, data: dict, **call: str) -> ConditionResult:
    return await harness.client.evaluate_condition(name, config, data, call=CallInfo(**call))


async def test_the_process_serves_six_conditions(harness: PluginHarness) -> None:
    assert sorted(p.name for p in harness.plugins) == [
        "business_hours", "date_range", "day_of_week", "percentage_rollout", "threshold_condition", "time_window",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("now", "expected", "reason"),
    [
        # Tuesday 08:30 UTC is 09:30 in Paris (winter, UTC+1): open.
        ("2025-01-07T08:30:00Z", True, "Tuesday 2025-01-07 09:30 Europe/Paris is within 09:00-17:00"),
        # 16:30 UTC is 17:30 in Paris: closed.
        ("2025-01-07T16:30:00+00:00", False, "is outside 09:00-17:00"),
        # A time without an offset is local to the configured zone.
        ("2025-01-07T16:59:00", True, "16:59 Europe/Paris is within"),
        ("2025-01-11T10:00:00", False, "Saturday 2025-01-11 10:00 Europe/Paris is not a working day"),
        ("2025-12-25T10:00:00", False, "is a holiday"),
    ],
)
async def test_business_hours_follow_the_time_zone_weekdays_and_holidays(
    harness: PluginHarness, now: str, expected: bool, reason: str
) -> None:
    config = {"timezone": "Europe/Paris", "holidays": ["2025-12-25"]}

    answer = await ask(harness, "business_hours", config, {"now": now})

    assert answer.result is expected
    assert reason in answer.reason


async def test_business_hours_take_custom_days_and_hours_and_the_old_current_time_field(harness: PluginHarness) -> None:
    config = {"timezone": "America/New_York", "start": "10:00", "end": "14:00", "weekdays": ["sat", "Sunday", 0]}

    assert (await ask(harness, "business_hours", config, {"current_time": "2025-01-11T11:00:00"})).result is True
    assert (await ask(harness, "business_hours", config, {"now": "2025-01-11T14:00:00"})).result is False
    assert (await ask(harness, "business_hours", config, {"now": "2025-01-07T11:00:00"})).result is False


@pytest.mark.parametrize(
    ("config", "data", "field"),
    [
        ({"timezone": "Mars/Olympus"}, {"now": "2025-01-07T10:00:00"}, "config.timezone"),
        ({"start": "9am"}, {}, "config.start"),
        ({"weekdays": ["caturday"]}, {}, "config.weekdays[0]"),
        ({"holidays": ["25/12/2025"]}, {"now": "2025-01-07T10:00:00"}, "config.holidays[0]"),
        ({}, {"now": "yesterday"}, "input.now"),
    ],
)
async def test_a_bad_time_config_or_input_names_the_field(
    harness: PluginHarness, config: dict, data: dict, field: str
) -> None:
    with pytest.raises(IAError) as refused:
        await ask(harness, "business_hours", config, data)

    assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.field_violations[0][0] == field


async def test_a_time_window_may_span_midnight(harness: PluginHarness) -> None:
    night = {"start": "22:00", "end": "06:00", "timezone": "Asia/Tokyo"}

    assert (await ask(harness, "time_window", night, {"now": "2025-01-07T14:30:00Z"})).result is True  # 23:30 Tokyo
    assert (await ask(harness, "time_window", night, {"now": "2025-01-07T03:00:00Z"})).result is False  # 12:00 Tokyo
    day = {"start": "09:00", "end": "17:00"}
    assert (await ask(harness, "time_window", day, {"now": "2025-01-07T09:00:00Z"})).result is True
    answer = await ask(harness, "time_window", day, {"now": "2025-01-07T17:00:00Z"})
    assert answer == ConditionResult(False, "17:00 UTC is outside 09:00-17:00")


async def test_day_of_week_accepts_numbers_and_names(harness: PluginHarness) -> None:
    weekend = {"days": ["saturday", 6]}

    assert (await ask(harness, "day_of_week", weekend, {"now": "2025-01-12T12:00:00"})).result is True
    answer = await ask(harness, "day_of_week", weekend, {"now": "2025-01-13T12:00:00"})
    assert answer == ConditionResult(False, "Monday is not one of the listed days")


async def test_date_range_includes_whole_end_days_and_may_be_open_ended(harness: PluginHarness) -> None:
    january = {"start": "2025-01-01", "end": "2025-01-31", "timezone": "UTC"}

    assert (await ask(harness, "date_range", january, {"now": "2025-01-31T23:59:00Z"})).result is True
    assert (await ask(harness, "date_range", january, {"now": "2025-02-01T00:00:00Z"})).result is False
    assert (await ask(harness, "date_range", january, {"now": "2024-12-31T23:59:00Z"})).result is False
    since = {"start": "2025-06-01T12:00:00+02:00"}
    assert (await ask(harness, "date_range", since, {"now": "2025-06-01T10:30:00Z"})).result is True
    with pytest.raises(IAError) as refused:
        await ask(harness, "date_range", {"end": "someday..."}, {})
    assert refused.value.field_violations[0][0] == "config.end"


@pytest.mark.parametrize(
    ("config", "data", "expected"),
    [
        ({"field": "score", "operator": ">=", "value": 0.8}, {"score": 0.9}, True),
        ({"field": "score", "operator": "gt", "value": 0.8}, {"score": 0.8}, False),
        (
            {"field": "order.items[1].sku", "operator": "equals", "value": "B"},
            {"order": {"items": [{}, {"sku": "B"}]}},
            True,
        ),
        ({"field": "tags", "operator": "contains", "value": "vip"}, {"tags": ["new", "vip"]}, True),
        ({"field": "country", "operator": "in", "value": ["FR", "DE"]}, {"country": "IT"}, False),
        ({"field": "email", "operator": "matches", "value": "@example\\.com$"}, {"email": "a@example.com"}, True),
        ({"field": "missing", "operator": "exists"}, {}, False),
    ],
)
async def test_threshold_condition_uses_the_pipeline_operators(
    harness: PluginHarness, config: dict, data: dict, expected: bool
) -> None:
    assert (await ask(harness, "threshold_condition", config, data)).result is expected


async def test_threshold_condition_refuses_what_cannot_be_compared(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as refused:
        await ask(harness, "threshold_condition", {"field": "score", "operator": "between"}, {})
    assert refused.value.field_violations[0][0] == "config.operator"

    with pytest.raises(IAError) as refused:
        await ask(harness, "threshold_condition", {"field": "score", "operator": "gt", "value": 1}, {"score": "high"})
    assert refused.value.reason == "INVALID_INPUT"
    assert refused.value.field_violations[0][0] == "input.score"

    with pytest.raises(IAError) as refused:
        await ask(harness, "threshold_condition", {"field": "a b", "operator": "exists"}, {})
    assert refused.value.field_violations[0][0] == "config.field"


async def test_percentage_rollout_is_deterministic_per_run_and_proportional(harness: PluginHarness) -> None:
    config = {"percentage": 30, "salt": "new-checkout"}

    first = [(await ask(harness, "percentage_rollout", config, {}, run_id=f"run-{i}")).result for i in range(200)]
    again = [(await ask(harness, "percentage_rollout", config, {}, run_id=f"run-{i}")).result for i in range(200)]

    assert first == again
    assert 40 <= sum(first) <= 80  # 30% of 200, give or take
    assert (await ask(harness, "percentage_rollout", {"percentage": 0}, {}, run_id="r")).result is False
    assert (await ask(harness, "percentage_rollout", {"percentage": 100}, {}, run_id="r")).result is True


async def test_percentage_rollout_can_bucket_by_an_input_field(harness: PluginHarness) -> None:
    config = {"percentage": 50, "key": "user.id"}
    answers = {(await ask(harness, "percentage_rollout", config, {"user": {"id": 42}}, run_id=r)).result for r in "abc"}

    assert len(answers) == 1  # the same user, whatever the run
    with pytest.raises(IAError) as refused:
        await ask(harness, "percentage_rollout", config, {})
    assert refused.value.field_violations[0][0] == "input.user.id"
    with pytest.raises(IAError, match="the call carries no run id"):
        await ask(harness, "percentage_rollout", {"percentage": 5}, {})
