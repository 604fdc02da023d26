"""IAError: built locally, parsed from a status, and shown to people."""

from __future__ import annotations

import grpc
import pytest
from executor_double import RUN_ID, ExecutorDouble
from typer.testing import CliRunner

from ia_modules import Client, IAError
from ia_modules.cli.main import app
from ia_modules.client import to_dict, to_struct


def test_a_local_error_carries_what_it_was_given() -> None:
    error = IAError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "the definition has errors",
        reason="INVALID_DEFINITION",
        metadata={"count": "2"},
        field_violations=[("steps[0].id", "must not be empty"), ("", "no steps")],
    )
    assert error.status is None
    assert (error.reason, error.metadata) == ("INVALID_DEFINITION", {"count": "2"})
    assert str(error) == (
        "INVALID_ARGUMENT: the definition has errors [INVALID_DEFINITION]\n  steps[0].id: must not be empty\n  no steps"
    )


def test_details_that_no_longer_match_the_status_are_ignored(executor: ExecutorDouble) -> None:
    with Client(executor.endpoint) as client, pytest.raises(IAError) as raised:
        client.get_run("behind-a-proxy")
    error = raised.value
    assert error.code is grpc.StatusCode.UNAVAILABLE
    assert error.status is None
    assert error.reason is None
    assert error.metadata == {}


def test_ctrl_c_while_waiting_exits_130_and_leaves_the_run_alone(
    executor: ExecutorDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setenv("IA_ENDPOINT", executor.endpoint)
    monkeypatch.setattr("ia_modules.cli.runs.follow", interrupted)
    result = CliRunner().invoke(app, ["watch", RUN_ID])
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n"


def test_struct_round_trip_keeps_whole_numbers_whole() -> None:
    data = {"n": 3, "ratio": 0.5, "items": [1, 2.5, {"deep": 4}], "none": None, "flag": True}
    assert to_dict(to_struct(data)) == data
    assert to_dict(to_struct(None)) == {}


def test_struct_numbers_past_double_precision_stay_floats_and_a_value_never_set_is_none() -> None:
    struct = to_struct({"big": 2.0**53, "negative_zero": -0.0, "text": ""})
    struct.fields["unset"]  # noqa: B018 - reading a map entry adds an empty Value

    assert to_dict(struct) == {"big": 2.0**53, "negative_zero": 0, "text": "", "unset": None}
    assert isinstance(to_dict(struct)["big"], float)


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
def test_a_struct_number_json_cannot_hold_is_refused(number: float) -> None:
    with pytest.raises(ValueError, match="is not a JSON number"):
        to_dict(to_struct({"deep": [{"n": number}]}))


def test_endpoint_comes_from_the_argument_then_ia_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IA_ENDPOINT", raising=False)
    with Client() as default, Client("example:1") as explicit:
        assert default.endpoint == "localhost:8080"
        assert explicit.endpoint == "example:1"
    monkeypatch.setenv("IA_ENDPOINT", "stack:9")
    with Client() as from_env:
        assert from_env.endpoint == "stack:9"


def test_tls_credentials_make_a_secure_channel() -> None:
    credentials = grpc.ssl_channel_credentials()
    with Client("example:443", credentials=credentials) as client:
        assert client.endpoint == "example:443"
