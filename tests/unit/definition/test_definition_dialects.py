"""Older dialects: each form is normalized to the canonical proto and named as a feature."""

import json

import pytest

from ia_modules.definition import Code, canonical_dict, load_definition, validate


def _load(doc):
    result = load_definition(doc)
    assert result.pipeline is not None, [str(f) for f in result.findings]
    return result, canonical_dict(result.pipeline)


def _pipeline(**extra):
    doc = {"name": "demo", "steps": [{"id": "a", "type": "pass"}, {"id": "b", "type": "pass"}]}
    doc.update(extra)
    return doc


def test_canonical_document_is_canonical_and_schema_key_is_ignored():
    result, out = _load(_pipeline(**{"$schema": "https://example.com/schema.json"}))
    assert result.dialect == "canonical"
    assert result.dialect_features == []
    assert result.findings == []
    assert "$schema" not in out


def test_flow_paths_with_from_step_to_step():
    result, out = _load(_pipeline(flow={"start_at": "a", "paths": [{"from_step": "a", "to_step": "b", "name": "go"}]}))
    assert result.dialect == "legacy"
    assert result.dialect_features == ["flow.paths", "from_step/to_step"]
    assert out["flow"] == {"start_at": "a", "transitions": [{"from": "a", "to": "b", "name": "go"}]}


@pytest.mark.parametrize("marker", ["end", "end_with_success", "end_with_failure", "end_here"])
def test_transitions_to_end_markers_are_dropped(marker):
    flow = {"paths": [{"from": "a", "to": "b"}, {"from": "b", "to": marker}, {"from": "a", "to": "b", "name": "x"}]}
    result, out = _load(_pipeline(flow=flow))
    assert "end_* targets" in result.dialect_features
    assert out["flow"]["transitions"] == [{"from": "a", "to": "b"}, {"from": "a", "to": "b", "name": "x"}]


def test_a_declared_step_named_end_is_a_real_target():
    doc = _pipeline(flow={"transitions": [{"from": "a", "to": "end"}]})
    doc["steps"].append({"id": "end", "type": "pass"})
    result, out = _load(doc)
    assert out["flow"]["transitions"] == [{"from": "a", "to": "end"}]
    assert result.dialect == "canonical"


def test_paths_and_origins_survive_dropped_transitions():
    text = json.dumps(_pipeline(flow={"paths": [{"from": "a", "to": "end"}, {"from": "a", "to": "nowhere"}]}), indent=2)
    result = load_definition(text)
    findings = result.locate(validate(result.pipeline))
    unknown = [f for f in findings if f.code == Code.UNKNOWN_STEP]
    assert [(f.path, f.line) for f in unknown] == [
        ("flow.transitions[0].to", text.splitlines().index('        "to": "nowhere"') + 1)
    ]


def test_parameters_as_a_list_become_defaults_and_specs():
    params = [
        {"name": "topic", "schema": {"type": "string"}, "required": True, "description": "what"},
        {"name": "n", "default": 3},
    ]
    result, out = _load(_pipeline(parameters=params))
    assert result.dialect_features == ["parameters as list"]
    assert out["parameters"] == {"n": 3}
    assert out["parameter_specs"] == [
        {"name": "topic", "description": "what", "required": True, "schema": {"type": "string"}},
        {"name": "n"},
    ]


def test_parameters_list_and_parameter_specs_conflict():
    result = load_definition(_pipeline(parameters=[{"name": "a"}], parameter_specs=[{"name": "b"}]))
    assert [f.code for f in result.findings] == [Code.CONFLICTING_FIELDS]
    assert result.findings[0].path == "parameters"


def test_inputs_as_a_list_become_an_object_of_sources():
    step = {
        "id": "a",
        "type": "pass",
        "inputs": [{"name": "x", "source": "{parameters.x}", "schema": {}, "required": True}],
    }
    result, out = _load({"name": "demo", "steps": [step]})
    assert result.dialect_features == ["inputs as list"]
    assert out["steps"][0]["inputs"] == {"x": "{parameters.x}"}


def test_missing_inputs_stay_unset():
    result, _out = _load(_pipeline())
    assert not result.pipeline.steps[0].HasField("inputs")


def test_empty_inputs_stay_set():
    result, out = _load({"name": "demo", "steps": [{"id": "a", "type": "pass", "inputs": {}}]})
    assert result.pipeline.steps[0].HasField("inputs")
    assert out["steps"][0]["inputs"] == {}


