"""Shared by the developer-experience unit tests: where the corpus and goldens are, loading."""

from __future__ import annotations

from pathlib import Path

from ia.pipeline.v1 import pipeline_pb2
from ia_modules.definition import load_definition

TESTS = Path(__file__).parents[2]
CORPUS = TESTS / "corpus"
GOLDEN = TESTS / "golden"


def load(source: Path | str | dict) -> pipeline_pb2.Pipeline:
    """A valid definition (a file, or a dict) as a pipeline."""
    text = source if isinstance(source, dict) else Path(source).read_text(encoding="utf-8")
    result = load_definition(text)
    assert result.ok, [str(f) for f in result.findings]
    return result.pipeline
