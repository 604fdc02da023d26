"""Findings in the formats CI systems read: SARIF 2.1.0 and GitHub Actions annotations.

    document = sarif([("pipelines/etl.json", findings)])   # for code scanning
    text = github_annotations([("pipelines/etl.json", findings)])

Both take the findings of each file as `validate` gives them (with lines from
`LoadResult.locate`), and keep the JSON path, the code and the hint.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ia_modules.definition import Finding, Severity

__all__ = ["SARIF_SCHEMA", "github_annotations", "sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL = "ia-modules"


def _message(finding: Finding) -> str:
    where = f"{finding.path}: " if finding.path and finding.path != "$" else ""
    hint = f" ({finding.hint})" if finding.hint else ""
    return f"{where}{finding.message}{hint}"


def sarif(files: Iterable[tuple[str, list[Finding]]], *, version: str = "") -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: a rule per finding code, a result per finding."""
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for name, findings in files:
        for finding in findings:
            code = str(finding.code)
            rules.setdefault(
                code,
                {
                    "id": code,
                    "name": code.title().replace("_", ""),
                    "shortDescription": {"text": code.replace("_", " ").lower()},
                },
            )
            location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": name}}}
            if finding.line:
                location["physicalLocation"]["region"] = {"startLine": finding.line}
            if finding.path:
                location["logicalLocations"] = [{"fullyQualifiedName": finding.path, "kind": "member"}]
            results.append(
                {
                    "ruleId": code,
                    "level": "error" if finding.severity is Severity.ERROR else "warning",
                    "message": {"text": _message(finding)},
                    "locations": [location],
                }
            )
    driver: dict[str, Any] = {"name": TOOL, "rules": list(rules.values())}
    if version:
        driver["version"] = version
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(files: Iterable[tuple[str, list[Finding]]]) -> str:
    """One `::error file=...,line=...,title=...::message` workflow command per finding."""
    lines = []
    for name, findings in files:
        for finding in findings:
            command = "error" if finding.severity is Severity.ERROR else "warning"
            properties = [f"file={_escape_property(name)}"]
            if finding.line:
                properties.append(f"line={finding.line}")
            properties.append(f"title={_escape_property(str(finding.code))}")
            lines.append(f"::{command} {','.join(properties)}::{_escape_data(_message(finding))}")
    return "".join(line + "\n" for line in lines)
