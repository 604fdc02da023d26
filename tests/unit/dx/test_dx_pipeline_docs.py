"""Markdown docs: description, Mermaid diagram, and tables of parameters, steps, outputs, error policy."""

from __future__ import annotations

from dx_support import CORPUS, load

from ia_modules.diagram import diagram, to_mermaid
from ia_modules.pipeline_docs import markdown


def test_docs_of_the_full_definition_match_the_golden_file(full, golden):
    golden("docs/canonical_full.md", markdown(full))


def test_docs_have_every_section_and_the_diagram(full):
    text = markdown(full)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# research-digest",
        "## Flow",
        "## Parameters",
        "## Steps",
        "## Transitions",
        "## Outputs",
        "## Error handling",
    ]
    assert "```mermaid\n" + to_mermaid(diagram(full)) + "```" in text
    assert "| `topic` | string | yes | `ai` | What to look for |" in text
    assert "| `fetch`<br>Fetch articles | plugin: http_request |" in text


def test_the_error_policy_of_each_step_says_where_it_comes_from(full):
    rows = {line.split(" | ")[0]: line for line in markdown(full).splitlines() if line.startswith("| `")}
    assert rows["| `fetch`"].endswith("| 30s | route to `report_failure` |   |")
    assert rows["| `score`"].endswith('| use fallback `{"score": 0}` | retry, timeout |')
    assert "| 2 attempts, first delay 1s | 120s | the run fails | retry, timeout |" in rows["| `review`"]


def test_a_pipeline_default_error_route_and_continue_on_error():
    pipeline = load(
        {
            "name": "routes",
            "steps": [
                {"id": "a", "type": "pass"},
                {"id": "b", "type": "pass", "continue_on_error": True},
                {"id": "handler", "type": "pass"},
                {"id": "after_handler", "type": "pass"},
            ],
            "flow": {"transitions": [{"from": "a", "to": "b"}, {"from": "handler", "to": "after_handler"}]},
            "error_handling": {"on_error": "handler"},
        }
    )
    text = markdown(pipeline)
    assert "Pipeline: a failed step without its own policy routes to `handler`." in text
    assert "| `a` | no retry | none | route to `handler` | on error |" in text
    assert "| `b` | no retry | none | continue with the error as output |   |" in text
    assert "| `handler` | no retry | none | the run fails |   |" in text
    assert "| `after_handler` | no retry | none | the run fails |   |" in text


def test_table_cells_escape_pipes_and_a_bare_pipeline_documents():
    pipeline = load(
        {
            "name": "bare",
            "description": "a | b",
            "steps": [{"id": "only", "type": "pass", "config": {"values": {"x": "a|b"}}}],
        }
    )
    text = markdown(pipeline)
    assert "This pipeline takes no parameters." in text
    assert "No transitions: only the first step runs." in text
    assert "The run's result is the output of the last step that ran." in text
    assert "| `only` | pass | the previous step's output |   |" in text
    for path in sorted((CORPUS / "valid").glob("*.json")):
        assert markdown(load(path)).startswith("# ")
