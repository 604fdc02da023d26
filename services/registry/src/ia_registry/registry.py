"""The registry's rules: validation, numbered immutable revisions, field-mask updates,
imports by content hash and paging. No gRPC here; `service.py` maps it to the API.

Definitions are checked with `ia_modules.definition`, the same model the SDK and
the CLI use, so a definition the CLI accepts is one the registry accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf import field_mask_pb2

from ia.pipeline.v1 import pipeline_pb2
from ia.registry.v1 import message_pb2
from ia_modules.definition import (
    MAX_DOCUMENT_BYTES,
    MAX_STEPS,
    DefinitionError,
    Finding,
    Severity,
    canonical_json,
    content_hash,
    load_definition,
    validate,
)
from ia_registry.errors import ConcurrentModification, EtagMismatch, InvalidField, PipelineAlreadyExists, PipelineNotFound
from ia_registry.store import NewVersion, PipelineStore, RevisionConflict, StoredVersion
from ia_service_kit.logging import get_logger
from ia_service_kit.pagination import PageTokens, page_size

log = get_logger(__name__)

CANONICAL_DIALECT = "canonical"
# A page stops early once its definitions add up to this much JSON (it always
# holds at least one), so a page stays under the 4 MB that gRPC clients accept by
# default, whatever page_size asks for.
PAGE_BYTES = 3 * 1024 * 1024
# Updates without an etag retry this often when another writer gets in first.
_UPDATE_ATTEMPTS = 5


@dataclass(frozen=True)
class Stored:
    """A version written (or matched) by a create or update, with the definition's warnings."""

    version: StoredVersion
    warnings: list[Finding]


@dataclass(frozen=True)
class Page:
    """One page of versions and the token for the next one ("" on the last page)."""

    versions: list[StoredVersion]
    next_page_token: str


@dataclass(frozen=True)
class Check:
    """The outcome of validating a definition without storing it."""

    valid: bool
    findings: list[Finding]
    dialect: str
    pipeline: pipeline_pb2.Pipeline | None


@dataclass(frozen=True)
class Imported:
    """What an import did with one source."""

    source_name: str
    name: str
    outcome: message_pb2.ImportOutcome.ValueType
    revision: int
    findings: list[Finding]


