"""Starters for `init`: every template validates strictly, dry-runs, and its plugin answers."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest
from dx_support import load

from ia_modules.definition import load_definition, validate
from ia_modules.engine import RunState, compile_plan, dry_run
from ia_modules.plugin import PluginHarness
from ia_modules.starters import TEMPLATES, StarterError, schema_reference, starter_files, write_starter


def _files(name: str, template: str) -> dict[str, str]:
    return {str(f.path): f.content for f in starter_files(name, template, schema="../schemas/pipeline.schema.json")}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_validates_strictly_and_dry_runs_with_its_inputs(template):
    files = _files(f"my-{template}", template)
    loaded = load_definition(files["pipeline.json"])
    assert loaded.findings == [] and validate(loaded.pipeline, strict=True) == []
    definition = json.loads(files["pipeline.json"])
    assert list(definition)[:2] == ["$schema", "name"]
    assert definition["$schema"] == "../schemas/pipeline.schema.json" and definition["name"] == f"my-{template}"
    plan = compile_plan(loaded.pipeline)
    inputs = json.loads(files["input.json"])
    assert plan.check_inputs(inputs) == []
    result = dry_run(plan, plan.parameters_for(inputs), json.loads(files.get("mocks.json", "{}")))
    assert (result.state, result.error) == (RunState.SUCCEEDED, None)
    assert result.outputs
    readme = files["README.md"]
    assert readme.startswith(f"# my-{template}\n") and "ia-modules run pipeline.json --input input.json" in readme


def test_each_template_has_its_shape():
    shapes = {}
    for template in TEMPLATES:
        pipeline = load(json.loads(_files("x", template)["pipeline.json"]))
        kinds = {s.type or ("plugin" if s.plugin else "module") for s in pipeline.steps}
        targets = [t.to for t in pipeline.flow.transitions]
        shapes[template] = (kinds, targets)
    assert "human_input" in shapes["hitl"][0]
    assert "plugin" in shapes["plugin"][0]
    assert "wait" in shapes["loop"][0]
    assert shapes["parallel"][1].count("merge") == 2
    assert shapes["conditional"][1].count("report") == 2
    loop = load(json.loads(_files("x", "loop")["pipeline.json"]))
    assert any(t.max_iterations for t in loop.flow.transitions)


def test_the_loop_template_goes_round_at_most_three_more_times():
    pipeline = load(json.loads(_files("x", "loop")["pipeline.json"]))
    plan = compile_plan(pipeline)
    result = dry_run(plan, plan.parameters_for({"job": "j", "done": False}))
    polls = [s.iteration for s in result.steps if s.step_id == "poll"]
    assert polls == [0, 1, 2, 3]
    assert result.outputs == {"job": "j", "done": False}


def test_names_and_templates_are_checked():
    with pytest.raises(StarterError, match="not a valid pipeline name.*try 'my-flow'"):
        starter_files("My Flow", "simple")
    with pytest.raises(StarterError, match="unknown template 'fancy'; choose one of simple, conditional"):
        starter_files("ok", "fancy")


def test_write_refuses_to_overwrite_unless_forced(tmp_path):
    files = starter_files("demo", "plugin")
    written = write_starter(tmp_path / "demo", files)
    assert sorted(p.relative_to(tmp_path / "demo").as_posix() for p in written) == [
        "README.md",
        "input.json",
        "mocks.json",
        "pipeline.json",
        "plugins/word_count/plugin.py",
        "plugins/word_count/plugin.yaml",
    ]
    with pytest.raises(StarterError, match=r"already exists \(and 5 more\); use --force"):
        write_starter(tmp_path / "demo", files)
    assert write_starter(tmp_path / "demo", files, force=True) == written
    (tmp_path / "file").write_text("x")
    with pytest.raises(StarterError, match="exists and is not a folder"):
        write_starter(tmp_path / "file", files)


def test_schema_reference_finds_the_nearest_schema_folder(tmp_path):
    repository = tmp_path / "repository"
    (repository / "schemas").mkdir(parents=True)
    (repository / "schemas" / "pipeline.schema.json").write_text("{}")
    assert schema_reference(repository / "pipelines" / "orders") == "../../schemas/pipeline.schema.json"
    elsewhere = tmp_path / "elsewhere"
    assert schema_reference(elsewhere / "a" / "b", project_root=elsewhere) == "../../schemas/pipeline.schema.json"
    assert [f.path for f in starter_files("x", "simple")] == [
        PurePosixPath("input.json"),
        PurePosixPath("pipeline.json"),
        PurePosixPath("README.md"),
    ]


async def test_the_plugin_template_serves_its_step_plugin(tmp_path: Path):
    write_starter(tmp_path, starter_files("counter", "plugin"))
    async with PluginHarness.subprocess(tmp_path / "plugins" / "word_count") as harness:
        assert [p.name for p in harness.plugins] == ["word_count"]
        outcome = await harness.client.execute_step("word_count", {"lowercase": True}, {"text": "The cat saw the dog"})
    assert outcome.output == {"words": 5, "unique": 4}
    assert [log.message for log in outcome.logs] == ["counted 5 words"]
    mocks = json.loads((tmp_path / "mocks.json").read_text())
    assert set(mocks["count"]) == set(outcome.output)