def test_outputs_as_names_and_as_objects():
    step = {"id": "a", "type": "pass", "outputs": ["x", {"name": "y", "required": True, "schema": {"type": "string"}}]}
    result, out = _load({"name": "demo", "steps": [step]})
    assert result.dialect_features == ["outputs as names"]
    assert out["steps"][0]["outputs"] == [{"name": "x"}, {"name": "y", "required": True, "schema": {"type": "string"}}]


def test_step_error_handling_is_lifted_onto_the_step():
    policy = {
        "retry": {"max_attempts": 3, "initial_delay": 0.5, "max_delay": 30, "exponential_base": 3, "jitter": True},
        "timeout": 10,
        "continue_on_error": False,
        "on_error": "b",
        "fallback": None,
    }
    result, out = _load(
        {"name": "demo", "steps": [{"id": "a", "type": "pass", "error_handling": policy}, {"id": "b", "type": "pass"}]}
    )
    assert result.dialect_features == ["step error_handling", "retry field names", "jitter as bool"]
    step = out["steps"][0]
    assert step["retry"] == {
        "max_attempts": 3,
        "initial_delay_s": 0.5,
        "backoff_multiplier": 3,
        "max_delay_s": 30,
        "jitter": 0.1,
    }
    assert step["timeout_s"] == 10
    assert step["continue_on_error"] is False
    assert step["on_error"] == "b"
    assert step["fallback"] is None
    assert result.pipeline.steps[0].HasField("fallback")


def test_jitter_false_means_no_jitter_and_timeout_seconds_is_an_alias():
    policy = {"retry": {"max_attempts": 2, "jitter": False}, "timeout_seconds": 4}
    _result, out = _load({"name": "demo", "steps": [{"id": "a", "type": "pass", "error_handling": policy}]})
    assert out["steps"][0]["retry"] == {"max_attempts": 2}
    assert out["steps"][0]["timeout_s"] == 4


def test_error_handling_in_config_is_lifted_and_removed_from_config():
    config = {"url": "u", "error_handling": {"continue_on_error": True, "enable_fallback": True}}
    result, out = _load({"name": "demo", "steps": [{"id": "a", "plugin": "p", "config": config}]})
    assert "config.error_handling" in result.dialect_features
    assert out["steps"][0]["config"] == {"url": "u"}
    assert out["steps"][0]["continue_on_error"] is True
    dropped = [f for f in result.findings if f.code == Code.LEGACY_FIELD_DROPPED]
    assert [f.path for f in dropped] == ["steps[0].config.error_handling.enable_fallback"]


def test_config_holding_only_error_handling_disappears():
    _result, out = _load(
        {"name": "demo", "steps": [{"id": "a", "plugin": "p", "config": {"error_handling": {"timeout": 3}}}]}
    )
    assert "config" not in out["steps"][0]
    assert out["steps"][0]["timeout_s"] == 3


def test_error_handling_conflicting_with_a_flat_field():
    step = {"id": "a", "type": "pass", "timeout_s": 5, "error_handling": {"timeout": 10, "retries": 2}}
    result = load_definition({"name": "demo", "steps": [step]})
    assert {(f.code, f.path) for f in result.findings} == {
        (Code.CONFLICTING_FIELDS, "steps[0].error_handling.timeout"),
        (Code.UNKNOWN_FIELD, "steps[0].error_handling.retries"),
    }
    assert result.pipeline.steps[0].timeout_s == 5


def test_retry_names_are_mapped_at_the_pipeline_level_too():
    result, out = _load(_pipeline(error_handling={"retry": {"max_attempts": 2, "initial_delay": 2}, "timeout_s": 60}))
    assert out["error_handling"] == {"retry": {"max_attempts": 2, "initial_delay_s": 2}, "timeout_s": 60}
    assert result.dialect_features == ["retry field names"]


def test_class_and_name_as_id_and_type_task():
    step = {"name": "fetch", "type": "task", "module": "m.steps", "class": "Fetch"}
    result, out = _load({"name": "demo", "steps": [step]})
    assert set(result.dialect_features) == {"step name as id", "type task", "class"}
    assert out["steps"][0] == {"id": "fetch", "module": "m.steps", "step_class": "Fetch"}


def test_id_and_name_together_keep_name_as_the_display_name():
    _result, out = _load({"name": "demo", "steps": [{"id": "fetch", "name": "Fetch it", "plugin": "p"}]})
    assert out["steps"][0] == {"id": "fetch", "name": "Fetch it", "plugin": "p"}


def test_class_and_a_different_step_class_conflict():
    result = load_definition({"name": "demo", "steps": [{"id": "a", "module": "m", "class": "A", "step_class": "B"}]})
    assert [(f.code, f.path) for f in result.findings] == [(Code.CONFLICTING_FIELDS, "steps[0].class")]


