"""Loading a definition: JSON text or an object in, a canonical `Pipeline` message out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from google.protobuf import json_format

from ia.pipeline.v1 import pipeline_pb2

from ..limits import DEFAULTS, ENV, limit_from_env
from . import paths
from .dialects import Normalizer, Origins
from .findings import Code, Finding, error
from .proto_json import Conformer
from .source import LineMap, parse

MAX_STEPS = limit_from_env(ENV["steps"], DEFAULTS.steps)
"""Most steps a definition may have (IA_MAX_STEPS)."""

CANONICAL = "canonical"
LEGACY = "legacy"


@dataclass
class LoadResult:
    """What `load_definition` found.

    `pipeline` is None when the source could not be read at all. Otherwise it holds
    everything that could be read; check `findings` for errors before using it.
    """

    pipeline: pipeline_pb2.Pipeline | None
    dialect: str
    dialect_features: list[str]
    findings: list[Finding]
    _origins: Origins | None = field(default=None, repr=False, compare=False)
    _lines: LineMap | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when loading found no errors (warnings allowed)."""
        return self.pipeline is not None and not any(f.is_error for f in self.findings)

    def locate(self, findings: list[Finding]) -> list[Finding]:
        """Give findings about the canonical pipeline (from `validate`) their line in the source.

        Paths stay canonical; only `line` is filled in, from the place in the text as
        written (legacy forms included). Without source text the findings come back as is.
        """
        if self._lines is None:
            return list(findings)
        origins = self._origins or Origins()
        return [
            f if f.line is not None else replace(f, line=self._lines.line_of(origins.source(f.path))) for f in findings
        ]


def load_definition(source: str | bytes | dict, *, source_name: str | None = None) -> LoadResult:
    """Read a pipeline definition in any supported dialect and normalize it to the canonical proto.

    `source` is JSON text (str or bytes) or an already-parsed object. `source_name`
    (a file name, say) is used in messages only. Never raises on bad input: every problem
    is a finding with a JSON path and, for text, a line.
    """
    lines: LineMap | None = None
    findings: list[Finding] = []
    if isinstance(source, (str, bytes)):
        parsed = parse(source)
        findings.extend(parsed.findings)
        doc, lines = parsed.value, parsed.lines
        if doc is None and findings:
            return _named(LoadResult(None, CANONICAL, [], findings), source_name)
    elif isinstance(source, dict):
        doc = source
    else:
        finding = error(
            paths.ROOT, Code.INVALID_TYPE, f"expected JSON text or an object, got a {type(source).__name__}"
        )
        return LoadResult(None, CANONICAL, [], [finding])

    if not isinstance(doc, dict):
        findings.append(error(paths.ROOT, Code.INVALID_TYPE, "the definition must be a JSON object"))
        return _finish(LoadResult(None, CANONICAL, [], findings, None, lines), source_name)
    steps = doc.get("steps")
    if isinstance(steps, list) and len(steps) > MAX_STEPS:
        findings.append(
            error(
                "steps",
                Code.TOO_MANY_STEPS,
                f"the pipeline has {len(steps)} steps; the limit is {MAX_STEPS} (IA_MAX_STEPS)",
                "split it into smaller pipelines joined by `pipeline` steps",
            )
        )
        return _finish(LoadResult(None, CANONICAL, [], findings, None, lines), source_name)

    normalizer = Normalizer()
    conformer = Conformer(normalizer.origins.source)
    try:
        canonical = normalizer.pipeline(doc)
        clean = conformer.message(canonical, pipeline_pb2.Pipeline.DESCRIPTOR, paths.ROOT) or {}
        pipeline = json_format.ParseDict(clean, pipeline_pb2.Pipeline())
    except (RecursionError, json_format.ParseError):
        findings.extend(normalizer.findings + conformer.findings)
        findings.append(error(paths.ROOT, Code.INVALID_VALUE, "the definition is nested too deeply"))
        return _finish(LoadResult(None, CANONICAL, [], findings, normalizer.origins, lines), source_name)
    findings.extend(normalizer.findings)
    findings.extend(conformer.findings)
    dialect = LEGACY if normalizer.features else CANONICAL
    result = LoadResult(pipeline, dialect, list(normalizer.features), findings, normalizer.origins, lines)
    return _finish(result, source_name)


def _finish(result: LoadResult, source_name: str | None) -> LoadResult:
    if result._lines is not None and result.findings:
        result.findings = [
            f if f.line is not None else replace(f, line=result._lines.line_of(f.path)) for f in result.findings
        ]
    return _named(result, source_name)


def _named(result: LoadResult, source_name: str | None) -> LoadResult:
    if source_name:
        result.findings = [
            replace(f, message=f"{source_name}: {f.message}") if f.path == paths.ROOT else f for f in result.findings
        ]
    return result
