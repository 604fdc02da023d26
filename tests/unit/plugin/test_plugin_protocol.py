"""The go-plugin style handshake: the line a plugin prints and the environment it checks."""

from __future__ import annotations

import pytest

from ia_modules.plugin.protocol import (
    MAGIC_COOKIE,
    MAGIC_COOKIE_KEY,
    PROTOCOL_VERSIONS_KEY,
    SOCKET_KEY,
    HandshakeError,
    check_environment,
    handshake_env,
    handshake_line,
    parse_handshake,
)


def test_a_plugin_prints_the_line_the_host_parses() -> None:
    line = handshake_line("/run/ia/io.sock")

    assert line == "IA-PLUGIN|1|unix|/run/ia/io.sock|grpc"
    handshake = parse_handshake(line + "\n", expected_socket="/run/ia/io.sock")
    assert handshake.target == "unix:///run/ia/io.sock"
    assert handshake.protocol_version == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("hello world", "invalid handshake line 'hello world': expected `IA-PLUGIN|1|unix|<socket path>|grpc`"),
        ("IA-PLUGIN|x|unix|/s|grpc", "protocol version 'x' is not a number"),
        ("IA-PLUGIN|2|unix|/s|grpc", "plugin speaks protocol version 2; this host accepts 1"),
        ("IA-PLUGIN|1|tcp|127.0.0.1:9|grpc", "local plugins must serve on a Unix socket"),
        ("IA-PLUGIN|1|unix|/other.sock|grpc", "announced socket '/other.sock', but the host gave '/s'"),
        ("IA-PLUGIN|1|unix|/s|netrpc", "only `grpc` is supported"),
    ],
)
def test_a_bad_handshake_line_is_refused_saying_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(HandshakeError) as refused:
        parse_handshake(line, expected_socket="/s")

    assert message in str(refused.value)


def test_a_long_garbage_line_is_shortened_in_the_message() -> None:
    with pytest.raises(HandshakeError) as refused:
        parse_handshake("x" * 500)

    assert len(str(refused.value)) < 250


def test_the_host_environment_names_the_socket() -> None:
    env = handshake_env("/s.sock", name="io", max_concurrency=4, call_timeout_s=2.5)

    assert check_environment(env) == "/s.sock"
    assert env["IA_PLUGIN_NAME"] == "io"
    assert env["IA_PLUGIN_MAX_CONCURRENCY"] == "4"
    assert env["IA_PLUGIN_CALL_TIMEOUT_S"] == "2.5"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({MAGIC_COOKIE_KEY: "wrong"}, "started by the plugin host (ia-plugin-host), not run directly"),
        ({PROTOCOL_VERSIONS_KEY: "2,3"}, "the host accepts plugin protocol versions ['2', '3']; this plugin speaks 1"),
        ({SOCKET_KEY: ""}, "IA_PLUGIN_SOCKET is not set"),
    ],
)
def test_a_plugin_refuses_an_environment_not_set_by_a_host(change: dict[str, str], message: str) -> None:
    env = {**handshake_env("/s.sock"), **change}

    with pytest.raises(HandshakeError) as refused:
        check_environment(env)

    assert message in str(refused.value)


def test_the_cookie_is_a_fixed_public_value() -> None:
    assert handshake_env("/s")[MAGIC_COOKIE_KEY] == MAGIC_COOKIE
    assert MAGIC_COOKIE.endswith("-ia-modules-plugin")
