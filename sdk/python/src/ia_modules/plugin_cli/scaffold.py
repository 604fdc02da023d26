"""What `ia-plugin init` writes: a plugin folder that passes its own test as created."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    """The body of plugin.py and of its test for one kind."""

    imports: str
    decorator: str
    body: str
    returns: str
    test_call: str
    test_check: str


_SCHEMA = '{"type": "object", "additionalProperties": False, "properties": {"min": {"type": "number"}}}'

TEMPLATES = {
    "condition": Template(
        imports="ConditionResult, condition_plugin",
        decorator="condition_plugin",
        body='''    """True when the input's `amount` is at least `min` (default 100)."""
    amount = data.get("amount", 0)
    minimum = config.get("min", 100)
    return ConditionResult(amount >= minimum, f"amount {amount} against minimum {minimum}")''',
        returns="ConditionResult",
        test_call='await harness.client.evaluate_condition("{name}", {{"min": 10}}, {{"amount": 12}})',
        test_check="assert answer.result is True",
    ),
    "step": Template(
        imports="step_plugin",
        decorator="step_plugin",
        body='''    """Doubles the input's `amount` when it is at least `min` (default 100)."""
    ctx.log("working", amount=data.get("amount"))
    amount = data.get("amount", 0)
    ctx.progress(1.0, "done")
    return {"amount": amount * 2 if amount >= config.get("min", 100) else amount}''',
        returns="dict",
        test_call='await harness.client.execute_step("{name}", {{"min": 10}}, {{"amount": 12}})',
        test_check='assert answer.output == {{"amount": 24}}',
    ),
    "validator": Template(
        imports="Issue, validator_plugin",
        decorator="validator_plugin",
        body='''    """Finds an issue when the input's `amount` is below `min` (default 100)."""
    amount = data.get("amount", 0)
    if amount < config.get("min", 100):
        return [Issue(f"{amount} is below the minimum", path="amount", code="TOO_SMALL")]
    return []''',
        returns="list[Issue]",
        test_call='await harness.client.validate("{name}", {{"min": 10}}, {{"amount": 12}})',
        test_check="assert answer.valid is True",
    ),
    "transform": Template(
        imports="transform_plugin",
        decorator="transform_plugin",
        body='''    """Adds `big`: whether the input's `amount` is at least `min` (default 100)."""
    return {**data, "big": data.get("amount", 0) >= config.get("min", 100)}''',
        returns="dict",
        test_call='await harness.client.transform("{name}", {{"min": 10}}, {{"amount": 12}})',
        test_check='assert answer == {{"amount": 12, "big": True}}',
    ),
    "hook": Template(
        imports="hook_plugin",
        decorator="hook_plugin",
        body='''    """Logs events whose `amount` is at least `min` (default 100)."""
    if event["data"].get("amount", 0) >= config.get("min", 100):
        ctx.log(f"big event {event['type']}", amount=event["data"]["amount"])''',
        returns="None",
        test_call='await harness.client.on_event("{name}", {{"min": 10}}, "step.succeeded", {{"amount": 12}})',
        test_check="assert answer is None",
    ),
    "reporter": Template(
        imports="Report, reporter_plugin",
        decorator="reporter_plugin",
        body='''    """A one-line text summary of the run."""
    steps = summary.get("steps", [])
    return Report(f"run {summary.get('run_id', '')}: {summary.get('state', '')}, {len(steps)} steps\\n")''',
        returns="Report",
        test_call='await harness.client.report("{name}", {{}}, {{"run_id": "r1", "state": "SUCCEEDED", "steps": []}})',
        test_check='assert answer.content == "run r1: SUCCEEDED, 0 steps\\n"',
    ),
}


def plugin_source(name: str, kind: str) -> str:
    """plugin.py for a plugin `name` of `kind`."""
    template = TEMPLATES[kind]
    data = "summary" if kind == "reporter" else "event" if kind == "hook" else "data"
    schema = "{}" if kind == "reporter" else _SCHEMA
    return f'''"""{name}: an IA Modules {kind} plugin.

Run it through the plugin host (`ia-plugin install .`); try it with `ia-plugin test .`.
"""

from ia_modules.plugin import {template.imports}, serve

CONFIG_SCHEMA = {schema}


@{template.decorator}("{name}", version="0.1.0", config_schema=CONFIG_SCHEMA)
def {name}(config: dict, {data}: dict, ctx) -> {template.returns}:
{template.body}


if __name__ == "__main__":
    serve({name})
'''


def test_source(name: str, kind: str) -> str:
    """test_plugin.py: calls the plugin through the harness, in this process."""
    template = TEMPLATES[kind]
    return f'''"""Tests of {name}; run them with `ia-plugin test .` (or pytest)."""

import asyncio

import plugin
from ia_modules.plugin import PluginHarness


async def _call():
    async with PluginHarness.in_process(plugin.{name}) as harness:
        return {template.test_call.format(name=name)}


def test_{name}_answers():
    answer = asyncio.run(_call())
    {template.test_check.format(name=name)}
'''


def manifest_source(name: str, kind: str) -> str:
    """plugin.yaml: no grants, default limits."""
    return f"""name: {name}
version: 0.1.0
protocol_version: 1
description: An IA Modules {kind} plugin.
kinds: [{kind}]
entrypoint: [python, plugin.py]
# What the sandbox grants beyond computing (nothing by default):
# permissions:
#   network: true
#   paths: [/srv/data]
#   env: [API_TOKEN]
limits:
  memory_mb: 512
  call_timeout_s: 30
"""
