"""`ia-plugin init`, `validate`, `test` and `publish`: writing plugins, offline."""

from __future__ import annotations

import importlib.util
import json
import sys
import tarfile
from pathlib import Path

import pytest
from plugin_kit_testing import write_plugin
from typer.testing import CliRunner

from ia_modules.plugin_cli.main import app

KINDS = ["condition", "step", "validator", "transform", "hook", "reporter"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_init_writes_a_plugin_whose_own_test_passes(tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = invoke("init", f"my_{kind}", "--type", kind, "--dir", str(tmp_path))
    folder = tmp_path / f"my_{kind}"

    assert code == 0, out
    assert f"created {folder}/" in out
    assert sorted(p.name for p in folder.iterdir()) == ["plugin.py", "plugin.yaml", "test_plugin.py"]
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "plugin", raising=False)
    spec = importlib.util.spec_from_file_location(f"scaffold_test_{kind}", folder / "test_plugin.py")
    assert spec is not None and spec.loader is not None
    tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tests)
    getattr(tests, f"test_my_{kind}_answers")()


def test_init_refuses_bad_names_kinds_and_existing_folders(tmp_path: Path) -> None:
    assert invoke("init", "Bad-Name", "--dir", str(tmp_path))[0] == 1
    code, _, err = invoke("init", "ok", "--type", "sensor", "--dir", str(tmp_path))
    assert code == 1 and "--type must be one of condition, step" in err
    (tmp_path / "taken").mkdir()
    code, _, err = invoke("init", "taken", "--dir", str(tmp_path))
    assert code == 1 and "already exists" in err


def test_test_runs_the_folders_tests_and_fails_when_they_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The scaffold's tests need no pytest plugin; loading them all (hypothesis…) is slow.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    invoke("init", "checked", "--type", "transform", "--dir", str(tmp_path))
    assert invoke("test", str(tmp_path / "checked"))[0] == 0

    failing = tmp_path / "failing"
    failing.mkdir()
    (failing / "test_it.py").write_text("def test_it():\n    assert 1 == 2\n")
    assert invoke("test", str(failing))[0] == 1
    (failing / "test_it.py").unlink()
    code, _, err = invoke("test", str(failing))
    assert code == 1 and "no tests in" in err


def test_validate_starts_the_plugin_and_checks_describe_against_the_manifest(tmp_path: Path) -> None:
    invoke("init", "checked", "--type", "condition", "--dir", str(tmp_path))

    code, out, _ = invoke("validate", str(tmp_path / "checked"), "--format", "json")

    report = json.loads(out)
    assert code == 0
    assert report["valid"] is True and report["problems"] == []
    assert report["plugins"][0]["name"] == "checked"
    assert report["plugins"][0]["kinds"] == ["condition"]


def test_validate_reports_a_manifest_that_disagrees_with_describe(tmp_path: Path) -> None:
    invoke("init", "liar", "--type", "condition", "--dir", str(tmp_path))
    manifest = tmp_path / "liar" / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("kinds: [condition]", "kinds: [step]"))

    code, out, _ = invoke("validate", str(tmp_path / "liar"))

    assert code == 1
    assert "describe: liar: the manifest says ['step'], Describe says ['condition']" in out


def test_validate_reports_a_broken_manifest_and_a_failed_handshake(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "plugin.yaml").write_text("name: broken\nversion: 1\n")
    code, out, _ = invoke("validate", str(broken), "--format", "json")
    assert code == 1
    assert json.loads(out)["problems"] == [
        {"check": "manifest", "message": "entrypoint: 'entrypoint' is a required property"}
    ]

    silent = write_plugin(tmp_path / "silent", "print('not a handshake', flush=True)\n", kinds=["step"])
    code, out, _ = invoke("validate", str(silent), "--timeout", "5")
    assert code == 1
    assert "handshake: invalid handshake line 'not a handshake'" in out


def test_publish_packs_the_folder_into_an_index_that_install_understands(tmp_path: Path) -> None:
    invoke("init", "shipped", "--type", "step", "--dir", str(tmp_path))
    (tmp_path / "shipped" / "__pycache__").mkdir()
    (tmp_path / "shipped" / "__pycache__" / "junk.pyc").write_bytes(b"x")
    index = tmp_path / "index"

    code, out, _ = invoke("publish", str(tmp_path / "shipped"), "--index", str(index), "--format", "json")

    entry = json.loads(out)
    assert code == 0
    assert entry["file"] == "shipped-0.1.0.tar.gz" and entry["kinds"] == ["step"]
    listing = json.loads((index / "index.json").read_text())
    assert listing["plugins"]["shipped"]["0.1.0"]["sha256"] == entry["sha256"]
    with tarfile.open(index / entry["file"]) as archive:
        names = sorted(archive.getnames())
    assert names == ["shipped", "shipped/plugin.py", "shipped/plugin.yaml", "shipped/test_plugin.py"]


def test_publish_refuses_an_invalid_manifest(tmp_path: Path) -> None:
    (tmp_path / "plugin.yaml").write_text("name: x\nversion: 1\nentrypoint: run\nlimits: {memory_mb: lots}\n")

    code, _, err = invoke("publish", str(tmp_path), "--index", str(tmp_path / "index"))

    assert code == 1
    assert "limits.memory_mb: 'lots' is not of type 'integer'" in err


def test_install_copies_an_archive_into_the_plugins_folder_even_with_the_host_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("init", "offline", "--type", "hook", "--dir", str(tmp_path))
    invoke("publish", str(tmp_path / "offline"), "--index", str(tmp_path / "index"))
    plugins_dir = tmp_path / "plugins"
    monkeypatch.setenv("IA_PLUGINS_DIR", str(plugins_dir))

    code, _, err = invoke(
        "--endpoint", "127.0.0.1:9", "--timeout", "2", "install", str(tmp_path / "index" / "offline-0.1.0.tar.gz")
    )

    assert code == 0
    assert "the plugin host was not reachable: it loads it when it starts" in err
    assert (plugins_dir / "offline" / "plugin.py").is_file()
    code, _, err = invoke("--endpoint", "127.0.0.1:9", "install", str(tmp_path / "offline"))
    assert code == 1 and "already exists; pass --replace" in err


def test_install_refuses_what_is_not_a_plugin(tmp_path: Path) -> None:
    code, _, err = invoke("install", str(tmp_path / "nothing-here"))
    assert code == 1 and "is neither a plugin folder nor a plugin archive" in err

    (tmp_path / "plugin.yaml").write_text("name: x\n")
    code, _, err = invoke("install", str(tmp_path))
    assert code == 1
    assert "invalid manifest" in err and "version: 'version' is a required property" in err


def test_listing_needs_a_known_kind_and_a_reachable_host() -> None:
    code, _, err = invoke("list", "--kind", "sensor")
    assert code == 1 and "--kind must be one of condition, step" in err

    code, _, err = invoke("--endpoint", "127.0.0.1:9", "--timeout", "2", "list")
    assert code == 1 and "cannot reach the IA Modules endpoint at 127.0.0.1:9" in err
