"""Fixtures of the developer-experience tests: corpus definitions and golden files.

A golden file holds the exact output a test expects. After an intended change of
output, run the tests once with UPDATE_GOLDEN=1 to rewrite them, and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from dx_support import CORPUS, GOLDEN, load

from ia.pipeline.v1 import pipeline_pb2


@pytest.fixture
def full() -> pipeline_pb2.Pipeline:
    """The corpus definition that uses every feature."""
    return load(CORPUS / "valid" / "canonical_full.json")


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """`golden(name, text)` asserts `text` equals tests/golden/<name> (UPDATE_GOLDEN=1 rewrites it)."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 to write it"
        assert text == path.read_text(encoding="utf-8")

    return check
