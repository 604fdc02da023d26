"""ServiceConfig: flags over environment over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from ia_service_kit.config import ServiceConfig


def test_defaults_bind_loopback_on_the_default_port_with_sqlite_in_the_data_dir() -> None:
    config = ServiceConfig.from_args("registry", 50051, [], environ={})
    assert (config.host, config.bind_port, config.data_dir) == ("127.0.0.1", 50051, Path(".ia"))
    assert config.resolved_database_url == "sqlite:///.ia/registry.db"


def test_environment_sets_host_data_dir_and_database() -> None:
    env = {"IA_BIND_HOST": "0.0.0.0", "IA_DATA_DIR": "/srv/ia", "IA_DATABASE_URL": "postgresql://db/ia"}
    config = ServiceConfig.from_args("executor", 50052, [], environ=env)
    assert (config.host, config.data_dir) == ("0.0.0.0", Path("/srv/ia"))
    assert config.resolved_database_url == "postgresql://db/ia"


def test_flags_win_over_the_environment() -> None:
    config = ServiceConfig.from_args(
        "registry", 50051, ["--host", "::1", "--port", "0", "--data-dir", "here"], environ={"IA_BIND_HOST": "0.0.0.0"}
    )
    assert (config.host, config.bind_port, config.data_dir) == ("::1", 0, Path("here"))


def test_an_out_of_range_port_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        ServiceConfig.from_args("registry", 50051, ["--port", "70000"], environ={})
    assert "--port must be between 0 and 65535" in capsys.readouterr().err


def test_a_config_built_in_code_uses_the_default_port() -> None:
    assert ServiceConfig(name="registry", default_port=50051).bind_port == 50051
