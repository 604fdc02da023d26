"""The original library's Step API, kept so that existing step classes run unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from ia_modules.pipeline.core import Step
from ia_modules.pipeline.services import ServiceRegistry


class Greets(Step):
    async def execute(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"greeting": f"hello {data['name']}{self.config.get('suffix', '')}"}


class RunsItself(Step):
    async def run(self, data: dict[str, Any]) -> dict[str, Any]:
        self.logger.info("running")
        return {"db": self.get_db(), "http": self.get_http(), "name": self.name}


class Closes:
    def __init__(self) -> None:
        self.closed = 0

    async def cleanup(self) -> None:
        self.closed += 1


class ClosesSync:
    def __init__(self) -> None:
        self.closed = 0

    def cleanup(self) -> None:
        self.closed += 1


async def test_a_step_overriding_execute_runs_through_run() -> None:
    step = Greets("greet", {"suffix": "!"})

    assert await step.run({"name": "ann"}) == {"greeting": "hello ann!"}
    assert step.name == "greet" and step.services is None
    assert step.logger.name == "Step.greet"


async def test_a_step_overriding_run_reaches_its_services() -> None:
    services = ServiceRegistry()
    services.register("database", "the db")
    step = RunsItself("fetch", None)
    assert step.get_db() is None
    step.services = services

    assert await step.run({}) == {"db": "the db", "http": None, "name": "fetch"}
    assert step.config == {}


async def test_a_step_that_overrides_nothing_says_so() -> None:
    with pytest.raises(NotImplementedError, match="Step must override `execute` or `run`"):
        await Step("bare", {}).run({})


async def test_the_registry_finds_services_by_name_and_cleans_them_up() -> None:
    registry = ServiceRegistry()
    asynchronous, synchronous = Closes(), ClosesSync()
    registry.register("b", asynchronous)
    registry.register("a", synchronous)
    registry.register("plain", object())

    assert registry.has("a") and not registry.has("zzz")
    assert registry.get("zzz") is None
    assert registry.names() == ["a", "b", "plain"]
    await registry.cleanup_all()
    assert (asynchronous.closed, synchronous.closed) == (1, 1)
