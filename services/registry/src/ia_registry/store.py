"""Persistence of pipeline versions.

Tables:
- `pipelines`: one row per name, pointing at its latest revision. Updating that
  pointer with `WHERE latest_revision = <expected>` is the compare-and-set that
  lets exactly one of two concurrent writers win, in any number of processes.
- `pipeline_versions`: every stored revision, immutable; (name, revision) is the
  primary key, so a revision number can never be taken twice.
- `pipeline_labels`: the labels of each pipeline's latest revision, for filtering.

Every row belongs to a tenant, part of each key: a name is unique within its
tenant, and every query keeps to the tenant of the call being served
(`ia_service_kit.identity.current_tenant()`), so another tenant's pipeline is
simply not found.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from google.protobuf import json_format
from sqlalchemy.engine import Connection, RowMapping

from ia.pipeline.v1 import pipeline_pb2
from ia_registry.errors import ConcurrentModification, EtagMismatch, PipelineAlreadyExists, PipelineNotFound
from ia_service_kit.database import Database, Migration
from ia_service_kit.identity import current_tenant

metadata = sa.MetaData()

pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("tenant", sa.String(63), primary_key=True),
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("latest_revision", sa.BigInteger, nullable=False),
    sa.Column("create_time", sa.DateTime, nullable=False),
    sa.Column("update_time", sa.DateTime, nullable=False),
)

pipeline_versions = sa.Table(
    "pipeline_versions",
    metadata,
    sa.Column("tenant", sa.String(63), primary_key=True),
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("revision", sa.BigInteger, primary_key=True),
    sa.Column("definition_json", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("etag", sa.String(64), nullable=False),
    sa.Column("create_time", sa.DateTime, nullable=False),
    sa.Column("source_dialect", sa.String(32), nullable=False),
    sa.Column("request_id", sa.String, nullable=True),
    sa.ForeignKeyConstraint(["tenant", "name"], ["pipelines.tenant", "pipelines.name"], ondelete="CASCADE"),
    sa.Index("pipeline_versions_by_request", "tenant", "name", "request_id"),
)

pipeline_labels = sa.Table(
    "pipeline_labels",
    metadata,
    sa.Column("tenant", sa.String(63), primary_key=True),
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.ForeignKeyConstraint(["tenant", "name"], ["pipelines.tenant", "pipelines.name"], ondelete="CASCADE"),
    sa.Index("pipeline_labels_by_key", "key"),
)


def _create_tables(connection: Connection) -> None:
    metadata.create_all(connection)


MIGRATIONS: list[Migration] = [(1, _create_tables)]


@dataclass(frozen=True)
class NewVersion:
    """A validated definition about to be stored."""

    name: str
    definition_json: str
    content_hash: str
    source_dialect: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class StoredVersion:
    """One stored, immutable revision of a pipeline."""

    name: str
    revision: int
    definition_json: str
    content_hash: str
    etag: str
    create_time: datetime
    source_dialect: str

    def definition(self) -> pipeline_pb2.Pipeline:
        """The stored canonical definition as a message."""
        return json_format.Parse(self.definition_json, pipeline_pb2.Pipeline())


class RevisionConflict(Exception):
    """Another writer stored a revision after the one this write started from."""


def _now() -> datetime:
    # Stored naive in UTC: SQLite has no time zones, and reads re-attach UTC.
    return datetime.now(UTC).replace(tzinfo=None)


def _version(row: RowMapping) -> StoredVersion:
    return StoredVersion(
        name=row["name"],
        revision=row["revision"],
        definition_json=row["definition_json"],
        content_hash=row["content_hash"],
        etag=row["etag"],
        create_time=row["create_time"].replace(tzinfo=UTC),
        source_dialect=row["source_dialect"],
    )


_LATEST = sa.select(pipeline_versions).join(
    pipelines,
    (pipelines.c.tenant == pipeline_versions.c.tenant)
    & (pipelines.c.name == pipeline_versions.c.name)
    & (pipelines.c.latest_revision == pipeline_versions.c.revision),
)


def _head(name: str) -> sa.ColumnElement[bool]:
    """The `pipelines` row of `name` in the caller's tenant."""
    return (pipelines.c.tenant == current_tenant()) & (pipelines.c.name == name)


def _versions_of(name: str) -> sa.ColumnElement[bool]:
    """The `pipeline_versions` rows of `name` in the caller's tenant."""
    return (pipeline_versions.c.tenant == current_tenant()) & (pipeline_versions.c.name == name)


