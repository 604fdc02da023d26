"""plugin.yaml: parsing, defaults, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ia_modules.plugin import Kind, Limits, ManifestError, Permissions, load_manifest
from ia_modules.plugin.manifest import PathGrant, parse_manifest

FULL = """
name: weather
version: 1.2.0
protocol_version: 1
description: Is the weather good?
kinds: [condition]
entrypoint: python plugin.py --fast
permissions:
  network: true
  paths: [/srv/reference, {path: /srv/out, writable: true}]
  env: [WEATHER_API_KEY]
limits: {memory_mb: 256, call_timeout_s: 5}
config_schema: {type: object, properties: {city: {type: string}}}
"""


def test_a_full_manifest_is_read_with_defaults_for_what_it_leaves_out(tmp_path: Path) -> None:
    (tmp_path / "plugin.yaml").write_text(FULL)

    manifest = load_manifest(tmp_path)

    assert manifest.name == "weather"
    assert manifest.entrypoint == ("python", "plugin.py", "--fast")
    assert manifest.permissions == Permissions(
        network=True,
        paths=(PathGrant("/srv/reference"), PathGrant("/srv/out", writable=True)),
        env=("WEATHER_API_KEY",),
    )
    assert manifest.limits == Limits(memory_mb=256, call_timeout_s=5)
    assert manifest.limits.processes == Limits().processes
    assert manifest.sandbox is True
    [plugin] = manifest.declared_plugins()
    assert (plugin.name, plugin.kinds) == ("weather", (Kind.CONDITION,))
    assert plugin.config_schema["properties"]["city"] == {"type": "string"}
    assert manifest.folder == tmp_path.resolve()


def test_python_means_the_hosts_interpreter_and_relative_programs_live_in_the_folder(tmp_path: Path) -> None:
    python = parse_manifest({"name": "a", "version": "1", "entrypoint": ["python3", "-m", "a"]}, folder=tmp_path)
    binary = parse_manifest({"name": "b", "version": "1", "entrypoint": "./bin/b serve"}, folder=tmp_path)
    system = parse_manifest({"name": "c", "version": "1", "entrypoint": "node c.js"}, folder=tmp_path)

    assert python.command("/venv/bin/python") == ["/venv/bin/python", "-m", "a"]
    assert binary.command("/venv/bin/python") == [str(tmp_path / "bin" / "b"), "serve"]
    assert system.command("/venv/bin/python") == ["node", "c.js"]


def test_a_process_may_declare_several_plugins() -> None:
    manifest = parse_manifest(
        {
            "name": "data",
            "version": "1",
            "entrypoint": "python -m data",
            "plugins": [{"name": "email", "kinds": ["validator"]}, {"name": "sort", "kinds": ["transform"]}],
        }
    )

    assert [(p.name, p.kinds) for p in manifest.declared_plugins()] == [
        ("email", (Kind.VALIDATOR,)),
        ("sort", (Kind.TRANSFORM,)),
    ]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"version": None}, "version", "is a required property"),
        ({"kinds": ["sensor"]}, "kinds[0]", "'sensor' is not one of"),
        ({"limits": {"memory_mb": -1}}, "limits.memory_mb", "less than the minimum"),
        ({"limits": {"memry_mb": 1}}, "limits.memry_mb", "'memry_mb' was unexpected"),
        ({"permissions": {"paths": ["relative/path"]}}, "permissions.paths[0]", "is not valid"),
        ({"permissions": {"env": ["IA_PLUGIN_SOCKET"]}}, "permissions.env[0]", "does not match"),
        ({"protocol_version": 2}, "protocol_version", "1 was expected"),
        ({"entrypoint": []}, "entrypoint", "is not valid"),
        ({"plugins": [{"name": "x", "kinds": ["step"]}, {"name": "x", "kinds": ["step"]}]}, "plugins", "unique: x"),
    ],
)
def test_a_bad_manifest_names_the_field(change: dict, field: str, words: str) -> None:
    data = {"name": "p", "version": "1", "entrypoint": "python p.py", **change}
    data = {key: value for key, value in data.items() if value is not None}

    with pytest.raises(ManifestError) as refused:
        parse_manifest(data, source="p/plugin.yaml")

    fields = [f for f, _ in refused.value.problems]
    assert field in fields
    description = dict(refused.value.problems)[field]
    assert words in description
    assert str(refused.value).startswith("p/plugin.yaml: ")


def test_a_missing_or_broken_file_is_a_manifest_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no plugin.yaml in"):
        load_manifest(tmp_path)
    (tmp_path / "plugin.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ManifestError, match="line 2: not valid YAML"):
        load_manifest(tmp_path)
    (tmp_path / "plugin.yaml").write_text("- just\n- a list\n")
    with pytest.raises(ManifestError, match="must be a mapping"):
        load_manifest(tmp_path)


def test_grants_merge_without_losing_write_access() -> None:
    manifest = Permissions(paths=(PathGrant("/a", writable=True),), env=("A",))
    extra = Permissions(network=True, paths=(PathGrant("/a"), PathGrant("/b")), env=("A", "B"))

    merged = manifest.merged(extra)

    assert merged == Permissions(network=True, paths=(PathGrant("/a", True), PathGrant("/b")), env=("A", "B"))
