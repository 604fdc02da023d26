"""The `data` built-ins: validators, transforms, the log hook and run reporters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc
import pytest

from ia_modules.errors import IAError
from ia_modules.plugin import CallInfo, Issue, PluginHarness
from ia_plugins.builtin import data


@pytest.fixture
async def harness() -> AsyncIterator[PluginHarness]:
    async with PluginHarness.in_process(*data.PLUGINS) as running:
        yield running


ORDERS = {
    "items": [
        {"id": 1, "customer": "ann", "total": 30, "status": "paid"},
        {"id": 2, "customer": "bob", "total": 120, "status": "paid"},
        {"id": 3, "customer": "ann", "total": 75, "status": "refunded"},
        {"id": 4, "customer": "cid", "status": "paid"},
    ]
}


async def test_json_schema_reports_each_problem_with_its_path(harness: PluginHarness) -> None:
    schema = {
        "type": "object",
        "required": ["id", "lines"],
        "properties": {"lines": {"type": "array", "items": {"type": "object", "required": ["sku"]}}},
    }

    verdict = await harness.client.validate("json_schema", {"schema": schema}, {"lines": [{"sku": "a"}, {}]})

    assert verdict.valid is False
    assert sorted(verdict.issues, key=lambda i: i.path) == [
        Issue("'id' is a required property", "", "SCHEMA_REQUIRED"),
        Issue("'sku' is a required property", "lines[1]", "SCHEMA_REQUIRED"),
    ]
    assert (await harness.client.validate("json_schema", {"schema": schema}, {"id": 1, "lines": []})).valid


async def test_json_schema_refuses_a_schema_that_is_not_one(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as refused:
        await harness.client.validate("json_schema", {"schema": {"type": "nonsense"}}, {})
    assert refused.value.field_violations[0][0] == "config.schema"


async def test_email_checks_addresses_where_they_are(harness: PluginHarness) -> None:
    config = {"fields": ["contact.email", "billing.email"]}

    verdict = await harness.client.validate(
        "email", config, {"contact": {"email": "ann@example.com"}, "billing": {"email": "ann at example"}}
    )

    assert verdict.issues == [Issue("'ann at example' is not an e-mail address", "billing.email", "INVALID_EMAIL")]
    missing = await harness.client.validate("email", {"field": "email"}, {})
    assert missing.issues == [Issue("an e-mail address is required", "email", "REQUIRED")]
    assert (await harness.client.validate("email", {"field": "email", "required": False}, {})).valid


async def test_range_checks_bounds_inclusive_or_not(harness: PluginHarness) -> None:
    config = {"fields": ["a", "b", "c", "d"], "min": 0, "max": 10}

    verdict = await harness.client.validate("range", config, {"a": 0, "b": 11, "c": "7", "d": -1})

    assert [(i.path, i.code) for i in verdict.issues] == [
        ("b", "OUT_OF_RANGE"), ("c", "NOT_A_NUMBER"), ("d", "OUT_OF_RANGE"),
    ]  # fmt: skip
    exclusive = await harness.client.validate("range", {"field": "a", "min": 0, "exclusive": True}, {"a": 0})
    assert exclusive.issues == [Issue("0 is below the minimum 0", "a", "OUT_OF_RANGE")]
    assert (await harness.client.validate("range", {"field": "a", "max": 1}, {})).issues[0].code == "REQUIRED"


async def test_range_needs_a_bound(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as refused:
        await harness.client.validate("range", {"field": "a"}, {"a": 1})
    assert refused.value.reason == "INVALID_CONFIG"


async def test_regex_matches_whole_values_unless_told_otherwise(harness: PluginHarness) -> None:
    config = {"field": "sku", "pattern": "[A-Z]{3}-\\d{4}"}

    assert (await harness.client.validate("regex", config, {"sku": "ABC-1234"})).valid
    assert not (await harness.client.validate("regex", config, {"sku": "xABC-1234"})).valid
    partial = {**config, "full_match": False}
    assert (await harness.client.validate("regex", partial, {"sku": "xABC-1234"})).valid
    verdict = await harness.client.validate("regex", config, {})
    assert verdict.issues == [Issue("a value is required", "sku", "REQUIRED")]
    with pytest.raises(IAError) as refused:
        await harness.client.validate("regex", {"field": "sku", "pattern": "(unclosed"}, {"sku": "x"})
    assert refused.value.field_violations[0][0] == "config.pattern"


async def test_required_fields_are_present_and_not_empty(harness: PluginHarness) -> None:
    config = {"fields": ["name", "address.city", "tags"]}

    verdict = await harness.client.validate("required_fields", config, {"name": "", "tags": []})

    assert verdict.issues == [
        Issue("must not be empty", "name", "EMPTY"),
        Issue("is required", "address.city", "REQUIRED"),
        Issue("must not be empty", "tags", "EMPTY"),
    ]
    relaxed = await harness.client.validate(
        "required_fields", {**config, "allow_empty": True}, {"name": "", "tags": [], "address": {"city": None}}
    )
    assert relaxed.valid


async def test_jmespath_reshapes_with_an_expression_or_a_mapping(harness: PluginHarness) -> None:
    paid = await harness.client.transform("jmespath", {"expression": "items[?status=='paid'].id"}, ORDERS)
    assert paid == {"result": [1, 2, 4]}

    shaped = await harness.client.transform(
        "jmespath", {"mapping": {"customers": "items[].customer | sort(@)", "first": "items[0].total"}}, ORDERS
    )
    assert shaped == {"customers": ["ann", "ann", "bob", "cid"], "first": 30}
    as_object = await harness.client.transform("jmespath", {"expression": "{n: length(items)}"}, ORDERS)
    assert as_object == {"n": 4}


async def test_jmespath_names_the_expression_that_does_not_compile(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as refused:
        await harness.client.transform("jmespath", {"mapping": {"ok": "items", "bad": "items[?"}}, ORDERS)
    assert refused.value.field_violations[0][0] == "config.mapping.bad"


async def test_filter_keeps_items_matching_every_rule(harness: PluginHarness) -> None:
    config = {
        "where": [
            {"field": "status", "operator": "equals", "value": "paid"},
            {"field": "total", "operator": ">", "value": 50},
        ]
    }

    kept = await harness.client.transform("filter", config, ORDERS)

    assert [item["id"] for item in kept["items"]] == [2]
    into = await harness.client.transform("filter", {**config, "into": "big_paid"}, ORDERS)
    assert [item["id"] for item in into["big_paid"]] == [2] and len(into["items"]) == 4


async def test_filter_says_where_the_list_is_missing(harness: PluginHarness) -> None:
    rule = {"where": [{"field": "x", "operator": "exists"}]}
    with pytest.raises(IAError) as refused:
        await harness.client.transform("filter", {**rule, "items": "orders"}, {"orders": {"not": "a list"}})
    assert refused.value.field_violations == [("input.orders", "expected a list, found dict")]
    with pytest.raises(IAError) as refused:
        await harness.client.transform("filter", rule, {})
    assert refused.value.field_violations == [("input.items", "no list at this path of the input")]


async def test_sort_orders_by_several_fields_with_missing_values_last(harness: PluginHarness) -> None:
    by_customer_then_total = {"by": ["customer", {"field": "total", "order": "desc"}]}
    ordered = await harness.client.transform("sort", by_customer_then_total, ORDERS)
    assert [item["id"] for item in ordered["items"]] == [3, 1, 2, 4]

    by_total = await harness.client.transform(
        "sort", {"by": [{"field": "total", "order": "desc"}], "into": "top"}, ORDERS
    )
    assert [item["id"] for item in by_total["top"]] == [2, 3, 1, 4]


async def test_aggregate_computes_metrics_overall_and_per_group(harness: PluginHarness) -> None:
    metrics = {
        "orders": {"op": "count"},
        "with_total": {"op": "count", "field": "total"},
        "revenue": {"op": "sum", "field": "total"},
        "average": {"op": "avg", "field": "total"},
        "smallest": {"op": "min", "field": "total"},
        "largest": {"op": "max", "field": "total"},
    }

    overall = await harness.client.transform("aggregate", {"metrics": metrics}, ORDERS)
    assert overall["aggregate"] == {
        "orders": 4, "with_total": 3, "revenue": 225, "average": 75, "smallest": 30, "largest": 120,
    }  # fmt: skip

    grouped = await harness.client.transform(
        "aggregate", {"metrics": {"revenue": metrics["revenue"]}, "group_by": "customer", "into": "by_customer"}, ORDERS
    )
    assert grouped["by_customer"] == [
        {"customer": "ann", "revenue": 105}, {"customer": "bob", "revenue": 120}, {"customer": "cid", "revenue": 0},
    ]  # fmt: skip


async def test_aggregate_requires_a_field_for_sums(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as refused:
        await harness.client.transform("aggregate", {"metrics": {"revenue": {"op": "sum"}}}, ORDERS)
    assert refused.value.reason == "INVALID_CONFIG"
    assert refused.value.field_violations[0][0] == "config.metrics.revenue.field"


async def test_the_log_hook_logs_chosen_events(harness: PluginHarness, caplog: pytest.LogCaptureFixture) -> None:
    config = {"level": "warning", "events": ["run.failed"]}

    await harness.client.on_event("log", config, "run.started", {}, call=CallInfo(run_id="r1"))
    await harness.client.on_event("log", config, "run.failed", {"error": "boom"}, call=CallInfo(run_id="r1"))

    logged = [record for record in caplog.records if record.name == "plugin.log"]
    assert [(r.levelname, r.getMessage()) for r in logged] == [("WARNING", "run event run.failed")]
    assert logged[0].fields == {"run_id": "r1", "step_id": "", "data": {"error": "boom"}}


SUMMARY = {
    "run_id": "run-7",
    "pipeline": "orders",
    "state": "RUN_STATE_SUCCEEDED",
    "duration_s": 4.5,
    "steps": [
        {
            "id": "fetch",
            "state": "STEP_STATE_SUCCEEDED",
            "attempts": 1,
            "duration_s": 1.5,
            "cost_usd": 0.02,
            "api_calls": 1,
        },
        {
            "id": "score|rank",
            "state": "STEP_STATE_FAILED",
            "attempts": 3,
            "duration_s": 3,
            "cost_usd": 0.1,
            "api_calls": 3,
        },
    ],
    "outputs": {"count": 2},
}


async def test_the_json_report_adds_totals(harness: PluginHarness) -> None:
    report = await harness.client.report("json_report", {"title": "Nightly", "indent": 0}, SUMMARY)

    document = json.loads(report.content)
    assert (report.media_type, report.file_name) == ("application/json", "run-7.json")
    assert document["title"] == "Nightly"
    assert document["totals"] == {
        "steps": 2, "steps_by_state": {"SUCCEEDED": 1, "FAILED": 1}, "cost_usd": 0.12, "api_calls": 4,
    }  # fmt: skip
    without = json.loads((await harness.client.report("json_report", {"include_outputs": False}, SUMMARY)).content)
    assert "outputs" not in without


async def test_the_markdown_report_renders_a_table_of_steps(harness: PluginHarness) -> None:
    report = await harness.client.report("markdown_report", {}, SUMMARY)

    assert (report.media_type, report.file_name) == ("text/markdown", "run-7.md")
    lines = report.content.splitlines()
    assert lines[0] == "# Run run-7"
    assert "- State: **SUCCEEDED**" in lines
    assert "- Cost: $0.1200 (4 API calls)" in lines
    assert "| fetch | SUCCEEDED | 1 | 1.5 | 0.02 |" in lines
    assert "| score\\|rank | FAILED | 3 | 3 | 0.1 |" in lines
    assert '  "count": 2' in lines
    empty = await harness.client.report("markdown_report", {"title": "Empty"}, {"state": "RUN_STATE_FAILED"})
    assert empty.content.startswith("# Empty\n\n- Pipeline: -\n- State: **FAILED**")


async def test_an_unknown_config_field_is_refused_by_name(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as refused:
        await harness.client.report("markdown_report", {"colour": "red"}, SUMMARY)
    assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.field_violations[0][0] == "config.colour"
