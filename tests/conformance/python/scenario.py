"""The scenario engine of the Python conformance runners: loads scenarios.json,
fills in the namespace and saved values, runs each step through a driver, and
checks what the step returned against what the scenario expects.

A driver has one method per step kind it supports (`create_pipeline(step)`, ...).
Each returns `(result, saved)`: `result` is a plain dict compared with the step's
`expect`, `saved` is what `"save": name` keeps for later steps. A failed call
raises one of the driver's `errors`, which its `failed(error)` turns into
`CallFailed`: the error as the client shows it, normalized.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_REFERENCE = re.compile(r"^\$([a-z_][a-z0-9_]*)((?:\.[a-z_][a-z0-9_]*)*)$")


class ScenarioFailed(AssertionError):
    """A step did not do what the scenario expects."""


@dataclass
class CallFailed(Exception):
    """A call failed; the fields are the error as the client exposes it."""

    code: str
    message: str
    reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    unreachable: bool = False


@dataclass
class Outcome:
    scenario: str
    passed: bool
    error: str | None = None


def load(path: Path, namespace: str) -> dict[str, Any]:
    """The scenario file with every `${ns}` replaced by `namespace`."""
    return json.loads(path.read_text().replace("${ns}", namespace))


def json_equal(want: Any, got: Any) -> bool:
    """JSON equality where 1 equals 1.0 (Struct carries every number as a double)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is type(got) and want == got
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(want, got)
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(json_equal(want[k], got[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(json_equal(w, g) for w, g in zip(want, got))
    return want == got


def check_result(expect: dict[str, Any], result: dict[str, Any]) -> None:
    for key, want in expect.items():
        if key == "min_pages":
            if result["pages"] < want:
                raise ScenarioFailed(f"expected at least {want} pages, got {result['pages']}")
            continue
        if key not in result:
            raise ScenarioFailed(f"the step has no result `{key}` to check")
        got = result[key]
        if key == "run_ids":
            want, got = sorted(want), sorted(got)
        if not json_equal(want, got):
            raise ScenarioFailed(f"{key}: expected {json.dumps(want)}, got {json.dumps(got)}")


def check_error(expect: dict[str, Any], error: CallFailed) -> None:
    shown = f"{error.code} {error.message}"
    if "code" in expect and error.code != expect["code"]:
        raise ScenarioFailed(f"expected code {expect['code']}, got {shown}")
    if "reason" in expect and error.reason != expect["reason"]:
        raise ScenarioFailed(f"expected reason {expect['reason']}, got {error.reason!r} ({shown})")
    for key, value in expect.get("metadata", {}).items():
        if error.metadata.get(key) != value:
            raise ScenarioFailed(f"expected metadata {key}={value!r}, got {error.metadata}")
    for wanted in expect.get("fields", []):
        if wanted not in error.fields:
            raise ScenarioFailed(f"expected a field violation on {wanted!r}, got {error.fields}")
    if "unreachable" in expect and error.unreachable != expect["unreachable"]:
        raise ScenarioFailed(f"expected unreachable={expect['unreachable']}, got {error.unreachable} ({shown})")
    if "message_contains" in expect and expect["message_contains"] not in error.message:
        raise ScenarioFailed(f"expected the message to contain {expect['message_contains']!r}, got {error.message!r}")


def check_sequence(parts: list[dict[str, Any]], against: dict[str, Any]) -> None:
    """The parts, one after another, are events 1..N without gaps or repeats, as in `against`."""
    events = [event for part in parts for event in part["events"]]
    sequences = [sequence for sequence, _ in events]
    if sequences != list(range(1, len(events) + 1)):
        raise ScenarioFailed(f"the reconnected watch has gaps or repeats: sequences {sequences}")
    if [list(e) for e in events] != [list(e) for e in against["events"]]:
        raise ScenarioFailed(f"the reconnected watch saw {events}, one watch saw {against['events']}")


class Scenario:
    """One scenario run through one driver, with its own saved values."""

    def __init__(self, spec: dict[str, Any], pipelines: dict[str, Any], driver: Any, supported: Iterable[str]) -> None:
        self.spec = spec
        self.pipelines = pipelines
        self.driver = driver
        self.supported = frozenset(supported)
        self.saved: dict[str, Any] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            match = _REFERENCE.match(value)
            if not match:
                return value
            name, path = match.group(1), match.group(2)
            if name not in self.saved:
                raise ScenarioFailed(f"{value}: no earlier step saved `{name}`")
            resolved = self.saved[name]
            for part in filter(None, path.split(".")):
                resolved = resolved[part]
            return resolved
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def run(self) -> None:
        unsupported = sorted({step["kind"] for step in self.spec["steps"]} - self.supported)
        if unsupported:
            raise ScenarioFailed(f"this runner does not support the step kind(s) {unsupported}")
        for index, raw in enumerate(self.spec["steps"]):
            step = self.resolve(raw)
            try:
                self.step(step)
            except ScenarioFailed as failure:
                raise ScenarioFailed(f"step {index + 1} ({step['kind']}): {failure}") from None

    def step(self, step: dict[str, Any]) -> None:
        kind = step["kind"]
        if kind == "check_sequence":
            check_sequence([self.saved[name] for name in step["parts"]], self.saved[step["against"]])
            return
        if kind == "create_pipeline":
            definition = json.loads(json.dumps(self.pipelines[step["pipeline"]]))
            definition["name"] = step.get("name", definition["name"])
            step = {**step, "definition": definition}
        handler: Callable[[dict[str, Any]], tuple[dict[str, Any], Any]] = getattr(self.driver, kind)
        try:
            try:
                result, saved = handler(step)
            except self.driver.errors as error:
                raise self.driver.failed(error) from None
        except CallFailed as error:
            if "expect_error" not in step:
                raise ScenarioFailed(f"the call failed: {error.code} {error.message}") from None
            check_error(step["expect_error"], error)
            return
        if "expect_error" in step:
            raise ScenarioFailed(f"expected the call to fail with {step['expect_error']}, it returned {result}")
        check_result(step.get("expect", {}), result)
        if "save" in step:
            self.saved[step["save"]] = saved


def run_all(
    document: dict[str, Any], driver: Any, supported: Iterable[str], *, only: set[str] | None, rest_only: bool = False
) -> list[Outcome]:
    """Runs every scenario (those named in `only`, and only the REST ones if asked)."""
    outcomes = []
    for spec in document["scenarios"]:
        if (only and spec["name"] not in only) or (rest_only and not spec.get("rest")):
            continue
        try:
            Scenario(spec, document["pipelines"], driver, supported).run()
            outcomes.append(Outcome(spec["name"], True))
        except ScenarioFailed as failure:
            outcomes.append(Outcome(spec["name"], False, str(failure)))
    return outcomes
