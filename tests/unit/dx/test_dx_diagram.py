"""Diagrams: DOT and Mermaid text (golden files), run colouring, and real PNG/SVG images."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ElementTree

import pytest
from dx_support import CORPUS, load

from ia.executor.v1 import message_pb2
from ia_modules import diagram as diagrams
from ia_modules.diagram import DiagramError, StepActivity, diagram, render, run_step_states, to_dot, to_mermaid

RUN = [
    {"step_id": "fetch", "iteration": 0, "state": "SUCCEEDED"},
    {"step_id": "summarize", "iteration": 0, "state": "SUCCEEDED"},
    {"step_id": "score", "iteration": 0, "state": "SUCCEEDED"},
    {"step_id": "review", "iteration": 0, "state": "SUCCEEDED"},
    {"step_id": "fetch", "iteration": 1, "state": "FAILED"},
    {"step_id": "report_failure", "iteration": 0, "state": "SUCCEEDED"},
    {"step_id": "skip", "iteration": 0, "state": "SKIPPED"},
]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert (length, chunk) == (13, b"IHDR")
    return struct.unpack(">II", data[16:24])


def test_dot_of_every_step_kind_and_condition_matches_the_golden_file(full, golden):
    golden("visualize/canonical_full.dot", to_dot(diagram(full)))


def test_mermaid_matches_the_golden_file(full, golden):
    golden("visualize/canonical_full.mmd", to_mermaid(diagram(full)))


def test_each_kind_has_its_own_shape_and_each_edge_its_condition(full):
    dot = to_dot(diagram(full))
    shapes = {
        "fetch": "shape=box",
        "summarize": "shape=box3d",
        "review": "shape=hexagon",
        "cool_down": "shape=ellipse",
        "publish": "shape=component",
    }
    for step, shape in shapes.items():
        assert f'"{step}" [label="{step}\\n' in dot and shape in dot.split(f'"{step}" [', 1)[1].split("\n", 1)[0]
    assert '"fetch" -> "summarize" [label="size(result.items) > 0"' in dot
    assert '"cool_down" -> "publish" [label="parameters.notify", color="#6a1b9a", style=dashed]' in dot
    assert '"fetch" -> "report_failure" [label="on error", color="#c62828", style=dashed]' in dot
    assert "at most 3 times" in dot


def test_a_run_colours_steps_by_state_and_marks_the_path(full, golden):
    states = run_step_states(RUN)
    assert states["fetch"] == StepActivity("FAILED", 2, frozenset({"SUCCEEDED", "FAILED"}))
    assert states["skip"] == StepActivity("SKIPPED", 0, frozenset({"SKIPPED"}))
    picture = diagram(full, step_states=states)
    taken = {(e.source, e.target) for e in picture.edges if e.taken}
    assert taken == {
        ("fetch", "summarize"),
        ("summarize", "score"),
        ("score", "review"),
        ("review", "fetch"),
        ("fetch", "report_failure"),
    }
    assert next(n for n in picture.nodes if n.id == "publish").state == "PENDING"
    golden("visualize/canonical_full_run.dot", to_dot(picture))
    mermaid = to_mermaid(picture)
    assert "class step_fetch failed" in mermaid and "classDef skipped" in mermaid
    assert [line.split()[1] for line in mermaid.splitlines() if "linkStyle" in line] == ["1", "2", "3", "6", "9"]


def test_run_states_read_step_run_messages():
    steps = [
        message_pb2.StepRun(step_id="a", iteration=0, state=message_pb2.STEP_STATE_SUCCEEDED),
        message_pb2.StepRun(step_id="a", iteration=1, state=message_pb2.STEP_STATE_RUNNING),
        message_pb2.StepRun(step_id="b", iteration=0, state=message_pb2.STEP_STATE_WAITING),
    ]
    states = run_step_states(steps)
    assert (states["a"].state, states["a"].runs, states["b"].state) == ("RUNNING", 2, "WAITING")


def test_labels_are_escaped_for_dot_and_mermaid():
    pipeline = load(
        {
            "name": "quotes",
            "steps": [
                {"id": "a", "type": "pass"},
                {"id": "end", "type": "human_input", "human_input": {"prompt": 'Say "yes"\\ or no', "ui_schema": {}}},
            ],
            "flow": {
                "transitions": [
                    {"from": "a", "to": "end", "condition": {"type": "cel", "expr": 'result.word == "yes"'}}
                ]
            },
        }
    )
    dot = to_dot(diagram(pipeline))
    assert 'label="result.word == \\"yes\\""' in dot
    assert 'Say \\"yes\\"\\\\ or no' in dot
    mermaid = to_mermaid(diagram(pipeline))
    assert 'step_a -->|"result.word == #quot;yes#quot;"| step_end' in mermaid
    assert "\n  end" not in mermaid


@pytest.fixture
def dot_source(full) -> str:
    if diagrams.shutil.which("dot") is None:
        pytest.fail("Graphviz `dot` is not installed (apt-get install graphviz); the Makefile installs it")
    return to_dot(diagram(full, step_states=run_step_states(RUN)))


def test_a_png_rendered_from_the_dot_is_a_real_image(dot_source):
    data = render(dot_source, "png")
    width, height = _png_size(data)
    assert 300 < width < 4000 and 300 < height < 4000


def test_an_svg_rendered_from_the_dot_parses_with_every_step(dot_source, full):
    root = ElementTree.fromstring(render(dot_source, "svg"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert float(root.get("width").removesuffix("pt")) > 300
    titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert {step.id for step in full.steps} <= titles
    assert "fetch&#45;&gt;report_failure" in titles or "fetch->report_failure" in titles


def test_render_explains_a_missing_graphviz(monkeypatch, full):
    monkeypatch.setattr(diagrams.shutil, "which", lambda _name: None)
    with pytest.raises(DiagramError, match="apt-get install graphviz"):
        render(to_dot(diagram(full)), "svg")


def test_render_reports_what_dot_refused():
    with pytest.raises(DiagramError, match="`dot` failed: "):
        render("digraph { a -> }", "svg")
    with pytest.raises(DiagramError, match="choose one of png, svg"):
        render("digraph {}", "gif")


def test_every_valid_corpus_file_draws(golden):
    for path in sorted((CORPUS / "valid").glob("*.json")):
        picture = diagram(load(path))
        assert to_dot(picture).startswith("digraph ")
        assert to_mermaid(picture).startswith("flowchart TD\n")
        assert picture.to_dict()["nodes"]