class PipelineStore:
    """Reads and writes pipeline versions; every write is one transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def latest(self, name: str) -> StoredVersion | None:
        """The latest revision of `name`, or None."""
        with self._database.read() as connection:
            return self._latest(connection, name)

    def get(self, name: str, revision: int) -> StoredVersion | None:
        """One revision of `name`, or None."""
        query = sa.select(pipeline_versions).where(_versions_of(name) & (pipeline_versions.c.revision == revision))
        with self._database.read() as connection:
            row = connection.execute(query).mappings().first()
        return _version(row) if row else None

    def create(self, new: NewVersion, request_id: str | None = None) -> tuple[StoredVersion, bool]:
        """Stores revision 1 of a new pipeline; returns it and whether it was created now.

        A repeated `request_id` returns the version that request created instead.
        Raises PipelineAlreadyExists when the name is taken.
        """
        try:
            with self._database.write() as connection:
                earlier = self._by_request(connection, new.name, request_id)
                if earlier is not None:
                    return earlier, False
                if connection.execute(sa.select(pipelines.c.name).where(_head(new.name))).first():
                    raise PipelineAlreadyExists(new.name)
                now = _now()
                connection.execute(
                    pipelines.insert().values(
                        tenant=current_tenant(), name=new.name, latest_revision=1, create_time=now, update_time=now
                    )
                )
                return self._insert_version(connection, new, 1, now, request_id), True
        except sa.exc.IntegrityError:
            # A concurrent create of the same name won (PostgreSQL; SQLite serializes writers).
            with self._database.read() as connection:
                earlier = self._by_request(connection, new.name, request_id)
            if earlier is None:
                raise PipelineAlreadyExists(new.name) from None
            return earlier, False

    def add_revision(self, new: NewVersion, *, after: int) -> StoredVersion:
        """Stores revision `after + 1`, if `after` is still the latest revision.

        Raises PipelineNotFound if the pipeline is gone, RevisionConflict if another
        revision was stored since.
        """
        try:
            with self._database.write() as connection:
                now = _now()
                moved = connection.execute(
                    pipelines.update()
                    .where(_head(new.name) & (pipelines.c.latest_revision == after))
                    .values(latest_revision=after + 1, update_time=now)
                )
                if moved.rowcount != 1:
                    if connection.execute(sa.select(pipelines.c.name).where(_head(new.name))).first():
                        raise RevisionConflict(new.name)
                    raise PipelineNotFound(new.name)
                return self._insert_version(connection, new, after + 1, now, None)
        except sa.exc.IntegrityError as error:
            raise RevisionConflict(new.name) from error

    def delete(self, name: str, etag: str = "") -> int:
        """Deletes a pipeline and all its revisions; returns how many revisions there were.

        With `etag`, deletes only if the latest revision still has it.
        """
        with self._database.write() as connection:
            latest = self._latest(connection, name)
            if latest is None:
                raise PipelineNotFound(name)
            if etag and etag != latest.etag:
                raise EtagMismatch(name, etag)
            count = connection.execute(
                sa.select(sa.func.count()).select_from(pipeline_versions).where(_versions_of(name))
            ).scalar_one()
            # Guarded by the revision just checked, so a concurrent update cannot slip in
            # between; the versions and labels go with the head row (ON DELETE CASCADE).
            removed = connection.execute(
                pipelines.delete().where(_head(name) & (pipelines.c.latest_revision == latest.revision))
            )
            if removed.rowcount != 1:
                raise EtagMismatch(name, etag) if etag else ConcurrentModification(name)
            return int(count)

    def list_latest(
        self,
        *,
        after_name: str | None,
        limit: int,
        name_prefix: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> list[StoredVersion]:
        """The latest revision of each pipeline by name, after `after_name`, filtered."""
        query = _LATEST.where(pipelines.c.tenant == current_tenant())
        if after_name is not None:
            query = query.where(pipelines.c.name > after_name)
        if name_prefix:
            query = query.where(pipelines.c.name.startswith(name_prefix, autoescape=True))
        for key, value in sorted((labels or {}).items()):
            query = query.where(
                sa.exists().where(
                    (pipeline_labels.c.tenant == pipelines.c.tenant)
                    & (pipeline_labels.c.name == pipelines.c.name)
                    & (pipeline_labels.c.key == key)
                    & (pipeline_labels.c.value == value)
                )
            )
        query = query.order_by(pipelines.c.name).limit(limit)
        with self._database.read() as connection:
            return [_version(row) for row in connection.execute(query).mappings()]

    def list_versions(self, name: str, *, before_revision: int | None, limit: int) -> list[StoredVersion]:
        """Revisions of `name`, newest first, older than `before_revision`.

        Raises PipelineNotFound when the pipeline does not exist.
        """
        query = sa.select(pipeline_versions).where(_versions_of(name))
        if before_revision is not None:
            query = query.where(pipeline_versions.c.revision < before_revision)
        query = query.order_by(pipeline_versions.c.revision.desc()).limit(limit)
        with self._database.read() as connection:
            if not connection.execute(sa.select(pipelines.c.name).where(_head(name))).first():
                raise PipelineNotFound(name)
            return [_version(row) for row in connection.execute(query).mappings()]

    @staticmethod
    def _latest(connection: Connection, name: str) -> StoredVersion | None:
        row = connection.execute(_LATEST.where(_head(name))).mappings().first()
        return _version(row) if row else None

    @staticmethod
    def _by_request(connection: Connection, name: str, request_id: str | None) -> StoredVersion | None:
        if not request_id:
            return None
        query = sa.select(pipeline_versions).where(_versions_of(name) & (pipeline_versions.c.request_id == request_id))
        row = connection.execute(query).mappings().first()
        return _version(row) if row else None

    @staticmethod
    def _insert_version(
        connection: Connection, new: NewVersion, revision: int, now: datetime, request_id: str | None
    ) -> StoredVersion:
        version = StoredVersion(
            name=new.name,
            revision=revision,
            definition_json=new.definition_json,
            content_hash=new.content_hash,
            # Random rather than derived from the content: an etag read before a
            # delete must not match a re-created pipeline with the same content.
            etag=secrets.token_hex(12),
            create_time=now.replace(tzinfo=UTC),
            source_dialect=new.source_dialect,
        )
        connection.execute(
            pipeline_versions.insert().values(
                tenant=current_tenant(),
                name=version.name,
                revision=version.revision,
                definition_json=version.definition_json,
                content_hash=version.content_hash,
                etag=version.etag,
                create_time=now,
                source_dialect=version.source_dialect,
                request_id=request_id or None,
            )
        )
        tenant = current_tenant()
        connection.execute(
            pipeline_labels.delete().where((pipeline_labels.c.tenant == tenant) & (pipeline_labels.c.name == new.name))
        )
        if new.labels:
            connection.execute(
                pipeline_labels.insert(),
                [
                    {"tenant": tenant, "name": new.name, "key": key, "value": value}
                    for key, value in new.labels.items()
                ],
            )
        return version

