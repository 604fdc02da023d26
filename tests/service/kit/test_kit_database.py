"""Database: SQLite in WAL mode, ordered per-service migrations, settings, write transactions."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ia_service_kit.config import ServiceConfig
from ia_service_kit.database import Database, driver_url, schema_migrations

metadata = sa.MetaData()
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)


def create_counters(connection: Connection) -> None:
    counters.create(connection)


MIGRATIONS = [
    (1, create_counters),
    (2, "INSERT INTO counters (name, value) VALUES ('hits', 0)"),
]


def open_db(path: Path, migrations=MIGRATIONS, service: str = "svc") -> Database:
    return Database(f"sqlite:///{path / 'svc.db'}", service=service, migrations=migrations)


def test_opens_sqlite_in_wal_mode_with_foreign_keys_in_a_new_folder(tmp_path: Path) -> None:
    db = open_db(tmp_path / "nested" / "dir")
    with db.read() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    assert db.dialect == "sqlite"
    db.close()


def test_migrations_run_once_in_order_and_are_recorded_per_service(tmp_path: Path) -> None:
    open_db(tmp_path).close()
    db = open_db(tmp_path)  # reopening applies nothing twice (the INSERT would duplicate)
    with db.read() as connection:
        assert connection.execute(sa.select(counters.c.value)).scalars().all() == [0]
        rows = connection.execute(sa.select(schema_migrations.c.service, schema_migrations.c.version)).all()
    assert sorted(rows) == [("svc", 1), ("svc", 2)]
    db.close()


def test_a_new_migration_is_applied_on_the_next_open(tmp_path: Path) -> None:
    open_db(tmp_path).close()
    db = open_db(tmp_path, [*MIGRATIONS, (3, "UPDATE counters SET value = 7")])
    with db.read() as connection:
        assert connection.execute(sa.select(counters.c.value)).scalar_one() == 7
    db.close()


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(sa.exc.OperationalError):
        open_db(tmp_path, [*MIGRATIONS, (3, "UPDATE no_such_table SET x = 1")])
    db = open_db(tmp_path, [])
    with db.read() as connection:
        assert sa.inspect(connection).has_table("counters") is False
        assert connection.execute(sa.select(sa.func.count()).select_from(schema_migrations)).scalar_one() == 0
    db.close()


def test_migration_versions_must_increase(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unique and increasing"):
        open_db(tmp_path, [(2, "SELECT 1"), (1, "SELECT 1")])


def test_services_sharing_a_database_keep_their_own_versions(tmp_path: Path) -> None:
    open_db(tmp_path, MIGRATIONS, service="one").close()
    other = open_db(tmp_path, [(1, "CREATE TABLE other_things (id INTEGER PRIMARY KEY)")], service="two")
    with other.read() as connection:
        versions = connection.execute(
            sa.select(schema_migrations.c.service, schema_migrations.c.version).order_by("service", "version")
        ).all()
    assert versions == [("one", 1), ("one", 2), ("two", 1)]
    other.close()


def test_a_setting_is_created_once_and_kept(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    assert db.setting("secret", lambda: "first") == "first"
    assert db.setting("secret", lambda: "second") == "first"
    db.close()
    reopened = open_db(tmp_path)
    assert reopened.setting("secret", lambda: "third") == "first"
    reopened.close()


def test_write_transactions_do_not_lose_concurrent_updates(tmp_path: Path) -> None:
    # Read-modify-write from many threads and two engines (as two processes would):
    # the write lock taken at BEGIN makes every increment count.
    first, second = open_db(tmp_path), open_db(tmp_path)
    start = threading.Barrier(8)

    def increment(db: Database) -> None:
        start.wait()
        for _ in range(10):
            with db.write() as connection:
                value = connection.execute(sa.select(counters.c.value)).scalar_one()
                connection.execute(counters.update().values(value=value + 1))

    threads = [threading.Thread(target=increment, args=(db,)) for db in [first, second] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with first.read() as connection:
        assert connection.execute(sa.select(counters.c.value)).scalar_one() == 80
    first.close()
    second.close()


def test_a_failed_write_is_rolled_back(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    with pytest.raises(RuntimeError), db.write() as connection:
        connection.execute(counters.update().values(value=99))
        raise RuntimeError("abandon")
    with db.read() as connection:
        assert connection.execute(sa.select(counters.c.value)).scalar_one() == 0
    db.close()


def fill(db: Database, batches: int) -> None:
    """Writes about fifty pages per batch (SQLite does not hold names to their declared length)."""
    for batch in range(batches):
        with db.write() as connection:
            rows = [{"name": f"c{batch}-{i}-" + "x" * 200, "value": i} for i in range(500)]
            connection.execute(counters.insert(), rows)


def pages(path: Path) -> int:
    """How many 4 KiB pages (SQLite's default page size) a file holds."""
    return path.stat().st_size // 4096 if path.exists() else 0


def test_commits_never_checkpoint_the_log_themselves(tmp_path: Path) -> None:
    path = tmp_path / "svc.db"
    db = Database(f"sqlite:///{path}", service="svc", migrations=MIGRATIONS, checkpoint_interval_s=3600)
    with db.read() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    fill(db, 30)
    # The log grew far past the 1000 pages at which a commit would have copied it
    # back into the database file, and nothing was copied.
    assert pages(tmp_path / "svc.db-wal") > 1000
    assert pages(path) < 100
    db.close()
    assert not any(thread.name == "sqlite-checkpoint" and thread.is_alive() for thread in threading.enumerate())


def test_the_checkpointer_thread_copies_the_log_back(tmp_path: Path) -> None:
    path = tmp_path / "svc.db"
    db = Database(f"sqlite:///{path}", service="svc", migrations=MIGRATIONS, checkpoint_interval_s=0.05)
    fill(db, 10)
    deadline = time.monotonic() + 30
    while pages(path) < 400 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pages(path) >= 400
    db.close()


def test_for_service_uses_the_config_url(tmp_path: Path) -> None:
    config = ServiceConfig(name="registry", default_port=0, data_dir=tmp_path)
    db = Database.for_service(config)
    assert db.service == "registry"
    assert (tmp_path / "registry.db").exists()
    db.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_plain_postgresql_urls_use_psycopg_3(scheme: str) -> None:
    url = driver_url(f"{scheme}://user:secret@db.example:5433/ia")
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database) == ("db.example", 5433, "ia")
    assert driver_url("postgresql+psycopg://db/ia").drivername == "postgresql+psycopg"
    assert driver_url("sqlite:///x.db").drivername == "sqlite"


