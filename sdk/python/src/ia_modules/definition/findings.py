"""What the definition model reports: findings with a JSON path, a stable code and a hint."""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass, replace

from ia.pipeline.v1 import pipeline_pb2


class Severity(enum.Enum):
    """How bad a finding is. Errors make a definition invalid; warnings do not (unless strict)."""

    ERROR = "error"
    WARNING = "warning"


class Code(enum.StrEnum):
    """The stable codes of findings. Clients and tests match on these, never on messages."""

    # Reading the document.
    DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
    TOO_MANY_STEPS = "TOO_MANY_STEPS"
    INVALID_ENCODING = "INVALID_ENCODING"
    INVALID_JSON = "INVALID_JSON"
    DUPLICATE_KEY = "DUPLICATE_KEY"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    INVALID_TYPE = "INVALID_TYPE"
    INVALID_VALUE = "INVALID_VALUE"
    CONFLICTING_FIELDS = "CONFLICTING_FIELDS"
    LEGACY_FIELD_DROPPED = "LEGACY_FIELD_DROPPED"
    NAME_NORMALIZED = "NAME_NORMALIZED"
    # The pipeline and its steps.
    MISSING_NAME = "MISSING_NAME"
    INVALID_NAME = "INVALID_NAME"
    NO_STEPS = "NO_STEPS"
    MISSING_STEP_ID = "MISSING_STEP_ID"
    INVALID_STEP_ID = "INVALID_STEP_ID"
    DUPLICATE_STEP_ID = "DUPLICATE_STEP_ID"
    MISSING_STEP_KIND = "MISSING_STEP_KIND"
    AMBIGUOUS_STEP_KIND = "AMBIGUOUS_STEP_KIND"
    UNKNOWN_STEP_TYPE = "UNKNOWN_STEP_TYPE"
    INCOMPLETE_MODULE_STEP = "INCOMPLETE_MODULE_STEP"
    MISSING_SETTING = "MISSING_SETTING"
    INVALID_SETTING = "INVALID_SETTING"
    UNEXPECTED_SETTINGS = "UNEXPECTED_SETTINGS"
    INVALID_UI_SCHEMA = "INVALID_UI_SCHEMA"
    INVALID_SCHEMA = "INVALID_SCHEMA"
    INVALID_DEFAULT = "INVALID_DEFAULT"
    MISSING_PARAMETER_NAME = "MISSING_PARAMETER_NAME"
    DUPLICATE_PARAMETER = "DUPLICATE_PARAMETER"
    MISSING_OUTPUT_NAME = "MISSING_OUTPUT_NAME"
    DUPLICATE_OUTPUT = "DUPLICATE_OUTPUT"
    # The graph.
    UNKNOWN_STEP = "UNKNOWN_STEP"
    UNREACHABLE_STEP = "UNREACHABLE_STEP"
    UNBOUNDED_CYCLE = "UNBOUNDED_CYCLE"
    INVALID_LOOP_BOUND = "INVALID_LOOP_BOUND"
    JOIN_NEVER_RUNS = "JOIN_NEVER_RUNS"
    # Templates.
    INVALID_TEMPLATE = "INVALID_TEMPLATE"
    UNKNOWN_PARAMETER = "UNKNOWN_PARAMETER"
    STEP_NOT_UPSTREAM = "STEP_NOT_UPSTREAM"
    UNKNOWN_OUTPUT = "UNKNOWN_OUTPUT"
    ITEM_OUTSIDE_MAP = "ITEM_OUTSIDE_MAP"
    # Conditions.
    UNKNOWN_CONDITION_TYPE = "UNKNOWN_CONDITION_TYPE"
    INCOMPLETE_CONDITION = "INCOMPLETE_CONDITION"
    UNKNOWN_OPERATOR = "UNKNOWN_OPERATOR"
    INVALID_CEL = "INVALID_CEL"
    # Error policy.
    INVALID_RETRY = "INVALID_RETRY"
    INVALID_TIMEOUT = "INVALID_TIMEOUT"
    SUSPICIOUS_UNIT = "SUSPICIOUS_UNIT"
    UNUSED_ERROR_ROUTE = "UNUSED_ERROR_ROUTE"


_TO_PROTO = {
    Severity.ERROR: pipeline_pb2.FINDING_SEVERITY_ERROR,
    Severity.WARNING: pipeline_pb2.FINDING_SEVERITY_WARNING,
}
_FROM_PROTO = {value: key for key, value in _TO_PROTO.items()}


@dataclass(frozen=True)
class Finding:
    """One problem in a definition, located by a JSON path (and a source line when known)."""

    severity: Severity
    path: str
    message: str
    code: str
    hint: str | None = None
    line: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_proto(self) -> pipeline_pb2.Finding:
        """The wire form, `ia.pipeline.v1.Finding`."""
        return pipeline_pb2.Finding(
            severity=_TO_PROTO[self.severity],
            path=self.path,
            message=self.message,
            hint=self.hint or "",
            code=str(self.code),
            line=self.line or 0,
        )

    @classmethod
    def from_proto(cls, finding: pipeline_pb2.Finding) -> Finding:
        """Read the wire form back; an unspecified severity counts as an error."""
        return cls(
            severity=_FROM_PROTO.get(finding.severity, Severity.ERROR),
            path=finding.path,
            message=finding.message,
            code=finding.code,
            hint=finding.hint or None,
            line=finding.line or None,
        )

    def __str__(self) -> str:
        where = f"{self.path} (line {self.line})" if self.line else self.path
        text = f"{self.severity.value}: {where}: {self.message} [{self.code}]"
        return f"{text} - {self.hint}" if self.hint else text


def error(path: str, code: Code, message: str, hint: str | None = None) -> Finding:
    return Finding(Severity.ERROR, path, message, code, hint)


def warning(path: str, code: Code, message: str, hint: str | None = None) -> Finding:
    return Finding(Severity.WARNING, path, message, code, hint)


def as_errors(findings: list[Finding]) -> list[Finding]:
    """Strict mode: every warning becomes an error."""
    return [replace(f, severity=Severity.ERROR) if not f.is_error else f for f in findings]


class DefinitionError(Exception):
    """Raised by helpers that need a valid definition; carries the findings that make it invalid."""

    def __init__(self, findings: list[Finding], message: str | None = None):
        self.findings = list(findings)
        errors = [f for f in self.findings if f.is_error] or self.findings
        if message is None:
            message = "invalid pipeline definition"
            if errors:
                message += ": " + str(errors[0])
                if len(errors) > 1:
                    message += f" (and {len(errors) - 1} more)"
        super().__init__(message)


def did_you_mean(word: str, choices) -> str | None:
    """A "did you mean" hint naming the closest of `choices`, or None when nothing is close."""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
