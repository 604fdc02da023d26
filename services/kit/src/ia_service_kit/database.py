"""A service's database: SQLAlchemy 2 Core, SQLite (WAL) by default, PostgreSQL for scale.

Stores use Core constructs only (no SQLite-only SQL), so the same store runs on
both. On SQLite, a checkpointer thread copies the write-ahead log back into the
database file (`_Checkpointer`), so that work never lands inside a commit.

Each service brings an ordered list of migrations; they are applied in one
transaction when the database opens, and recorded per service in
`schema_migrations`, so several services can share one PostgreSQL database.

Why not Alembic: a service's schema is a short list in its own `store.py`, applied
in milliseconds at start-up. Alembic would add a configuration folder and a
revision file per change for every service, and a second import path at start.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from ia_service_kit.config import SettingsError
from ia_service_kit.logging import get_logger

if TYPE_CHECKING:
    from ia_service_kit.config import ServiceConfig

log = get_logger(__name__)

# A migration: (version, step). The step is a callable given the open
# connection, or one portable SQL statement. Versions only ever grow.
Migration = tuple[int, Callable[[Connection], None] | str]

_kit_metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    _kit_metadata,
    sa.Column("service", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

service_settings = sa.Table(
    "service_settings",
    _kit_metadata,
    sa.Column("service", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)



def dump_json(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """JSON text of a JSON column value: orjson, several times faster than the standard
    library on the executor's event rows; the standard library for what orjson refuses
    (integers beyond 64 bits, keys that are not strings), so nothing storable before is refused now.
    ``default`` turns what JSON has no type for into something it has, as in `json.dumps`."""
    try:
        return orjson.dumps(value, default=default).decode()
    except TypeError:
        return json.dumps(value, default=default)


def load_json(text: str | bytes) -> Any:
    """The value of a JSON column's text; rows written as NaN or Infinity (which the
    standard library wrote and orjson does not read) go through the standard library."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


_WRITE_OPTION = "ia_write_transaction"
# asyncio's default executor has up to min(32, cores + 4) threads.
_SQLITE_POOL_SIZE = min(32, (os.cpu_count() or 1) + 4) + 4
_MIGRATION_LOCK = 0x1A_0D_0001  # the PostgreSQL advisory lock key held while migrating
# How often the checkpointer copies SQLite's write-ahead log back into the database.
CHECKPOINT_INTERVAL_S = 0.5

# PostgreSQL URLs as users write them (`postgresql://`, `postgres://`) name no
# driver; SQLAlchemy would pick psycopg2, which the project does not ship.
_POSTGRESQL_SCHEMES = {"postgresql", "postgres"}


