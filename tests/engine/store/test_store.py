"""The store: schema steps applied by the tool (fresh, again, upgraded, too new), SQLite's
durability settings, readers that take no write lock, clear errors for a bad database URL, and
bank holidays pinned with each calendar version."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError

from engine.cases.notification import NotificationForm
from engine.cases.service import Actor, CaseService
from engine.errors import InputError
from engine.language.registry import ProcessRegistry
from engine.store import schema as schema_module
from engine.store.database import Store, database_url, open_store
from engine.store.schema import SCHEMA_STEPS, upgrade_schema
from tests.conftest import RECORDED_AT


def steps_recorded(url: str) -> list[tuple[int, str]]:
    s = open_store(url, upgrade=False)
    try:
        with s.read() as conn:
            return [
                tuple(r)
                for r in conn.execute(text("SELECT step, name FROM schema_version ORDER BY step"))
            ]
    finally:
        s.dispose()


def test_a_fresh_database_gets_every_step_and_a_second_open_applies_none(db_url: str) -> None:
    s = open_store(db_url)
    try:
        expected = [(n, name) for n, (name, _) in enumerate(SCHEMA_STEPS, start=1)]
        assert steps_recorded(db_url) == expected
        tables = set(inspect(s.engine).get_table_names())
        assert {
            "process_version",
            "calendar_version",
            "cme_case",
            "case_event",
            "timer",
            "outbox",
            "access_log",
            "schema_version",
        } <= tables
        assert upgrade_schema(s) == []
    finally:
        s.dispose()
    again = open_store(db_url)
    again.dispose()
    assert steps_recorded(db_url) == expected


def test_an_old_database_is_upgraded_by_the_steps_it_lacks(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = open_store(db_url)
    # A database from before step 2: its tables and its record of later steps are not there.
    with old.engine.begin() as conn:
        for table in ("document", "import_ledger"):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("DELETE FROM schema_version WHERE step >= 2"))
    assert [n for n, _ in steps_recorded(db_url)] == [1]
    applied = upgrade_schema(old)
    assert applied == [name for name, _ in SCHEMA_STEPS[1:]]
    assert {"document", "import_ledger"} <= set(inspect(old.engine).get_table_names())
    # A step added later reaches a database that has every earlier one, once.
    calls: list[str] = []

    def add_index(conn: Connection) -> None:
        calls.append("ran")
        conn.execute(text("CREATE INDEX ix_test_case_opened ON cme_case (opened_on)"))

    monkeypatch.setattr(schema_module, "SCHEMA_STEPS", [*SCHEMA_STEPS, ("test step", add_index)])
    assert upgrade_schema(old) == ["test step"]
    assert upgrade_schema(old) == []
    assert calls == ["ran"]
    assert "ix_test_case_opened" in {i["name"] for i in inspect(old.engine).get_indexes("cme_case")}
    old.dispose()


def test_a_database_from_a_newer_cme_is_refused(db_url: str) -> None:
    s = open_store(db_url)
    with s.engine.begin() as conn:
        conn.execute(text("INSERT INTO schema_version (step, name) VALUES (99, 'future')"))
    s.dispose()
    with pytest.raises(InputError, match="schema step 99, newer than this cme knows"):
        open_store(db_url)


def test_a_failing_step_leaves_the_database_as_it_was(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = open_store(sqlite_url)

    def half_done(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE half (x INTEGER)"))
        raise RuntimeError("disk full")

    monkeypatch.setattr(schema_module, "SCHEMA_STEPS", [*SCHEMA_STEPS, ("bad", half_done)])
    with pytest.raises(RuntimeError):
        upgrade_schema(s)
    assert "half" not in inspect(s.engine).get_table_names()
    assert len(steps_recorded(sqlite_url)) == len(SCHEMA_STEPS)
    s.dispose()


def test_sqlite_is_durable_on_every_commit(sqlite_url: str) -> None:
    s = open_store(sqlite_url)
    with s.engine.connect() as conn:
        # WAL with synchronous=FULL (2): a commit is on disk before the officer is told.
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    s.dispose()


def test_a_reader_is_not_held_up_by_a_writer(sqlite_url: str) -> None:
    s = open_store(sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None, timeout=0.1)
    writer.execute("BEGIN IMMEDIATE")  # another process is in the middle of a command
    writer.execute("INSERT INTO case_counter (prefix, last) VALUES ('CME', 1)")
    try:
        with s.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM case_counter")).scalar() == 0
        with pytest.raises(Exception, match="locked"), s.engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # a writer's BEGIN IMMEDIATE waits, then gives up
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        s.dispose()


def test_two_events_with_one_number_cannot_both_be_stored(db_url: str) -> None:
    s = open_store(db_url)
    row = {
        "case_id": "CME-000001",
        "seq": 2,
        "effective_date": "2024-10-22",
        "recorded_at": "2025-09-01 09:00:00",
        "actor": "a",
        "role": "r",
        "kind": "note",
        "payload": "{}",
        "process_id": "p",
        "process_version": 1,
        "prev_hash": "0",
        "hash": "1",
    }
    insert = text(
        "INSERT INTO case_event (case_id, seq, effective_date, recorded_at, actor, "
        "role, kind, payload, process_id, process_version, prev_hash, hash) VALUES "
        "(:case_id, :seq, :effective_date, :recorded_at, :actor, :role, :kind, "
        ":payload, :process_id, :process_version, :prev_hash, :hash)"
    )
    with s.engine.begin() as conn:
        conn.execute(insert, row)
    with pytest.raises(IntegrityError), s.engine.begin() as conn:
        conn.execute(insert, {**row, "hash": "2"})
    s.dispose()


# -- where the database is, and what happens when it is not there -----------------------------


def test_the_default_database_is_sqlite_in_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CME_DATABASE_URL", raising=False)
    assert database_url(None) == "sqlite:///.cme/cme.db"
    assert (tmp_path / ".cme").is_dir()
    monkeypatch.setenv("CME_DATABASE_URL", "postgresql://cme@db.example/cme")
    assert database_url(None) == "postgresql+psycopg://cme@db.example/cme"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "is not a database URL cme can use"),
        ("mysql+nodriver://x/y", "cme does not run on mysql; it runs on SQLite"),
        ("sqlite:///{tmp}/no/such/folder/cme.db", "cannot open the database at sqlite:///"),
        (
            "postgresql://postgres:secret@127.0.0.1:1/cme",
            "cannot open the database at postgresql+psycopg://postgres:***@127.0.0.1:1/cme",
        ),
    ],
)
def test_a_database_that_cannot_be_opened_says_so(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        open_store(url.format(tmp=tmp_path))
    assert message in str(info.value)
    assert "secret" not in str(info.value)


def test_opening_without_upgrade_creates_nothing(sqlite_url: str) -> None:
    s = open_store(sqlite_url, upgrade=False)
    assert inspect(s.engine).get_table_names() == []
    s.dispose()


# -- bank holidays pinned with each calendar version ------------------------------------------


def _calendar_rows(s: Store) -> list[tuple[str, int, str | None]]:
    with s.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(text("SELECT name, version, bank_holidays FROM calendar_version"))
        ]


def test_a_calendar_version_keeps_the_bank_holidays_it_was_built_with(
    db_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    service = CaseService(open_store(db_url), registry)
    (case_id, _) = service.open_case(
        example_form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=Actor("sona", "cme_officer")
    )
    ((name, _, pinned),) = _calendar_rows(service.store)
    assert name == "london"
    holidays = json.loads(pinned or "{}")
    assert holidays["2024-12-25"] == "Christmas Day"
    assert holidays["2025-05-05"] == "May Day"
    # What is stored decides: a (made-up) holiday added to the row moves Day N for a reader.
    holidays["2024-10-22"] = "made-up closure"
    with service.store.engine.begin() as conn:
        conn.execute(
            text("UPDATE calendar_version SET bank_holidays = :b"), {"b": json.dumps(holidays)}
        )
    reader = CaseService(open_store(db_url), registry)
    case = reader.get(case_id)
    assert reader.calendar_for(case).day_number(case.opened_on, dt.date(2024, 10, 23)) == 2
    assert service.calendar_for(case).day_number(case.opened_on, dt.date(2024, 10, 23)) == 3
    for s in (service, reader):
        s.store.dispose()


def test_the_upgrade_pins_bank_holidays_of_calendars_stored_before(
    db_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    service = CaseService(open_store(db_url), registry)
    service.open_case(
        example_form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=Actor("sona", "cme_officer")
    )
    step = next(
        n
        for n, (name, _) in enumerate(SCHEMA_STEPS, start=1)
        if name == "bank holidays pinned with each calendar version"
    )
    with service.store.engine.begin() as conn:
        conn.execute(text("UPDATE calendar_version SET bank_holidays = NULL"))
        conn.execute(text("DELETE FROM schema_version WHERE step = :s"), {"s": step})
    assert _calendar_rows(service.store)[0][2] is None
    assert upgrade_schema(service.store) == ["bank holidays pinned with each calendar version"]
    assert "Christmas Day" in (_calendar_rows(service.store)[0][2] or "")
    service.store.dispose()


def test_the_schema_is_the_one_its_declarations_have_always_made() -> None:
    # The bookkeeping tables moved from SQLModel classes to Core tables; this DDL (both dialects)
    # was written by the SQLModel classes, so databases made before and after are alike.
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable
    from sqlmodel import SQLModel

    lines: list[str] = []
    for table in sorted(SQLModel.metadata.tables.values(), key=lambda t: t.name):
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            lines.append(str(CreateTable(table).compile(dialect=dialect)).strip())
            lines.extend(
                str(CreateIndex(ix).compile(dialect=dialect))
                for ix in sorted(table.indexes, key=lambda i: str(i.name))
            )
    expected = (Path(__file__).parents[2] / "fixtures" / "schema" / "ddl.sql").read_text()
    assert "\n".join(lines) + "\n" == expected


def _outlines(s: Store) -> list[tuple[str, int, str | None]]:
    with s.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT process_id, version, outline FROM process_version ORDER BY id")
            )
        ]


def test_a_published_version_is_stored_with_its_outline(
    db_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    service = CaseService(open_store(db_url), registry)
    service.open_case(
        example_form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=Actor("sona", "cme_officer")
    )
    ((pid, version, outline),) = _outlines(service.store)
    assert outline == registry.get(pid, version).definition.outline().to_json()
    service.store.dispose()


def test_the_upgrade_outlines_process_versions_stored_before(
    db_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    service = CaseService(open_store(db_url), registry)
    service.open_case(
        example_form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=Actor("sona", "cme_officer")
    )
    name = "an outline stored with each process version"
    step = next(n for n, (n2, _) in enumerate(SCHEMA_STEPS, start=1) if n2 == name)
    with service.store.engine.begin() as conn:
        conn.execute(text("UPDATE process_version SET outline = NULL"))
        conn.execute(text("DELETE FROM schema_version WHERE step = :s"), {"s": step})
    assert _outlines(service.store)[0][2] is None
    assert upgrade_schema(service.store) == [name]
    ((pid, version, outline),) = _outlines(service.store)
    assert outline == registry.get(pid, version).definition.outline().to_json()
    service.store.dispose()


@pytest.mark.parametrize("stored", [None, '{"format": 1, "id": "damaged"}', '{"format": 99}'])
def test_a_missing_or_damaged_outline_is_rebuilt_from_the_versions_text(
    sqlite_url: str,
    registry: ProcessRegistry,
    example_form: NotificationForm,
    stored: str | None,
) -> None:
    from engine.cases.reading import CaseReader

    service = CaseService(open_store(sqlite_url), registry)
    (case_id, _) = service.open_case(
        example_form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=Actor("sona", "cme_officer")
    )
    with service.store.engine.begin() as conn:
        conn.execute(text("UPDATE process_version SET outline = :o"), {"o": stored})
    reader = CaseReader(service.store)
    case = reader.get(case_id)
    pinned = registry.get("untraceable_cme", case.process_version)
    assert reader.outline_for(case) == pinned.definition.outline()
    service.store.dispose()
