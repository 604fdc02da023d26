"""Built-in plugins that reach outside the process: the `io` process (granted network).

HTTP (http_request, http_available, weather, webhook) goes through the standard
library, http and https only. SQL (sql_query, sql_condition) goes through
SQLAlchemy: SQLite files (which the host's config must grant to `io`) and
PostgreSQL URLs (with a driver installed); conditions always open the database
read-only, and so does sql_query unless `read_only` is false.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from ia_modules.conditions import OPERATORS, ConditionError, compile_condition
from ia_modules.plugin import (
    ConditionResult,
    ConfigError,
    InputError,
    PluginContext,
    PluginError,
    condition_plugin,
    hook_plugin,
    serve,
    step_plugin,
)
from ia_plugins.builtin.fields import field_value

_URL = {"type": "string", "pattern": "^https?://"}
_HEADERS = {"type": "object", "additionalProperties": {"type": "string"}}
_TIMEOUT = {"type": "number", "exclusiveMinimum": 0, "maximum": 600}
_STATUSES = {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}, "minItems": 1}
_METHOD = {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]}
_MAX_BODY_BYTES = 10 * 1024 * 1024
_ENGINES: OrderedDict[tuple[str, bool], Engine] = OrderedDict()
_MAX_ENGINES = 16


class HttpAnswer:
    """A response (or an error status) from `_http`."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes, url: str) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def _timeout(config_timeout: float, ctx: PluginContext) -> float:
    remaining = ctx.time_remaining()
    return config_timeout if remaining is None else max(0.1, min(config_timeout, remaining))


def _http(
    method: str,
    url: str,
    *,
    timeout_s: float,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    body: bytes | None = None,
    url_field: str = "url",
) -> HttpAnswer:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(url_field, f"{url!r} is not an http(s) URL")
    if params:
        query = urllib.parse.urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()})
        url = f"{url}{'&' if parts.query else '?'}{query}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - scheme checked above
            return HttpAnswer(response.status, dict(response.headers), response.read(_MAX_BODY_BYTES), response.url)
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, dict(error.headers or {}), error.read(_MAX_BODY_BYTES), url)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise PluginError(
            f"cannot reach {parts.scheme}://{parts.netloc}: {reason}", reason="HTTP_UNREACHABLE", retryable=True
        ) from None


def _check_status(answer: HttpAnswer, expected: list[int] | None, method: str) -> None:
    ok = answer.status in expected if expected else 200 <= answer.status < 300
    if not ok:
        raise PluginError(
            f"{method} {answer.url} answered HTTP {answer.status}",
            reason="HTTP_STATUS",
            retryable=answer.status >= 500 or answer.status == 429,
            status=answer.status,
        )


# --- HTTP -----------------------------------------------------------------------