def test_a_type_label_on_a_module_step_is_dropped_with_a_warning():
    result, out = _load({"name": "demo", "steps": [{"id": "a", "type": "agent", "module": "m", "step_class": "A"}]})
    assert "type" not in out["steps"][0]
    assert [(f.code, f.path) for f in result.findings] == [(Code.LEGACY_FIELD_DROPPED, "steps[0].type")]


@pytest.mark.parametrize(
    ("kind", "config", "spec", "rest"),
    [
        ("wait", {"seconds": 3}, {"seconds": 3}, None),
        ("pipeline", {"pipeline": "child", "revision": 2, "extra": 1}, {"name": "child", "revision": 2}, {"extra": 1}),
        (
            "map",
            {"items": "{{ parameters.xs }}", "max_concurrency": 2, "step": {"type": "pass"}},
            {"items": "{{ parameters.xs }}", "max_concurrency": 2, "step": {"type": "pass"}},
            None,
        ),
        (
            "human_input",
            {"prompt": "ok?", "timeout": 60, "assigned_users": ["u"], "ui_schema": {"type": "object"}},
            {"prompt": "ok?", "timeout_s": 60, "assignees": ["u"], "ui_schema": {"type": "object"}},
            None,
        ),
    ],
)
def test_typed_settings_in_config_are_lifted(kind, config, spec, rest):
    result, out = _load(
        {"name": "demo", "parameters": {"xs": []}, "steps": [{"id": "a", "type": kind, "config": config}]}
    )
    assert f"{kind} settings in config" in result.dialect_features
    assert out["steps"][0][kind] == spec
    assert out["steps"][0].get("config") == rest
    assert validate(result.pipeline) == []


def test_config_without_typed_settings_is_left_alone():
    result, out = _load({"name": "demo", "steps": [{"id": "a", "type": "wait", "config": {"note": 1}}]})
    assert result.dialect == "canonical"
    assert out["steps"][0] == {"id": "a", "type": "wait", "config": {"note": 1}}


def test_a_form_ui_schema_with_unreadable_fields_is_kept_for_validation():
    ui = {"type": "form", "fields": ["name"]}
    result, out = _load({"name": "demo", "steps": [{"id": "a", "type": "human_input", "config": {"ui_schema": ui}}]})
    assert out["steps"][0]["human_input"]["ui_schema"] == ui
    assert [f.code for f in validate(result.pipeline)] == [Code.INVALID_UI_SCHEMA]


def test_typed_settings_given_directly_leave_config_alone():
    step = {"id": "a", "type": "wait", "wait": {"seconds": 1}, "config": {"seconds": 9}}
    result, out = _load({"name": "demo", "steps": [step]})
    assert result.dialect == "canonical"
    assert out["steps"][0]["wait"] == {"seconds": 1}
    assert out["steps"][0]["config"] == {"seconds": 9}


def test_a_legacy_map_inner_step_is_normalized_with_source_paths():
    inner = {"name": "each", "module": "m", "class": "C", "timeout_s": "x"}
    result = load_definition(
        {
            "name": "demo",
            "parameters": {"xs": []},
            "steps": [{"id": "a", "type": "map", "config": {"items": "{{ parameters.xs }}", "step": inner}}],
        }
    )
    step = result.pipeline.steps[0].map.step
    assert (step.id, step.module, step.step_class) == ("each", "m", "C")
    assert [(f.code, f.path) for f in result.findings] == [(Code.INVALID_TYPE, "steps[0].config.step.timeout_s")]


def test_form_style_ui_schema_becomes_a_json_schema():
    ui = {
        "type": "generic_input",
        "title": "T",
        "description": "D",
        "fields": [
            {"name": "text", "type": "textarea", "label": "Text", "required": True, "default": ""},
            {"name": "n", "type": "integer"},
            {"name": "pick", "type": "select", "options": ["a", {"value": "b", "label": "B"}]},
            {"name": "plain"},
        ],
    }
    result, out = _load({"name": "demo", "steps": [{"id": "a", "type": "human_input", "config": {"ui_schema": ui}}]})
    assert "ui_schema fields" in result.dialect_features
    assert out["steps"][0]["human_input"]["ui_schema"] == {
        "type": "object",
        "title": "T",
        "description": "D",
        "required": ["text"],
        "properties": {
            "text": {"type": "string", "ui:widget": "textarea", "title": "Text", "default": ""},
            "n": {"type": "integer", "ui:widget": "integer"},
            "pick": {"type": "string", "ui:widget": "select", "enum": ["a", "b"]},
            "plain": {"type": "string", "ui:widget": "text"},
        },
    }
    assert validate(result.pipeline) == []