def driver_url(url: str) -> URL:
    """``url`` parsed, with psycopg 3 as the driver of a plain PostgreSQL URL.

    Raises SettingsError with the accepted forms when the URL cannot be parsed.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as error:
        raise SettingsError(
            f"IA_DATABASE_URL {url!r} is not a database URL; use sqlite:///path/to/file.db "
            "or postgresql://user:password@host:port/database"
        ) from error
    if parsed.drivername in _POSTGRESQL_SCHEMES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Database:
    """An engine plus the service's schema, migrated on open.

    `read()` and `write()` each give a connection inside one transaction. On SQLite
    `write()` takes the write lock up front (BEGIN IMMEDIATE), so a
    read-check-write sequence cannot be interleaved by another process; other
    writers wait up to `busy_timeout_ms`.
    """

    def __init__(
        self,
        url: str,
        *,
        service: str,
        migrations: Sequence[Migration] = (),
        busy_timeout_ms: int = 10_000,
        checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
    ) -> None:
        self.service = service
        self._checkpointer: _Checkpointer | None = None
        parsed = driver_url(url)
        is_sqlite = parsed.get_backend_name() == "sqlite"
        options: dict[str, Any] = {
            "pool_pre_ping": not is_sqlite,
            "json_serializer": dump_json,
            "json_deserializer": load_json,
        }
        if is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # Enough pooled connections for every worker thread of asyncio.to_thread
            # (and a few more): beyond the pool, each transaction would open a new
            # connection and run the PRAGMAs below again.
            options["pool_size"] = _SQLITE_POOL_SIZE
        self.engine: Engine = sa.create_engine(parsed, **options)
        self._safe_url = parsed.render_as_string(hide_password=True)
        if is_sqlite:
            self._configure_sqlite(busy_timeout_ms)
        self._migrate(migrations)
        if is_sqlite and parsed.database and parsed.database != ":memory:":
            self._checkpointer = _Checkpointer(parsed.database, checkpoint_interval_s)

    @classmethod
    def for_service(cls, config: ServiceConfig, migrations: Sequence[Migration] = ()) -> Database:
        """Opens the database a service config points at (IA_DATABASE_URL or the data-dir SQLite)."""
        return cls(config.resolved_database_url, service=config.name, migrations=migrations)

    @property
    def dialect(self) -> str:
        """The backend name: "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    def _configure_sqlite(self, busy_timeout_ms: int) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy emits BEGIN itself (below); the driver's own implicit
            # transactions would skip BEGIN for reads and DDL.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # In WAL mode NORMAL survives a crash of the process (not of the machine)
            # without an fsync per commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            # The checkpointer thread copies the log back (see _Checkpointer).
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(connection: Connection) -> None:
            immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
            # Straight to the driver: a statement through SQLAlchemy costs more than
            # the rest of a small transaction.
            connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (one consistent snapshot)."""
        with self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on exit and rolled back on error."""
        with self.engine.connect() as connection:
            connection.execution_options(**{_WRITE_OPTION: True})
            with connection.begin():
                yield connection

    def setting(self, key: str, create: Callable[[], str]) -> str:
        """A per-service value kept in the database, created once by `create()`.

        Every process sharing the database sees the same value (the first writer wins).
        """
        where = (service_settings.c.service == self.service) & (service_settings.c.key == key)
        query = sa.select(service_settings.c.value).where(where)
        try:
            with self.write() as connection:
                value = connection.execute(query).scalar_one_or_none()
                if value is None:
                    value = create()
                    connection.execute(service_settings.insert().values(service=self.service, key=key, value=value))
                return value
        except sa.exc.IntegrityError:
            # Another process inserted it between our read and write (PostgreSQL).
            with self.read() as connection:
                return connection.execute(query).scalar_one()

    def close(self) -> None:
        """Stops the checkpointer and closes every pooled connection."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()
        log.info("database closed", url=self._safe_url)

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        versions = [version for version, _ in migrations]
        if versions != sorted(set(versions)):
            raise ValueError(f"migration versions of {self.service} must be unique and increasing: {versions}")
        with self.write() as connection:
            if self.dialect == "postgresql":
                # Replicas starting together would race to create the same tables:
                # one migrates while the others wait, then find nothing to do.
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            _kit_metadata.create_all(connection)
            applied = set(
                connection.execute(
                    sa.select(schema_migrations.c.version).where(schema_migrations.c.service == self.service)
                ).scalars()
            )
            pending = [(version, step) for version, step in migrations if version not in applied]
            for version, step in pending:
                if isinstance(step, str):
                    connection.execute(sa.text(step))
                else:
                    step(connection)
                connection.execute(
                    schema_migrations.insert().values(
                        service=self.service, version=version, applied_at=datetime.now(UTC).replace(tzinfo=None)
                    )
                )
        log.info(
            "database ready",
            url=self._safe_url,
            schema_version=max(versions, default=0),
            applied=[version for version, _ in pending],
        )


class RowsStatement:
    """A multi-row INSERT or UPDATE, compiled once per dialect and set of columns, then
    sent to the driver's cursor within the caller's transaction.

    For the rows a service writes by the dozen (the executor's batch of decisions,
    the telemetry service's spans), SQLAlchemy's per-row parameter processing and
    its execution context per statement cost more than the database's own work.
    What it would do for plain columns is done here: JSON columns through the kit's
    JSON serializer (None as JSON `null`, as the JSON type stores it); the compiled
    SQL keeps the dialect's casts; a driver error is raised as SQLAlchemy's (a
    duplicate key as sa.exc.IntegrityError). Other column types with a bind
    processor are not converted.
    """

    def __init__(self, statement: sa.Insert | sa.Update) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...], frozenset[str]]] = {}

    def execute(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        dialect = connection.dialect
        keys = tuple(rows[0])
        compiled = self._compiled.get((dialect.name, keys))
        if compiled is None:
            statement = self._statement.compile(dialect=dialect, column_keys=list(keys))
            names = tuple(statement.positiontup or ()) if dialect.positional else tuple(statement.binds)
            json_names = frozenset(name for name in names if isinstance(statement.binds[name].type, sa.JSON))
            compiled = self._compiled[(dialect.name, keys)] = (statement.string, names, json_names)
        sql, names, json_names = compiled
        values = [[dump_json(row[name]) if name in json_names else row[name] for name in names] for row in rows]
        if dialect.positional:
            parameters: list[Any] = [tuple(row) for row in values]
        else:
            parameters = [dict(zip(names, row, strict=True)) for row in values]
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.executemany(sql, parameters)
        except dialect.dbapi.Error as error:
            raise sa.exc.DBAPIError.instance(sql, parameters, error, dialect.dbapi.Error) from error
        finally:
            cursor.close()


class _Checkpointer:
    """Copies a SQLite database's write-ahead log back into it, on its own thread.

    SQLite's own checkpoint runs inside whichever commit takes the log past 1000
    pages: that commit (a run's checkpoint after a step) took 6 to 9 ms instead of
    well under one. The service's connections never checkpoint
    (`wal_autocheckpoint=0`); this thread does, every `interval_s`, in PASSIVE
    mode: it waits for no reader or writer and copies what no reader still needs.
    """

    def __init__(self, path: str, interval_s: float) -> None:
        self._path = path
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, isolation_level=None)
        failing = False
        try:
            while not self._stop.wait(self._interval_s):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as error:  # the next round tries again; said once, not twice a second
                    if not failing:
                        log.warning("checkpoints failing", path=self._path, error=str(error))
                    failing = True
                else:
                    if failing:
                        log.info("checkpoints working again", path=self._path)
                    failing = False
        finally:
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
