"""The pipeline definition model: load any dialect, validate, and write the canonical form.

    result = load_definition(text)            # JSON text, bytes or a dict; never raises
    findings = result.findings + validate(result.pipeline)
    text = canonical_json(result.pipeline)    # what `ia-modules format --upgrade` writes

The canonical form is the proto3 JSON of `ia.pipeline.v1.Pipeline` (DESIGN.md §4).
Findings carry a JSON path into the definition, a stable code (see `Code`) and a hint.
"""

from .canonical import canonical_dict, canonical_json, content_hash
from .findings import Code, DefinitionError, Finding, Severity
from .loader import MAX_STEPS, LoadResult, load_definition
from .source import MAX_DOCUMENT_BYTES
from .validation import validate

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_STEPS",
    "Code",
    "DefinitionError",
    "Finding",
    "LoadResult",
    "Severity",
    "canonical_dict",
    "canonical_json",
    "content_hash",
    "load_definition",
    "validate",
]
