"""The `io` built-ins against a local HTTP server and SQLite files."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from plugin_host_testing import LocalHttp

from ia_modules.errors import IAError
from ia_modules.plugin import CallInfo, PluginHarness
from ia_plugins.builtin import io

CALL = CallInfo(run_id="r1", step_id="notify", attempt=1, idempotency_key="r1/notify/0")


@pytest.fixture
async def harness() -> AsyncIterator[PluginHarness]:
    async with PluginHarness.in_process(*io.PLUGINS) as running:
        yield running


@pytest.fixture
def web() -> Iterator[LocalHttp]:
    routes = {
        "/orders": (200, {"orders": [1, 2]}),
        "/created": (201, {"id": 9}),
        "/busy": (503, {"error": "try later"}),
        "/forecast": (200, {"current": {"temperature_2m": 21.5, "precipitation": 0.0, "wind_speed_10m": 12}}),
        "/storm": (200, {"current": {"temperature_2m": 15, "precipitation": 8.2, "wind_speed_10m": 70}}),
        "/custom": (200, {"now": {"temp": 30}}),
        "/hook": (204, {}),
    }
    with LocalHttp(routes) as server:
        yield server


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER, customer TEXT, total REAL)")
        connection.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(1, "ann", 30), (2, "bob", 120), (3, "ann", 75)])
    return f"sqlite:///{path}"


async def test_http_request_returns_status_headers_and_json(harness: PluginHarness, web: LocalHttp) -> None:
    outcome = await harness.client.execute_step(
        "http_request", {"params": {"page": 2}}, {"url": f"{web.url}/orders"}, call=CALL
    )

    assert outcome.output["status"] == 200
    assert outcome.output["json"] == {"orders": [1, 2]}
    assert outcome.api_calls == 1
    assert web.requests[-1]["query"] == {"page": "2"}
    assert [log.message for log in outcome.logs] == ["http request"]


async def test_http_request_posts_json_with_the_idempotency_key(harness: PluginHarness, web: LocalHttp) -> None:
    outcome = await harness.client.execute_step(
        "http_request",
        {"method": "POST", "expect_status": [201]},
        {"url": f"{web.url}/created", "json": {"item": "book"}},
        call=CALL,
    )

    assert outcome.output["json"] == {"id": 9}
    sent = web.requests[-1]
    assert (sent["method"], json.loads(sent["body"])) == ("POST", {"item": "book"})
    assert sent["headers"]["Idempotency-Key"] == "r1/notify/0"


async def test_http_request_failures_say_whether_to_retry(harness: PluginHarness, web: LocalHttp) -> None:
    with pytest.raises(IAError) as busy:
        await harness.client.execute_step("http_request", {}, {"url": f"{web.url}/busy"})
    assert (busy.value.code, busy.value.reason) == (grpc.StatusCode.UNAVAILABLE, "HTTP_STATUS")
    assert busy.value.metadata["status"] == "503"

    with pytest.raises(IAError) as missing:
        await harness.client.execute_step("http_request", {}, {"url": f"{web.url}/nope"})
    assert (missing.value.code, missing.value.reason) == (grpc.StatusCode.UNKNOWN, "HTTP_STATUS")

    with pytest.raises(IAError) as unreachable:
        await harness.client.execute_step("http_request", {"timeout_s": 2}, {"url": "http://127.0.0.1:9/x"})
    assert (unreachable.value.code, unreachable.value.reason) == (grpc.StatusCode.UNAVAILABLE, "HTTP_UNREACHABLE")


async def test_http_request_refuses_urls_that_are_not_http(harness: PluginHarness) -> None:
    with pytest.raises(IAError) as refused:
        await harness.client.execute_step("http_request", {}, {"url": "file:///etc/passwd"})
    assert refused.value.field_violations[0][0] == "config.url"
    with pytest.raises(IAError) as refused:
        await harness.client.execute_step("http_request", {}, {})
    assert refused.value.field_violations[0][0] == "input.url"


async def test_http_available_checks_a_url_answers_in_time(harness: PluginHarness, web: LocalHttp) -> None:
    up = await harness.client.evaluate_condition("http_available", {"url": f"{web.url}/orders", "method": "HEAD"})
    assert up.result is True and "answered HTTP 200" in up.reason
    assert (await harness.client.evaluate_condition("http_available", {"url": f"{web.url}/busy"})).result is False
    down = await harness.client.evaluate_condition("http_available", {"url": "http://127.0.0.1:9/", "timeout_s": 2})
    assert down.result is False and "cannot reach http://127.0.0.1:9" in down.reason


async def test_weather_meets_every_limit_given(harness: PluginHarness, web: LocalHttp) -> None:
    limits = {"min_temperature": 15, "max_precipitation": 1, "max_wind_speed": 40}

    fair = await harness.client.evaluate_condition(
        "weather",
        {"api_url": f"{web.url}/forecast", "params": {"current": "temperature_2m"}, **limits},
        {"params": {"latitude": 48.85, "longitude": 2.35}},
    )
    assert fair.result is True
    assert fair.reason == "temperature 21.5, precipitation 0.0, wind_speed 12 within limits"
    assert web.requests[-1]["query"] == {"current": "temperature_2m", "latitude": "48.85", "longitude": "2.35"}

    storm = await harness.client.evaluate_condition("weather", {"api_url": f"{web.url}/storm", **limits})
    assert storm.result is False
    assert storm.reason == "precipitation 8.2 is not <= 1; wind_speed 70 is not <= 40"


async def test_weather_reads_other_apis_through_field_paths(harness: PluginHarness, web: LocalHttp) -> None:
    config = {"api_url": f"{web.url}/custom", "fields": {"temperature": "now.temp"}, "max_temperature": 25}
    assert (await harness.client.evaluate_condition("weather", config)).reason == "temperature 30 is not <= 25"

    with pytest.raises(IAError) as bad:
        await harness.client.evaluate_condition("weather", {"api_url": f"{web.url}/orders", "max_temperature": 25})
    assert bad.value.reason == "BAD_RESPONSE"
    with pytest.raises(IAError) as refused:
        await harness.client.evaluate_condition("weather", {"api_url": f"{web.url}/forecast"})
    assert refused.value.reason == "INVALID_CONFIG"


async def test_webhook_posts_the_event(harness: PluginHarness, web: LocalHttp) -> None:
    config = {"url": f"{web.url}/hook", "headers": {"X-Token": "t"}, "events": ["run.succeeded"]}

    await harness.client.on_event("webhook", config, "run.started", {}, call=CALL)
    await harness.client.on_event("webhook", config, "run.succeeded", {"outputs": {"n": 1}}, call=CALL)

    [sent] = web.requests
    payload = json.loads(sent["body"])
    assert (payload["type"], payload["data"], payload["run_id"]) == ("run.succeeded", {"outputs": {"n": 1}}, "r1")
    assert sent["headers"]["X-Token"] == "t"
    assert sent["headers"]["Idempotency-Key"] == "r1/notify/0/run.succeeded"


async def test_sql_condition_compares_the_first_value_read_only(harness: PluginHarness, database: str) -> None:
    config = {"url": database, "query": "SELECT count(*) FROM orders WHERE customer = :customer"}

    assert (await harness.client.evaluate_condition("sql_condition", config, {"customer": "ann"})).result is True
    assert (await harness.client.evaluate_condition("sql_condition", config, {"customer": "zed"})).result is False
    big = {**config, "params": {"customer": "ann"}, "operator": ">=", "value": 3}
    answer = await harness.client.evaluate_condition("sql_condition", big)
    assert answer.result is False and "the query's value" in answer.reason

    with pytest.raises(IAError) as refused:
        await harness.client.evaluate_condition("sql_condition", {"url": database, "query": "DELETE FROM orders"})
    assert refused.value.reason == "SQL_ERROR"
    assert "readonly database" in refused.value.message


async def test_sql_query_returns_rows_and_writes_only_when_allowed(harness: PluginHarness, database: str) -> None:
    select = {"url": database, "query": "SELECT id, total FROM orders WHERE total > :minimum ORDER BY id"}
    outcome = await harness.client.execute_step("sql_query", select, {"minimum": 50})
    assert outcome.output == {
        "columns": ["id", "total"],
        "rows": [{"id": 2, "total": 120.0}, {"id": 3, "total": 75.0}],
        "row_count": 2,
    }

    insert = {"url": database, "query": "INSERT INTO orders VALUES (4, 'cid', 5)", "read_only": False}
    assert (await harness.client.execute_step("sql_query", insert)).output["row_count"] == 0
    count = {"url": database, "query": "SELECT count(*) AS n FROM orders", "max_rows": 1}
    assert (await harness.client.execute_step("sql_query", count)).output["rows"] == [{"n": 4}]


@pytest.mark.parametrize(
    ("config", "data", "field"),
    [
        ({"url": "not a url", "query": "SELECT 1"}, {}, "config.url"),
        ({"url": "sqlite://", "query": "SELECT 1"}, {}, "config.url"),
        ({"url": "mysql://h/db", "query": "SELECT 1"}, {}, "config.url"),
        ({"url": "sqlite:////tmp/x.db", "query": "SELECT :wanted"}, {}, "input.wanted"),
    ],
)
async def test_sql_refuses_unusable_urls_and_missing_parameters(
    harness: PluginHarness, config: dict, data: dict, field: str
) -> None:
    with pytest.raises(IAError) as refused:
        await harness.client.execute_step("sql_query", config, data)
    assert refused.value.field_violations[0][0] == field


async def test_sql_reports_a_query_the_database_rejects(harness: PluginHarness, database: str) -> None:
    with pytest.raises(IAError) as failed:
        await harness.client.execute_step("sql_query", {"url": database, "query": "SELECT nope FROM orders"})
    assert failed.value.reason == "SQL_ERROR"
    assert "no such column: nope" in failed.value.message


async def test_sql_accepts_a_postgresql_url(harness: PluginHarness) -> None:
    config = {"url": "postgresql://reader@127.0.0.1:9/shop", "query": "SELECT 1"}

    with pytest.raises(IAError) as failed:
        await harness.client.evaluate_condition("sql_condition", config)

    # Without a driver the plugin says which to install; with one, the refused connection is the error.
    driver_missing = failed.value.reason == "INVALID_CONFIG" and "no PostgreSQL driver" in failed.value.message
    assert driver_missing or failed.value.reason == "SQL_ERROR"
