"""The definition parser and validator, fed random documents and random text: they
never raise, they answer with findings (errors carry a code and a path) or success."""

from __future__ import annotations

import json

from fuzz_strategies import DEFINITION, JSON
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ia_modules.definition import Severity, load_definition, validate

FUZZ = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _check(result) -> None:
    for finding in result.findings:
        assert finding.code and isinstance(finding.path, str) and finding.message
    if result.pipeline is None:
        assert any(f.severity is Severity.ERROR for f in result.findings)
        return
    for finding in validate(result.pipeline) + validate(result.pipeline, strict=True):
        assert finding.code and isinstance(finding.path, str) and finding.message


@FUZZ
@given(DEFINITION)
def test_definition_shaped_documents_give_findings_or_a_pipeline(document):
    _check(load_definition(document))


@FUZZ
@given(JSON)
def test_any_json_value_gives_findings_or_a_pipeline(value):
    _check(load_definition(json.dumps(value, allow_nan=True)))


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_random_bytes_and_text_give_findings(source):
    _check(load_definition(source))


@FUZZ
@given(DEFINITION)
def test_documents_as_text_with_mangled_tails_give_findings(document):
    text = json.dumps(document, allow_nan=True)
    for cut in (len(text) // 2, len(text) - 1):
        _check(load_definition(text[:cut]))
