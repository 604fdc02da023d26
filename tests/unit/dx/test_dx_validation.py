"""Mistakes validation now catches: fields a condition reads, CEL paths, joins that never run, units."""

from __future__ import annotations

import pytest

from ia_modules.definition import Code, Severity, load_definition, validate
from ia_modules.definition.cel_paths import member_paths


def _findings(steps, transitions=(), **extra):
    document = {"name": "demo", "steps": steps, "flow": {"transitions": list(transitions)}, **extra}
    loaded = load_definition(document)
    findings = list(loaded.findings)
    if loaded.pipeline is not None:
        findings += validate(loaded.pipeline)
    return findings


def _codes(*args, **kwargs):
    return [(f.code, f.path) for f in _findings(*args, **kwargs)]


def _pass(step_id, **fields):
    return {"id": step_id, "type": "pass", **fields}


def _edge(source, target, condition=None, **fields):
    return {"from": source, "to": target, **({"condition": condition} if condition else {}), **fields}


def _expr(source, operator, value):
    return {"type": "expression", "config": {"source": source, "operator": operator, "value": value}}


def _cel(text):
    return {"type": "cel", "expr": text}


MILLISECONDS = "the unit is seconds, not milliseconds"
SCORED = _pass("a", outputs=[{"name": "score"}, {"name": "items"}])


class TestFieldsAConditionReads:
    def test_result_field_the_source_never_outputs(self):
        (finding,) = _findings([SCORED, _pass("b")], [_edge("a", "b", _expr("result.scroe", ">", 1))])
        assert (finding.code, finding.path, finding.hint) == (
            Code.UNKNOWN_OUTPUT,
            "flow.transitions[0].condition.config.source",
            "did you mean `score`?",
        )
        assert "which step `a` (where the transition starts) does not output" in finding.message

    def test_undeclared_outputs_are_not_guessed(self):
        assert _findings([_pass("a"), _pass("b")], [_edge("a", "b", _expr("result.anything", "==", 1))]) == []
        assert _findings([SCORED, _pass("b")], [_edge("a", "b", _expr("result.score", "gte", 1))]) == []

    @pytest.mark.parametrize(
        ("expr", "code", "hint"),
        [
            ("result.scroe > 0.5", Code.UNKNOWN_OUTPUT, "did you mean `score`?"),
            ("size(steps.a.itmes) > 0", Code.UNKNOWN_OUTPUT, "did you mean `items`?"),
            ("steps.aa.score > 1", Code.UNKNOWN_STEP, "did you mean `a`?"),
            ("parameters.thresold < 1", Code.UNKNOWN_PARAMETER, "did you mean `threshold`?"),
            ("steps.c.x == 1", Code.STEP_NOT_UPSTREAM, "add a transition path from `c` to `a`, or read another step"),
        ],
    )
    def test_cel_paths_are_checked_like_templates(self, expr, code, hint):
        steps = [SCORED, _pass("b"), _pass("c")]
        transitions = [_edge("a", "b", _cel(expr)), _edge("b", "c")]
        findings = _findings(steps, transitions, parameters={"threshold": 1})
        assert [(f.code, f.path, f.hint) for f in findings] == [(code, "flow.transitions[0].condition.expr", hint)]

    def test_cel_that_reads_correctly_is_quiet(self):
        expr = 'result.items.all(i, i.score > parameters.threshold) && has(result.score) && "result.nope" != ""'
        findings = _findings([SCORED, _pass("b")], [_edge("a", "b", _cel(expr))], parameters={"threshold": 1})
        assert findings == []