def test_a_json_schema_ui_schema_is_kept_as_is():
    ui = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "fields": "ignored"}
    _result, out = _load({"name": "demo", "steps": [{"id": "a", "type": "human_input", "config": {"ui_schema": ui}}]})
    assert out["steps"][0]["human_input"]["ui_schema"] == ui


@pytest.mark.parametrize(
    ("written", "canonical", "feature"),
    [
        ("always", {"type": "always"}, "condition shorthand"),
        ("parameter:dry_run", {"type": "parameter", "parameter": "dry_run"}, "condition shorthand"),
        (
            {"type": "threshold_condition", "config": {"t": 1}},
            {"type": "plugin", "plugin": "threshold_condition", "config": {"t": 1}},
            "condition type names a plugin",
        ),
        (
            {"type": "expression", "config": {"source": "a.x", "operator": "greater_than", "value": 1}},
            {"type": "expression", "config": {"source": "a.x", "operator": "gt", "value": 1}},
            "legacy operator names",
        ),
        (
            {"type": "expression", "config": {"source": "a.x", "operator": "regex", "value": "^a"}},
            {"type": "expression", "config": {"source": "a.x", "operator": "matches", "value": "^a"}},
            "legacy operator names",
        ),
        ({"expr": "result.ok"}, {"type": "cel", "expr": "result.ok"}, "condition without type"),
        ({"plugin": "p"}, {"type": "plugin", "plugin": "p"}, "condition without type"),
        ({"parameter": "dry_run"}, {"type": "parameter", "parameter": "dry_run"}, "condition without type"),
    ],
)
def test_condition_forms(written, canonical, feature):
    doc = _pipeline(
        parameters={"dry_run": False}, flow={"transitions": [{"from": "a", "to": "b", "condition": written}]}
    )
    result, out = _load(doc)
    assert out["flow"]["transitions"][0]["condition"] == canonical
    assert feature in result.dialect_features
    assert validate(result.pipeline) == []


@pytest.mark.parametrize(
    "condition",
    [{"type": "always"}, {"type": "cel", "expr": "true"}, {}, {"type": "plugin", "plugin": "p", "config": {}}],
)
def test_canonical_conditions_are_not_legacy(condition):
    result, out = _load(_pipeline(flow={"transitions": [{"from": "a", "to": "b", "condition": condition}]}))
    assert result.dialect == "canonical"
    assert out["flow"]["transitions"][0]["condition"] == condition


def test_graph_runner_schemas_and_metadata():
    doc = {
        "name": "demo",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
        "output_schema": {"type": "object"},
        "metadata": {"owner": "team", "count": 3},
        "steps": [
            {
                "id": "a",
                "plugin": "p",
                "input_schema": {},
                "output_schema": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
            }
        ],
    }
    result, out = _load(doc)
    assert out["parameter_specs"] == [
        {"name": "city", "required": True, "schema": {"type": "string"}},
        {"name": "days", "schema": {"type": "integer"}},
    ]
    assert out["labels"] == {"owner": "team"}
    assert out["steps"][0]["outputs"] == [{"name": "x", "required": True, "schema": {"type": "number"}}]
    dropped = sorted(f.path for f in result.findings if f.code == Code.LEGACY_FIELD_DROPPED)
    assert dropped == ["metadata.count", "output_schema", "steps[0].input_schema"]


@pytest.mark.parametrize(
    ("extra", "path", "code"),
    [
        (
            {"input_schema": {"type": "object", "properties": {}}, "parameter_specs": []},
            "input_schema",
            Code.LEGACY_FIELD_DROPPED,
        ),
        ({"input_schema": {"type": "object"}}, "input_schema", Code.LEGACY_FIELD_DROPPED),
        ({"metadata": {"a": "b"}, "labels": {}}, "metadata", Code.LEGACY_FIELD_DROPPED),
        ({"metadata": "text"}, "metadata", Code.INVALID_TYPE),
    ],
)
def test_legacy_schema_and_metadata_that_cannot_be_used(extra, path, code):
    result = load_definition(_pipeline(**extra))
    assert [(f.code, f.path) for f in result.findings if f.path == path] == [(code, path)]


def test_step_output_schema_is_dropped_when_outputs_are_given():
    step = {"id": "a", "plugin": "p", "outputs": ["x"], "output_schema": {"properties": {"y": {}}}}
    result, out = _load({"name": "demo", "steps": [step]})
    assert out["steps"][0]["outputs"] == [{"name": "x"}]
    assert [f.path for f in result.findings] == ["steps[0].output_schema"]