def _errors(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


def _warnings(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.WARNING]


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    # Reading and validating may both notice the same problem at the same place.
    seen: set[tuple[str, str]] = set()
    kept = []
    for finding in findings:
        if (finding.path, finding.code) not in seen:
            seen.add((finding.path, finding.code))
            kept.append(finding)
    return kept


def validate_message(pipeline: pipeline_pb2.Pipeline, *, strict: bool = False) -> list[Finding]:
    """Validates a definition that arrived as a message rather than as text.

    `load_definition` refuses text over the size and step limits before parsing
    it; a message skips that step, so the limits are checked here, and the
    definition model words the refusal from the canonical text.
    """
    if len(pipeline.steps) > MAX_STEPS or len(canonical_json(pipeline).encode()) > MAX_DOCUMENT_BYTES:
        return load_definition(canonical_json(pipeline)).findings
    return validate(pipeline, strict=strict)


def check_pipeline(pipeline: pipeline_pb2.Pipeline, *, strict: bool = False) -> Check:
    """Validates a definition given in canonical form."""
    findings = validate_message(pipeline, strict=strict)
    return Check(not _errors(findings), findings, CANONICAL_DIALECT, pipeline)


def check_text(text: str, *, source_name: str | None = None, strict: bool = False) -> Check:
    """Reads JSON text in any dialect, normalizes it and validates it.

    Never raises for a bad definition: everything wrong is in the findings, with the
    source line where known.
    """
    loaded = load_definition(text, source_name=source_name)
    findings = list(loaded.findings)
    if strict:
        findings = [replace(f, severity=Severity.ERROR) for f in findings]
    if loaded.pipeline is not None:
        findings.extend(loaded.locate(validate(loaded.pipeline, strict=strict)))
    findings = _unique(findings)
    return Check(not _errors(findings), findings, loaded.dialect, loaded.pipeline)


def _new_version(pipeline: pipeline_pb2.Pipeline, dialect: str) -> NewVersion:
    return NewVersion(
        name=pipeline.name,
        definition_json=canonical_json(pipeline),
        content_hash=content_hash(pipeline),
        source_dialect=dialect,
        labels=dict(pipeline.labels),
    )


def check_update_mask(paths: Sequence[str]) -> None:
    """Raises InvalidField naming the first path that is not a field of Pipeline.

    No paths, or the single path "*", means the whole definition.
    """
    if list(paths) == ["*"]:
        return
    for index, path in enumerate(paths):
        if path == "*":
            raise InvalidField(f"update_mask.paths[{index}]", "`*` must be the only path of update_mask")
        if not field_mask_pb2.FieldMask(paths=[path]).IsValidForDescriptor(pipeline_pb2.Pipeline.DESCRIPTOR):
            raise InvalidField(
                f"update_mask.paths[{index}]",
                f"`{path}` is not a field of Pipeline; use field names such as `steps`, `flow`, `description`",
            )


def merge_update(
    latest: pipeline_pb2.Pipeline, patch: pipeline_pb2.Pipeline, paths: Sequence[str]
) -> pipeline_pb2.Pipeline:
    """The latest definition with the fields named by `paths` taken from `patch`.

    No paths, or the single path "*", replaces the whole definition. The name
    always stays the latest's.
    """
    check_update_mask(paths)
    merged = pipeline_pb2.Pipeline()
    if not paths or list(paths) == ["*"]:
        merged.CopyFrom(patch)
    else:
        merged.CopyFrom(latest)
        field_mask_pb2.FieldMask(paths=paths).MergeMessage(
            patch, merged, replace_message_field=True, replace_repeated_field=True
        )
    merged.name = latest.name
    return merged


class Registry:
    """Pipeline definitions as immutable, numbered revisions."""

    def __init__(self, store: PipelineStore, tokens: PageTokens, *, page_bytes: int = PAGE_BYTES) -> None:
        self._store = store
        self._tokens = tokens
        self._page_bytes = page_bytes

    def create(self, pipeline: pipeline_pb2.Pipeline, request_id: str = "") -> Stored:
        """Validates and stores revision 1.

        Raises DefinitionError for an invalid definition and PipelineAlreadyExists if
        the name is taken by another request.
        """
        findings = validate_message(pipeline)
        if _errors(findings):
            raise DefinitionError(findings)
        version, created = self._store.create(_new_version(pipeline, CANONICAL_DIALECT), request_id or None)
        if created:
            self._stored(version, "created")
        return Stored(version, _warnings(findings))

    def get(self, name: str, revision: int = 0) -> StoredVersion:
        """The latest revision (revision 0) or the one asked for."""
        if not name:
            raise InvalidField("name", "name is required")
        if revision < 0:
            raise InvalidField("revision", f"revision must be 0 (latest) or positive, got {revision}")
        version = self._store.latest(name) if revision == 0 else self._store.get(name, revision)
        if version is None:
            raise PipelineNotFound(name, revision)
        return version

    def update(self, pipeline: pipeline_pb2.Pipeline, paths: Sequence[str], etag: str = "") -> Stored:
        """Stores a new revision: the latest with the masked fields replaced.

        If the result has the latest revision's content, nothing is stored and the
        latest revision is returned. Raises InvalidField for a bad mask,
        PipelineNotFound, DefinitionError, and EtagMismatch when `etag` is not the
        latest revision's (including when another update wins a race).
        """
        name = pipeline.name
        if not name:
            raise InvalidField("pipeline.name", "pipeline.name names the pipeline to update and is required")
        check_update_mask(paths)
        for _ in range(_UPDATE_ATTEMPTS):
            latest = self._store.latest(name)
            if latest is None:
                raise PipelineNotFound(name)
            if etag and etag != latest.etag:
                raise EtagMismatch(name, etag)
            merged = merge_update(latest.definition(), pipeline, paths)
            findings = validate_message(merged)
            if _errors(findings):
                raise DefinitionError(findings)
            new = _new_version(merged, CANONICAL_DIALECT)
            if new.content_hash == latest.content_hash:
                return Stored(latest, _warnings(findings))
            try:
                version = self._store.add_revision(new, after=latest.revision)
            except RevisionConflict:
                if etag:
                    raise EtagMismatch(name, etag) from None
                continue
            self._stored(version, "updated")
            return Stored(version, _warnings(findings))
        raise ConcurrentModification(name)

    def delete(self, name: str, etag: str = "") -> int:
        """Deletes every revision; returns how many there were."""
        if not name:
            raise InvalidField("name", "name is required")
        count = self._store.delete(name, etag)
        log.info("pipeline deleted", name=name, revisions=count)
        return count

    def list_pipelines(
        self, *, size: int, token: str, name_prefix: str = "", labels: Mapping[str, str] | None = None
    ) -> Page:
        """The latest revision of each pipeline, by name, filtered by prefix and labels."""
        labels = dict(labels or {})
        query = {"list": "pipelines", "name_prefix": name_prefix, "labels": labels}
        limit = page_size(size)
        after = self._tokens.decode(token, query=query)
        versions = self._store.list_latest(
            after_name=after, limit=limit + 1, name_prefix=name_prefix, labels=labels
        )
        return self._page(versions, limit, query, lambda v: v.name)

    def list_versions(self, name: str, *, size: int, token: str) -> Page:
        """The revisions of one pipeline, newest first."""
        if not name:
            raise InvalidField("name", "name is required")
        query = {"list": "versions", "name": name}
        limit = page_size(size)
        before = self._tokens.decode(token, query=query)
        versions = self._store.list_versions(name, before_revision=before, limit=limit + 1)
        return self._page(versions, limit, query, lambda v: v.revision)

    def import_sources(self, sources: Sequence[tuple[str, str]]) -> list[Imported]:
        """Imports (source_name, JSON text) pairs, each on its own.

        A source whose content hash matches the latest revision is left unchanged;
        an invalid one stores nothing and does not stop the others.
        """
        return [self._import_one(source_name, text) for source_name, text in sources]

    def _import_one(self, source_name: str, text: str) -> Imported:
        check = check_text(text, source_name=source_name or None)
        name = check.pipeline.name if check.pipeline is not None else ""
        if not check.valid or check.pipeline is None:
            return Imported(source_name, name, message_pb2.IMPORT_OUTCOME_INVALID, 0, check.findings)
        new = _new_version(check.pipeline, check.dialect)
        for _ in range(_UPDATE_ATTEMPTS):
            latest = self._store.latest(name)
            try:
                if latest is None:
                    version, _ = self._store.create(new)
                    outcome = message_pb2.IMPORT_OUTCOME_CREATED
                elif latest.content_hash == new.content_hash:
                    return Imported(source_name, name, message_pb2.IMPORT_OUTCOME_UNCHANGED, latest.revision, check.findings)
                else:
                    version = self._store.add_revision(new, after=latest.revision)
                    outcome = message_pb2.IMPORT_OUTCOME_UPDATED
            except (PipelineAlreadyExists, PipelineNotFound, RevisionConflict):
                # Another writer changed this pipeline between our read and write:
                # compare against what is there now.
                continue
            self._stored(version, f"imported from {source_name}" if source_name else "imported")
            return Imported(source_name, name, outcome, version.revision, check.findings)
        raise ConcurrentModification(name)

    def _page(
        self, versions: list[StoredVersion], limit: int, query: dict[str, Any], key: Callable[[StoredVersion], Any]
    ) -> Page:
        more = len(versions) > limit
        kept: list[StoredVersion] = []
        total = 0
        for version in versions[:limit]:
            total += len(version.definition_json)
            if kept and total > self._page_bytes:
                more = True
                break
            kept.append(version)
        token = self._tokens.encode(key(kept[-1]), query=query) if more and kept else ""
        return Page(kept, token)

    @staticmethod
    def _stored(version: StoredVersion, how: str) -> None:
        log.info(
            "pipeline version stored",
            name=version.name,
            revision=version.revision,
            content_hash=version.content_hash,
            source_dialect=version.source_dialect,
            how=how,
        )
