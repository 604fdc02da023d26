"""The Python step runner: step classes written for the original Step API, unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from plugin_host_testing import FIXTURES

from ia_modules.errors import IAError
from ia_modules.plugin import CallInfo, PluginHarness
from ia_plugins.builtin import python_steps


@pytest.fixture
async def harness(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PluginHarness]:
    # What the process does with the folders the host passes it (IA_STEPS_PATH).
    monkeypatch.syspath_prepend(str(FIXTURES / "steps"))
    async with PluginHarness.in_process(*python_steps.PLUGINS) as running:
        yield running


ORDER = {"lines": [{"price": 10, "quantity": 2}, {"price": 5, "quantity": 1}]}


async def test_a_step_overriding_run_runs_with_its_config_and_streams_its_logs(harness: PluginHarness) -> None:
    config = {"module": "shop.orders", "step_class": "PriceOrder", "config": {"tax_rate": 0.2}}

    outcome = await harness.client.execute_step("python_step", config, ORDER, call=CallInfo(step_id="price"))

    assert outcome.output == {"total": 30.0, "step": "price"}
    assert [log.message for log in outcome.logs] == ["priced 2 lines"]


async def test_a_step_overriding_execute_sees_its_services(harness: PluginHarness) -> None:
    config = {"module": "shop.orders", "step_class": "Greet", "name": "greeter"}

    outcome = await harness.client.execute_step("python_step", config, {"name": "ann"}, call=CallInfo(run_id="r5"))

    assert outcome.output == {"greeting": "hello ann", "run_id": "r5", "db": None}


async def test_a_step_returning_nothing_has_an_empty_output(harness: PluginHarness) -> None:
    outcome = await harness.client.execute_step("python_step", {"module": "shop.orders", "step_class": "Quiet"}, {})

    assert outcome.output == {}


@pytest.mark.parametrize(
    ("config", "reason", "words"),
    [
        ({"module": "shop.nothing", "step_class": "X"}, "INVALID_CONFIG", "no module 'shop.nothing' on the step path"),
        ({"module": "shop.orders", "step_class": "Missing"}, "INVALID_CONFIG", "has no class 'Missing'"),
        ({"module": "shop.orders", "step_class": "ReturnsText"}, "BAD_OUTPUT", "returned str; a step returns a dict"),
        ({"module": "shop.orders", "step_class": "Broken"}, "PLUGIN_FAILED", "ValueError: the order has no lines"),
        ({"module": "os; rm", "step_class": "X"}, "INVALID_CONFIG", "config.module"),
        ({"module": "shop.orders", "step_class": "NotAStep"}, "INVALID_CONFIG", "has neither `run` nor `execute`"),
        (
            {"module": "shop.broken_import", "step_class": "X"},
            "STEP_IMPORT_FAILED",
            "RuntimeError: configuration file missing",
        ),
        (
            {"module": "shop.needs_missing", "step_class": "X"},
            "STEP_IMPORT_FAILED",
            "No module named 'a_package_nobody_installed'",
        ),
    ],
)
async def test_step_classes_that_cannot_run_fail_clearly(
    harness: PluginHarness, config: dict, reason: str, words: str
) -> None:
    with pytest.raises(IAError) as failed:
        await harness.client.execute_step("python_step", config, ORDER)

    assert failed.value.reason == reason
    assert words in str(failed.value)