def test_plugins_dir_and_iteration_delay_are_dropped_with_warnings():
    result, out = _load(
        _pipeline(
            plugin_config={"plugins_dir": "./p", "enabled_plugins": ["x"]},
            loop_config={"max_iterations": 2, "iteration_delay_seconds": 1},
        )
    )
    assert out["plugin_config"] == {"enabled_plugins": ["x"]}
    assert out["loop_config"] == {"max_iterations": 2}
    assert {f.path for f in result.findings} == {"plugin_config.plugins_dir", "loop_config.iteration_delay_seconds"}
    assert all(f.code == Code.LEGACY_FIELD_DROPPED for f in result.findings)


def test_a_free_form_legacy_name_becomes_a_registry_name():
    result, out = _load(_pipeline(name="  My Great Pipeline! ", flow={"paths": [{"from": "a", "to": "b"}]}))
    assert out["name"] == "my-great-pipeline"
    assert "free-form name" in result.dialect_features
    assert [f.code for f in result.findings] == [Code.NAME_NORMALIZED]
    assert validate(result.pipeline) == []


def test_a_free_form_name_in_a_canonical_file_is_an_error_not_a_rewrite():
    result, out = _load(_pipeline(name="My Pipeline"))
    assert out["name"] == "My Pipeline"
    assert result.dialect == "canonical"
    finding = next(f for f in validate(result.pipeline) if f.code == Code.INVALID_NAME)
    assert finding.hint == "did you mean `my-pipeline`?"


def test_a_legacy_name_with_nothing_usable_is_left_for_validation():
    result, out = _load(_pipeline(name="123 !!!", flow={"paths": []}))
    assert out["name"] == "123 !!!"
    assert Code.INVALID_NAME in {f.code for f in validate(result.pipeline)}


def test_legacy_lists_with_broken_entries_are_findings():
    doc = {
        "name": "demo",
        "parameters": [{"name": "a"}, "b"],
        "steps": [{"id": "a", "type": "pass", "inputs": [{"name": "x", "source": "s"}, {"source": "y"}, 3]}],
    }
    result = load_definition(doc)
    assert [(f.code, f.path) for f in result.findings] == [
        (Code.MISSING_PARAMETER_NAME, "parameters[1]"),
        (Code.INVALID_VALUE, "steps[0].inputs[1]"),
        (Code.INVALID_VALUE, "steps[0].inputs[2]"),
    ]
    assert canonical_dict(result.pipeline)["steps"][0]["inputs"] == {"x": "s"}


@pytest.mark.parametrize(
    ("transition", "path"),
    [
        ({"from": "a", "from_step": "a", "to": "b"}, "flow.paths[0].from_step"),
        ({"from": "a", "to": "b", "to_step": "b"}, "flow.paths[0].to_step"),
    ],
)
def test_both_spellings_of_an_edge_end_conflict(transition, path):
    result = load_definition(_pipeline(flow={"paths": [transition]}))
    assert [(f.code, f.path) for f in result.findings] == [(Code.CONFLICTING_FIELDS, path)]


def test_wrong_shapes_in_legacy_places_are_reported_by_the_type_check():
    result = load_definition(_pipeline(flow={"paths": "a->b"}))
    assert [(f.code, f.path) for f in result.findings] == [(Code.INVALID_TYPE, "flow.paths")]
    result = load_definition(_pipeline(flow={"paths": ["a->b"]}))
    assert [(f.code, f.path) for f in result.findings] == [(Code.INVALID_TYPE, "flow.paths[0]")]


def test_validation_findings_on_a_legacy_file_get_source_lines():
    text = json.dumps(
        {
            "name": "demo",
            "parameters": [{"name": "topic", "default": "ai"}],
            "steps": [
                {
                    "name": "a",
                    "type": "pass",
                    "error_handling": {"retry": {"max_attempts": 0, "initial_delay": 1}},
                    "inputs": [{"name": "x", "source": "{{ parameters.topik }}"}],
                }
            ],
        },
        indent=2,
    )
    lines = [line.strip() for line in text.splitlines()]
    result = load_definition(text)
    found = {f.path: f.line for f in result.locate(validate(result.pipeline))}
    assert found["steps[0].retry.max_attempts"] == lines.index('"max_attempts": 0,') + 1
    assert found["steps[0].inputs.x"] == lines.index('"source": "{{ parameters.topik }}"') + 1