@step_plugin(
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "url": _URL,
            "method": _METHOD,
            "headers": _HEADERS,
            "params": {"type": "object"},
            "json": {},
            "body": {"type": "string"},
            "timeout_s": _TIMEOUT,
            "expect_status": _STATUSES,
        },
    }
)
def http_request(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    """Makes an HTTP request. The input may set url, method, headers, params, json or body
    (overriding the config); the output has status, headers, text and json."""
    request = {
        **config,
        **{k: v for k, v in data.items() if k in ("url", "method", "headers", "params", "json", "body")},
    }
    url = request.get("url")
    if not isinstance(url, str) or not url:
        raise InputError("url", "give the URL in the config or the input")
    method = str(request.get("method", "GET")).upper()
    headers = dict(request.get("headers") or {})
    body = None
    if "json" in request:
        body = json.dumps(request["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif "body" in request:
        body = str(request["body"]).encode()
    if method not in ("GET", "HEAD") and ctx.idempotency_key:
        # Lets the server drop a repeat of this step's request after a retry or a crash.
        headers.setdefault("Idempotency-Key", ctx.idempotency_key)
    ctx.log("http request", method=method, url=url)
    answer = _http(
        method,
        url,
        timeout_s=_timeout(config.get("timeout_s", 30), ctx),
        headers=headers,
        params=request.get("params"),
        body=body,
    )
    ctx.record_cost(api_calls=1)
    _check_status(answer, config.get("expect_status"), method)
    output: dict[str, Any] = {
        "status": answer.status,
        "url": answer.url,
        "headers": answer.headers,
        "text": answer.text,
    }
    if "json" in answer.headers.get("Content-Type", ""):
        try:
            output["json"] = answer.json()
        except ValueError:
            ctx.log("response says JSON but does not parse", level="warning", url=url)
    return output


@condition_plugin(
    config_schema={
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "url": _URL,
            "method": {"enum": ["GET", "HEAD"]},
            "timeout_s": _TIMEOUT,
            "expect_status": _STATUSES,
        },
    }
)
def http_available(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    """True when a URL answers in time with an expected status (default 2xx/3xx)."""
    method = config.get("method", "GET")
    try:
        answer = _http(method, config["url"], timeout_s=_timeout(config.get("timeout_s", 5), ctx))
    except PluginError as error:
        return ConditionResult(False, error.message)
    expected = config.get("expect_status")
    ok = answer.status in expected if expected else 200 <= answer.status < 400
    return ConditionResult(ok, f"{method} {config['url']} answered HTTP {answer.status}")


_WEATHER_FIELDS = {
    "temperature": "current.temperature_2m",
    "precipitation": "current.precipitation",
    "wind_speed": "current.wind_speed_10m",
}
_CHECKS = {
    "min_temperature": ("temperature", ">="),
    "max_temperature": ("temperature", "<="),
    "max_precipitation": ("precipitation", "<="),
    "max_wind_speed": ("wind_speed", "<="),
}


@condition_plugin(
    config_schema={
        "type": "object",
        "required": ["api_url"],
        "anyOf": [{"required": [check]} for check in _CHECKS],
        "additionalProperties": False,
        "properties": {
            "api_url": {**_URL, "description": "A JSON weather API, e.g. https://api.open-meteo.com/v1/forecast."},
            "params": {"type": "object", "description": "Query parameters, e.g. latitude, longitude, current."},
            "headers": _HEADERS,
            "timeout_s": _TIMEOUT,
            "fields": {
                "type": "object",
                "additionalProperties": False,
                "properties": {name: {"type": "string"} for name in _WEATHER_FIELDS},
                "description": "Where each value is in the API's answer (default: Open-Meteo's `current`).",
            },
            **{check: {"type": "number"} for check in _CHECKS},
        },
    }
)
def weather(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    """True when the current weather meets every limit given (temperature, precipitation, wind).

    The input's `params` (e.g. latitude and longitude) are added to the config's."""
    params = {**config.get("params", {}), **(data.get("params") or {})}
    answer = _http(
        "GET",
        config["api_url"],
        timeout_s=_timeout(config.get("timeout_s", 10), ctx),
        headers=config.get("headers"),
        params=params,
        url_field="api_url",
    )
    _check_status(answer, None, "GET")
    try:
        report = answer.json()
    except ValueError:
        raise PluginError(
            f"the weather API at {config['api_url']} did not answer JSON", reason="BAD_RESPONSE"
        ) from None
    fields = {**_WEATHER_FIELDS, **config.get("fields", {})}
    failed, seen = [], []
    for check, (measure, symbol) in _CHECKS.items():
        if check not in config:
            continue
        value = field_value(report, fields[measure], config_field=f"fields.{measure}")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise PluginError(
                f"the weather API's answer has no number at {fields[measure]!r} for {measure}", reason="BAD_RESPONSE"
            )
        seen.append(f"{measure} {value}")
        if not (value >= config[check] if symbol == ">=" else value <= config[check]):
            failed.append(f"{measure} {value} is not {symbol} {config[check]}")
    if failed:
        return ConditionResult(False, "; ".join(failed))
    return ConditionResult(True, ", ".join(seen) + " within limits")


@hook_plugin(
    config_schema={
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "url": _URL,
            "headers": _HEADERS,
            "timeout_s": _TIMEOUT,
            "events": {"type": "array", "items": {"type": "string"}, "description": "Only these event types."},
        },
    }
)
def webhook(config: dict[str, Any], event: dict[str, Any], ctx: PluginContext) -> None:
    """POSTs run events as JSON to a URL (with an Idempotency-Key header)."""
    if config.get("events") and event["type"] not in config["events"]:
        return
    payload = {
        **event,
        "run_id": ctx.run_id,
        "step_id": ctx.step_id,
        "attempt": ctx.attempt,
        "idempotency_key": ctx.idempotency_key,
    }
    headers = {"Content-Type": "application/json", **config.get("headers", {})}
    if ctx.idempotency_key:
        headers.setdefault("Idempotency-Key", f"{ctx.idempotency_key}/{event['type']}")
    answer = _http(
        "POST",
        config["url"],
        timeout_s=_timeout(config.get("timeout_s", 10), ctx),
        headers=headers,
        body=json.dumps(payload).encode(),
    )
    _check_status(answer, None, "POST")


# --- SQL ------------------------------------------------------------------------


def _engine(url: str, read_only: bool) -> Engine:
    key = (url, read_only)
    if key in _ENGINES:
        _ENGINES.move_to_end(key)
        return _ENGINES[key]
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError("url", f"{url!r} is not a database URL (e.g. sqlite:////data/app.db)") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError("url", "give a SQLite file: sqlite:////absolute/path.db")
        # Read-only, SQLite itself refuses every write, whatever the statement.
        engine = sa.create_engine(f"sqlite:///file:{parsed.database}?mode=ro&uri=true" if read_only else parsed)
    elif backend == "postgresql":
        try:
            engine = sa.create_engine(parsed, execution_options={"postgresql_readonly": True} if read_only else {})
        except ModuleNotFoundError as error:
            raise ConfigError("url", f"no PostgreSQL driver is installed ({error.name}); install psycopg") from None
    else:
        raise ConfigError("url", f"database {backend!r} is not supported; use sqlite or postgresql")
    _ENGINES[key] = engine
    if len(_ENGINES) > _MAX_ENGINES:
        _ENGINES.popitem(last=False)[1].dispose()
    return engine


def _query(
    config: dict[str, Any], params: dict[str, Any], *, read_only: bool, max_rows: int
) -> tuple[list[str], list[dict[str, Any]]]:
    statement = sa.text(config["query"])
    wanted = set(statement.compile().params)
    missing = sorted(wanted - set(params))
    if missing:
        raise InputError(missing[0], f"the query needs :{missing[0]}; give it in `params` or the input")
    try:
        with _engine(config["url"], read_only).connect() as connection:
            result = connection.execute(statement, {k: v for k, v in params.items() if k in wanted})
            if not result.returns_rows:
                connection.commit()
                return [], []
            columns = list(result.keys())
            rows = [dict(zip(columns, row, strict=True)) for row in result.fetchmany(max_rows)]
            connection.commit()
    except sa.exc.OperationalError as error:
        raise PluginError(f"the database refused the query: {error.orig}", reason="SQL_ERROR") from None
    except sa.exc.DBAPIError as error:
        raise PluginError(f"the query failed: {error.orig}", reason="SQL_ERROR") from None
    return columns, [{k: _plain(v) for k, v in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


_SQL_PROPERTIES = {
    "url": {"type": "string", "minLength": 1, "description": "sqlite:////path/file.db or postgresql://…"},
    "query": {"type": "string", "minLength": 1, "description": "SQL with :named parameters."},
    "params": {"type": "object"},
}


@condition_plugin(
    config_schema={
        "type": "object",
        "required": ["url", "query"],
        "additionalProperties": False,
        "properties": {**_SQL_PROPERTIES, "operator": {"enum": sorted(OPERATORS)}, "value": {}},
    }
)
def sql_condition(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> ConditionResult:
    """Runs a read-only query; compares the first column of the first row with `value`
    (or, without `operator`, is true when that value is truthy). Parameters come from
    `params`, then from input fields of the same names."""
    params = {**config.get("params", {}), **data}
    _, rows = _query(config, params, read_only=True, max_rows=1)
    value = next(iter(rows[0].values())) if rows and rows[0] else None
    if "operator" not in config:
        return ConditionResult(bool(value), f"the query returned {json.dumps(value)}")
    expression = {"source": "result.value", "operator": config["operator"]}
    if "value" in config:
        expression["value"] = config["value"]
    try:
        verdict = compile_condition({"type": "expression", "config": expression}).evaluate({"result": {"value": value}})
    except ConditionError as error:
        raise PluginError(str(error), reason="CONDITION_ERROR") from None
    return ConditionResult(verdict.fired, verdict.reason.replace("result.value", "the query's value"))


@step_plugin(
    config_schema={
        "type": "object",
        "required": ["url", "query"],
        "additionalProperties": False,
        "properties": {
            **_SQL_PROPERTIES,
            "read_only": {"type": "boolean", "description": "Refuse writes (default true)."},
            "max_rows": {"type": "integer", "minimum": 1, "maximum": 100000},
        },
    }
)
def sql_query(config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> dict[str, Any]:
    """Runs a SQL query; the output has `rows` (objects), `columns` and `row_count`.
    Parameters come from `params`, then from input fields of the same names."""
    params = {**config.get("params", {}), **data}
    columns, rows = _query(
        config, params, read_only=config.get("read_only", True), max_rows=config.get("max_rows", 1000)
    )
    ctx.log("sql query done", row_count=len(rows))
    return {"columns": columns, "rows": rows, "row_count": len(rows)}


PLUGINS = [http_request, http_available, weather, webhook, sql_condition, sql_query]

if __name__ == "__main__":
    serve(*PLUGINS)