def test_a_malformed_database_url_is_refused_with_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match=r"not a database URL; use sqlite:///.* or postgresql://"):
        Database("no-scheme-here", service="svc")


def test_replicas_opening_one_postgresql_database_together_migrate_it_once(postgres_url: str) -> None:
    opened: list[Database] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(Database(postgres_url, service="svc", migrations=MIGRATIONS))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(opened) == 4
    with opened[0].read() as connection:
        assert connection.execute(sa.select(counters.c.value)).scalars().all() == [0]
        versions = connection.execute(sa.select(schema_migrations.c.version)).scalars().all()
    assert sorted(versions) == [1, 2]
    assert {db.setting("key", lambda: str(id(db))) for db in opened} == {opened[0].setting("key", lambda: "x")}
    assert opened[0].dialect == "postgresql"
    for db in opened:
        db.close()


documents = sa.Table(
    "documents",
    sa.MetaData(),
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("body", sa.JSON, nullable=False),
)


def test_json_columns_keep_what_the_fast_encoder_refuses_and_read_older_rows(tmp_path: Path) -> None:
    db = open_db(tmp_path, [(1, lambda connection: documents.create(connection))])
    values = {
        "plain": {"n": 1, "list": [1.5, "x", None, True]},
        # Beyond 64 bits and a non-string key: orjson refuses both, the standard library stores them.
        "big": {"n": 2**70},
        "int_keys": {1: "one"},
    }
    with db.write() as connection:
        connection.execute(documents.insert(), [{"name": k, "body": v} for k, v in values.items()])
        # A row as the standard library wrote it before: NaN is not JSON, orjson will not read it.
        connection.exec_driver_sql("INSERT INTO documents (name, body) VALUES ('old', '{\"x\": NaN}')")
    with db.read() as connection:
        stored = dict(connection.execute(sa.select(documents.c.name, documents.c.body)).all())
    assert stored["plain"] == values["plain"]
    assert stored["big"] == {"n": 2**70}
    assert stored["int_keys"] == {"1": "one"}
    assert stored["old"]["x"] != stored["old"]["x"]  # NaN, read back as NaN
    db.close()
