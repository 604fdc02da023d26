"""Semantic diff: by step id and transition ends, field by field, for people and scripts."""

from __future__ import annotations

import json

from dx_support import CORPUS, GOLDEN, load

from ia_modules.definition import canonical_json, load_definition
from ia_modules.pipeline_diff import ADDED, CHANGED, REMOVED, Change, diff, to_document, to_text

V1 = GOLDEN / "diff" / "orders-v1.json"
V2 = GOLDEN / "diff" / "orders-v2.json"


def test_two_revisions_differ_step_by_step_and_field_by_field():
    changes = diff(load(V1), load(V2))
    found = {(c.kind, c.path): (c.before, c.after) for c in changes}
    assert found == {
        (CHANGED, "version"): ("1.0", "1.1"),
        (CHANGED, "parameters.threshold"): (100, 500),
        (ADDED, "parameters.currency"): (None, "EUR"),
        (CHANGED, "parameter_specs[amount].required"): (True, None),
        (CHANGED, "steps[check].retry.max_attempts"): (3, 5),
        (CHANGED, "steps[check].timeout_s"): (None, 30),
        (CHANGED, "steps[review].config.values.decision"): ("review", "needs review"),
        (REMOVED, "steps[archive]"): ({"id": "archive", "type": "pass"}, None),
        (ADDED, "steps[notify]"): (
            None,
            {"id": "notify", "plugin": "email", "inputs": {"to": "sales@example.com"}},
        ),
        (CHANGED, "flow.transitions[check -> review].condition"): (
            {
                "type": "expression",
                "config": {"operator": "gte", "source": "result.amount", "value": "{{ parameters.threshold }}"},
            },
            {"type": "cel", "expr": "result.amount >= parameters.threshold"},
        ),
        (REMOVED, "flow.transitions[approve -> archive]"): ({"from": "approve", "to": "archive"}, None),
        (ADDED, "flow.transitions[review -> notify]"): (None, {"from": "review", "to": "notify"}),
        (ADDED, "outputs.decision"): (None, "{{ review.decision }}"),
    }
    assert [c.area for c in changes] == sorted(
        (c.area for c in changes), key=["pipeline", "parameters", "steps", "flow", "error_handling", "outputs"].index
    )


def test_text_and_json_match_the_golden_files(golden):
    changes = diff(load(V1), load(V2))
    golden("diff/orders.txt", to_text(changes, "orders-v1.json", "orders-v2.json"))
    document = to_document(changes, "orders-v1.json", "orders-v2.json")
    golden("diff/orders.json", json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    assert document["identical"] is False
    assert document["summary"] == {"added": 4, "removed": 2, "changed": 7}


def test_a_legacy_file_and_its_upgraded_form_do_not_differ():
    for path in sorted((CORPUS / "valid").glob("legacy_*.json")):
        legacy = load(path)
        upgraded = load_definition(canonical_json(legacy)).pipeline
        assert diff(legacy, upgraded) == [], path.name
    assert to_text([], "a.json", "b.json") == "a.json and b.json define the same pipeline\n"
    assert to_document([], "a", "b")["identical"] is True


def test_reordered_steps_and_transitions_are_no_change():
    definition = json.loads(V1.read_text())
    shuffled = dict(definition, steps=definition["steps"][::-1])
    shuffled["flow"] = dict(definition["flow"], transitions=definition["flow"]["transitions"][::-1])
    assert diff(load(definition), load(shuffled)) == []


def test_two_transitions_between_the_same_steps_are_told_apart_by_order():
    steps = [{"id": "a", "type": "pass"}, {"id": "b", "type": "pass"}]
    one = {"name": "p", "steps": steps, "flow": {"transitions": [{"from": "a", "to": "b"}]}}
    two = {
        "name": "p",
        "steps": steps,
        "flow": {"transitions": [{"from": "a", "to": "b"}, {"from": "a", "to": "b", "name": "again"}]},
    }
    assert diff(load(one), load(two)) == [
        Change(ADDED, "flow", "flow.transitions[a -> b #2]", None, {"from": "a", "to": "b", "name": "again"})
    ]


def test_renamed_pipeline_and_changed_error_policy():
    base = {"name": "p", "steps": [{"id": "a", "type": "pass"}]}
    other = dict(base, name="q", error_handling={"timeout_s": 60}, loop_config={"max_iterations": 2})
    changes = diff(load(base), load(other))
    assert [(c.area, c.kind, c.path) for c in changes] == [
        ("pipeline", CHANGED, "name"),
        ("flow", ADDED, "loop_config"),
        ("error_handling", ADDED, "error_handling"),
    ]
    text = to_text(changes, "p.json", "q.json")
    assert '  ~ name: "p" -> "q"\n' in text
    assert text.endswith("3 changes: 2 added, 0 removed, 1 changed\n")