class TestJoinsThatNeverRun:
    def _if_else(self, first, second, join_inputs, **extra):
        steps = [_pass("a"), _pass("x"), _pass("y"), _pass("j", inputs=join_inputs)]
        transitions = [_edge("a", "x", first), _edge("a", "y", second), _edge("x", "j"), _edge("y", "j")]
        return _findings(steps, transitions, **extra)

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            (_expr("result.ok", "equals", True), _expr("result.ok", "not_equals", True)),
            (_expr("result.n", ">", 5), _expr("result.n", "<=", 5)),
            (_expr("result.n", "gte", 5), _expr("result.n", "lt", 5)),
            (_expr("result.kind", "==", "a"), _expr("result.kind", "==", "b")),
            (_expr("result.kind", "in", ["a"]), _expr("result.kind", "not_in", ["a"])),
            (_cel("result.ok"), _cel("!result.ok")),
            (_cel("result.ok && result.n > 1"), _cel("!(result.ok && result.n > 1)")),
            (_cel("result.status == 200"), _cel("result.status != 200")),
            (_cel("result.approved == true"), _cel("result.approved == false")),
        ],
    )
    def test_reading_both_arms_of_an_if_else(self, first, second):
        (finding,) = self._if_else(first, second, {"p": "{{ x.v }}", "q": "{{ steps.y.output.v }}"})
        assert (finding.code, finding.path) == (Code.JOIN_NEVER_RUNS, "steps[3].inputs.q")
        assert finding.severity is Severity.ERROR
        assert "`x` and `y` are on branches that exclude each other (after `a`:" in finding.message
        assert finding.hint.startswith("read only one branch here (the other read is at steps[3].inputs.p)")

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            (None, None),
            (_expr("result.n", "gte", 5), _expr("result.n", "lte", 5)),
            (_expr("result.n", "gt", 5), _expr("result.m", "lte", 5)),
            (_expr("result.kind", "==", "{{ parameters.a }}"), _expr("result.kind", "==", "b")),
            (_cel("result.ok"), _cel("result.fine")),
            (_cel("result.n > 1"), _cel("result.n > 2")),
        ],
    )
    def test_branches_that_may_both_run_are_fine(self, first, second):
        assert self._if_else(first, second, {"p": "{{ x.v }}", "q": "{{ y.v }}"}, parameters={"a": 1}) == []

    def test_reading_one_arm_or_the_branch_point_is_fine(self):
        first, second = _cel("result.ok"), _cel("!result.ok")
        assert self._if_else(first, second, {"p": "{{ x.v }}", "q": "{{ a.v }}", "r": "{{ x.w }}"}) == []

    def test_a_step_reachable_another_way_is_not_exclusive(self):
        steps = [_pass("a"), _pass("x"), _pass("y"), _pass("j", inputs={"p": "{{ x.v }}", "q": "{{ y.v }}"})]
        transitions = [
            _edge("a", "x", _cel("result.ok")),
            _edge("a", "y", _cel("!result.ok")),
            _edge("x", "y"),
            _edge("x", "j"),
            _edge("y", "j"),
        ]
        assert _findings(steps, transitions) == []

    def test_a_branch_point_in_a_loop_may_take_both_arms_over_time(self):
        steps = [_pass("a"), _pass("x"), _pass("y"), _pass("j", inputs={"p": "{{ x.v }}", "q": "{{ y.v }}"})]
        transitions = [
            _edge("a", "x", _cel("result.ok")),
            _edge("a", "y", _cel("!result.ok")),
            _edge("x", "j"),
            _edge("y", "j"),
            _edge("j", "a", max_iterations=3),
        ]
        assert [c for c, _p in _codes(steps, transitions)] == []

    def test_the_runs_outputs_reading_both_arms(self):
        steps = [_pass("a"), _pass("x"), _pass("y")]
        transitions = [_edge("a", "x", _cel("result.ok")), _edge("a", "y", _cel("!result.ok"))]
        findings = _findings(steps, transitions, outputs={"left": "{{ x.v }}", "right": "{{ y.v }}"})
        assert [(f.code, f.path) for f in findings] == [(Code.JOIN_NEVER_RUNS, "outputs.right")]
        assert findings[0].message.startswith("the run's outputs reads `{{ x.v }}` and `{{ y.v }}`")


class TestUnits:
    @pytest.mark.parametrize(
        ("retry", "path", "hint"),
        [
            ({"initial_delay_s": 1000}, "initial_delay_s", "did you mean 1 seconds? " + MILLISECONDS),
            ({"max_delay_s": 30000}, "max_delay_s", "did you mean 30 seconds? " + MILLISECONDS),
        ],
    )
    def test_retry_delays_in_milliseconds_are_warned_about(self, retry, path, hint):
        (finding,) = _findings([_pass("a", retry={"max_attempts": 3, **retry})])
        assert (finding.code, finding.path, finding.severity, finding.hint) == (
            Code.SUSPICIOUS_UNIT,
            f"steps[0].retry.{path}",
            Severity.WARNING,
            hint,
        )

    def test_reasonable_delays_pass(self):
        assert _findings([_pass("a", retry={"max_attempts": 3, "initial_delay_s": 300, "max_delay_s": 3600})]) == []

    def test_negative_delays_are_errors(self):
        assert _codes([_pass("a", retry={"max_attempts": 3, "initial_delay_s": -2})]) == [
            (Code.INVALID_RETRY, "steps[0].retry.initial_delay_s")
        ]

    @pytest.mark.parametrize(
        ("text", "hint"),
        [
            ("5s", "write 5: the value is a plain number of seconds"),
            ("500 ms", "write 0.5: the value is a plain number of seconds"),
            ("2 minutes", "write 120: the value is a plain number of seconds"),
            ("1h", "write 3600: the value is a plain number of seconds"),
            ("soon", "write the number of seconds, e.g. 5"),
        ],
    )
    def test_a_duration_written_as_text_gets_the_number_to_write(self, text, hint):
        (finding,) = _findings([_pass("a", timeout_s=text)])
        assert (finding.code, finding.path, finding.hint) == (Code.INVALID_TYPE, "steps[0].timeout_s", hint)

    def test_text_in_another_number_field_gets_no_seconds_hint(self):
        (finding,) = _findings([_pass("a", retry={"max_attempts": 3, "jitter": "0.1"})])
        assert (finding.code, finding.hint) == (Code.INVALID_TYPE, None)


@pytest.mark.parametrize(
    ("expr", "paths"),
    [
        ("result.score > 0.8", [("result", "score")]),
        ("steps.fetch.items.size() > 0", [("steps", "fetch", "items")]),
        ("size(result.items) > 0 && result.items.exists(i, i.ok)", [("result", "items")]),
        ('"result.x" == parameters . mode', [("parameters", "mode")]),
        ("r'steps.a.b' + result['x'] + run.id", [("run", "id")]),
        ("x.result.y == item.result", []),
        ("'''result.a\nresult.b''' == \"\"", []),
    ],
)
def test_member_paths(expr, paths):
    assert member_paths(expr) == paths
