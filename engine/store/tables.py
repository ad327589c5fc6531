"""The tables and the database connection: process versions, cases, events and timers (SQLModel),
and the engine's bookkeeping tables (SQLAlchemy Core, on the same metadata).

Owns the schema, its upgrades (`SCHEMA_STEPS`, applied by `open_store`), and the connection
settings that make a commit durable. Does not own what goes in the rows (`service.py`,
`projection.py`, `timers.py`). JSON columns are text we serialise ourselves, so the hash chain
sees exactly the bytes that are stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Engine,
    Index,
    Integer,
    LargeBinary,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

log = logging.getLogger(__name__)

DEFAULT_SQLITE_PATH = Path(".cme") / "cme.db"


class ProcessVersionRow(SQLModel, table=True):
    """A process definition as loaded: its YAML text, pinned by id, version and content hash."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("process_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(index=True)
    version: int
    content_hash: str
    effective_from: dt.date
    yaml_text: str
    loaded_at: dt.datetime
    outline: str | None = None
    """The version's outline as JSON (`engine/language/outline.py`): what showing a case prints of
    it,
    derived from `yaml_text` when published, so a read builds no definition models."""


class CaseRow(SQLModel, table=True):
    """The case as it stands: a projection of its events that replay must reproduce exactly."""

    __tablename__ = "cme_case"
    id: str = Field(primary_key=True)
    process_id: str = Field(index=True)
    process_version: int
    state: str = Field(index=True)
    terminal: bool = False
    calendar: str
    opened_on: dt.date
    state_entered_on: dt.date
    last_effective: dt.date
    closed_on: dt.date | None = None
    seq: int
    head_hash: str
    overdue: bool = False
    sibling_group: str | None = Field(default=None, index=True)
    assigned_officer: str | None = None
    facts: str = "{}"
    checks: str = "{}"
    pauses: str = "[]"
    personal: str = "{}"
    legal_hold: bool = False
    """Whether the case is on legal hold: a retention purge refuses it (see
    engine/protection/retention.py)."""


class EventRow(SQLModel, table=True):
    """One entry of a case's append-only, hash-chained history."""

    __tablename__ = "case_event"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_event_case_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: str
    seq: int
    effective_date: dt.date
    recorded_at: dt.datetime
    actor: str
    role: str
    kind: str
    payload: str
    process_id: str
    process_version: int
    rule: str | None = None
    prev_hash: str
    hash: str


class TimerRow(SQLModel, table=True):
    """A due date derived from a state's timer: pending until fired, lapsed or cancelled."""

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_due", "status", "due_date"),
        Index("ix_timer_case_status", "case_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    case_id: str = Field(index=True)
    timer_id: str
    state: str
    action: str
    trigger: str | None = None
    escalate_role: str | None = None
    due_date: dt.date
    status: str = "pending"
    explanation: str
    calendar: str
    calendar_version: int
    armed_seq: int
    closed_seq: int | None = None


# The engine's bookkeeping tables are SQLAlchemy Core tables on the same metadata: no code builds
# model objects of them, and each SQLModel class costs ~2.6 ms of every command's start-up
# (`cme case show` must start within 1.3x of importing sqlmodel). Column types are SQLModel's
# own, so the schema is the one the SQLModel classes made (tests/engine/test_store.py).
_metadata = SQLModel.metadata


def _id() -> Column[Any]:
    return Column("id", Integer, primary_key=True)


def _text(name: str, *, null: bool = False, index: bool = False) -> Column[Any]:
    return Column(name, AutoString, nullable=null, index=index)


def _int(name: str, *, default: int | None = None) -> Column[Any]:
    return Column(name, Integer, nullable=False, default=default)


def _when(name: str, *, null: bool = False) -> Column[Any]:
    return Column(name, UTCDateTime, nullable=null)


calendar_version_table = Table(
    # A school calendar as loaded, so deadlines can say which calendar version they used.
    "calendar_version", _metadata,
    _id(), _text("name", index=True), _int("version"), _text("content_hash"),
    _text("yaml_text"), _when("loaded_at"),
    # England's bank holidays the calendar was built with, as JSON {date: name}: pinned with the
    # version, so reading a case needs no `holidays` package (slow to import) and a package
    # update never moves a deadline silently.
    _text("bank_holidays", null=True),
    UniqueConstraint("name", "version"),
)

outbox_table = Table(
    # A letter, email or referral the engine asked an adapter to send; kept until it is sent.
    "outbox", _metadata,
    _id(), _text("case_id", index=True), _int("event_seq"), _int("position"), _text("kind"),
    _text("recipient"), _text("template", null=True), _text("channel", null=True),
    _text("wording"), Column("status", AutoString, nullable=False, default="pending", index=True),
    _int("attempts", default=0), _text("last_error", null=True),
    Column("created_on", Date, nullable=False), _when("sent_at", null=True),
    UniqueConstraint("case_id", "event_seq", "position"),
)

access_log_table = Table(
    # Who read which case, when, and how: reading a child's record is itself recorded.
    "access_log", _metadata,
    _id(), _text("case_id", null=True, index=True), _text("actor"), _text("role"),
    _text("action"), _when("at"),
)

document_table = Table(
    # A printable document (a letter) produced for a case and filed with it; template_version
    # is the sha256 of the template text it was rendered from.
    "document", _metadata,
    _id(), _text("case_id", index=True), Column("outbox_id", Integer, index=True),
    _text("template"), _text("template_version"), _text("filename"), _text("media_type"),
    Column("content", LargeBinary, nullable=False), _text("sha256"),
    Column("created_on", Date, nullable=False), _when("created_at"),
)

import_ledger_table = Table(
    # One imported row, by source and row key, so importing it again creates nothing; `result`
    # is what the row did (the case ids it opened, the check it recorded).
    "import_ledger", _metadata,
    _id(), _text("source"), _text("row_key"), _text("file_sha256"), _int("line"),
    _text("result"), _when("imported_at"),
    UniqueConstraint("source", "row_key", name="uq_import_source_row"),
)

counter_table = Table(
    # Hands out case numbers; one row per prefix.
    "case_counter", _metadata,
    Column("prefix", AutoString, primary_key=True), _int("last", default=0),
)

case_key_table = Table(
    # A case's data key, wrapped by the master key (kept outside the database;
    # engine/protection/crypto.py).
    # A purge overwrites `wrapped` and keeps the row as a tombstone saying who destroyed it, why.
    "case_key", _metadata,
    Column("case_id", AutoString, primary_key=True), _text("key_id"),
    _text("wrapped", null=True), _text("master_key_id"), _when("created_at"),
    _when("destroyed_at", null=True), _text("destroyed_by", null=True),
    _text("destroyed_reason", null=True),
)

schema_version_table = Table(
    # Which schema upgrade steps have been applied.
    "schema_version", _metadata,
    Column("step", Integer, primary_key=True), _text("name"),
)


def _create_all(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)


def _add_column(conn: Connection, table: str, column: str, ddl: str) -> None:
    # Databases made by step 1 after the column joined the table's declaration already have it.
    if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))


# Named, ordered upgrade steps; a database records each step it has had. Add new steps at the
# end, never edit an old one, so every database reaches the same schema by the same path.
def _create_documents_and_import_ledger(conn: Connection) -> None:
    document_table.create(conn, checkfirst=True)
    import_ledger_table.create(conn, checkfirst=True)


def _create_case_keys_and_legal_hold(conn: Connection) -> None:
    case_key_table.create(conn, checkfirst=True)
    _add_column(conn, "cme_case", "legal_hold", "BOOLEAN NOT NULL DEFAULT FALSE")


def _index_timers_by_case(conn: Connection) -> None:
    # Cancelling a case's pending timers (`case_id = ? AND status = 'pending'`) must not scan
    # every pending timer, which SQLite's planner did through ix_timer_due (status, due_date).
    conn.execute(text(
        "CREATE INDEX IF NOT EXISTS ix_timer_case_status ON timer (case_id, status)"
    ))


def _add_calendar_bank_holidays(conn: Connection) -> None:
    _add_column(conn, "calendar_version", "bank_holidays", "TEXT")
    from engine.cases.projection import canonical_json
    from engine.errors import CMEError
    from engine.time.calendar import SchoolCalendar

    rows = conn.execute(text(
        "SELECT id, name, version, yaml_text FROM calendar_version WHERE bank_holidays IS NULL"
    )).all()
    for row in rows:
        try:
            cal = SchoolCalendar.from_yaml(row.yaml_text, f"stored:{row.name}@{row.version}")
        except CMEError:
            continue  # left to be pinned when the version is next published
        pinned = canonical_json({d.isoformat(): n for d, n in cal.bank_holidays.items()})
        conn.execute(text("UPDATE calendar_version SET bank_holidays = :b WHERE id = :i"),
                     {"b": pinned, "i": row.id})


def _add_process_outlines(conn: Connection) -> None:
    _add_column(conn, "process_version", "outline", "TEXT")
    rows = conn.execute(text(
        "SELECT id, process_id, version, yaml_text FROM process_version WHERE outline IS NULL"
    )).all()
    if not rows:
        return  # a new database: nothing to outline, and no need to load the loader
    from engine.errors import CMEError
    from engine.language.loader import load_process_text

    for row in rows:
        try:
            loaded = load_process_text(row.yaml_text, f"stored:{row.process_id}@{row.version}")
        except CMEError:
            continue  # read from its text instead (engine/cases/reading.py), as before this step
        conn.execute(text("UPDATE process_version SET outline = :o WHERE id = :i"),
                     {"o": loaded.definition.outline().to_json(), "i": row.id})


SCHEMA_STEPS: list[tuple[str, Callable[[Connection], None]]] = [
    ("create tables", _create_all),
    ("documents filed with cases; import ledger", _create_documents_and_import_ledger),
    ("case keys; legal hold on cases", _create_case_keys_and_legal_hold),
    ("timers indexed by case and status", _index_timers_by_case),
    ("bank holidays pinned with each calendar version", _add_calendar_bank_holidays),
    ("an outline stored with each process version", _add_process_outlines),
]


def database_url(url: str | None) -> str:
    """The URL to use: the one given, else CME_DATABASE_URL, else SQLite in .cme/cme.db."""
    url = url or os.environ.get("CME_DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            return "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # synchronous=FULL: in WAL mode NORMAL may lose the last commits on power loss, and an
    # officer told "done" must be able to rely on it. busy_timeout lets writers queue.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
    # Let SQLAlchemy's BEGIN be the real one (see _sqlite_begin).
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of one failing
    # late with "database is locked" on lock upgrade. Readers (`Store.read`) take no lock: in
    # WAL mode they see the last commit and never block a writer.
    if conn.get_execution_options().get("cme_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass
class Store:
    """An open database: the engine plus what kind it is."""

    engine: Engine
    url: str

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite store."""
        return self.engine.dialect.name == "sqlite"

    def read(self) -> Connection:
        """A connection for reading only (use it in `with`); on SQLite it takes no write lock."""
        return self.engine.connect().execution_options(cme_read_only=True)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_store(url: str | None = None, *, upgrade: bool = True) -> Store:
    """Open (and, by default, create or upgrade) the database at `url`."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from engine.errors import InputError

    resolved = database_url(url)
    try:
        if resolved.startswith("sqlite"):
            engine = create_engine(resolved, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(resolved, pool_pre_ping=True)
    except ArgumentError as exc:
        raise InputError(
            f"{url or resolved!r} is not a database URL cme can use ({exc}); write e.g. "
            "sqlite:///path/to/cme.db or postgresql://user@host/dbname"
        ) from None
    store = Store(engine=engine, url=resolved)
    if upgrade:
        try:
            upgrade_schema(store)
        except OperationalError as exc:
            store.dispose()
            where = engine.url.render_as_string(hide_password=True)
            raise InputError(
                f"cannot open the database at {where}: {str(exc.orig).strip()}; check --db or "
                "CME_DATABASE_URL (and that the folder or server exists)"
            ) from None
    return store


def upgrade_schema(store: Store) -> list[str]:
    """Apply every schema step this database has not had; return the names applied."""
    if _schema_steps_done(store) == len(SCHEMA_STEPS):
        return []  # the usual case, checked without taking SQLite's write lock
    applied: list[str] = []
    with store.engine.begin() as conn:
        schema_version_table.create(conn, checkfirst=True)
        done = {row[0] for row in conn.execute(text("SELECT step FROM schema_version"))}
        newer = sorted(s for s in done if s > len(SCHEMA_STEPS))
        if newer:
            from engine.errors import InputError

            raise InputError(
                f"this database has schema step {newer[-1]}, newer than this cme knows "
                f"({len(SCHEMA_STEPS)} steps): it was upgraded by a newer cme; install that"
            )
        for number, (name, step) in enumerate(SCHEMA_STEPS, start=1):
            if number in done:
                continue
            step(conn)
            conn.execute(
                text("INSERT INTO schema_version (step, name) VALUES (:s, :n)"),
                {"s": number, "n": name},
            )
            applied.append(name)
    if applied:
        log.info("schema upgraded: %s", ", ".join(applied))
    return applied


def _schema_steps_done(store: Store) -> int | None:
    """How many steps the database has had, if it has exactly steps 1..N; else None."""
    from sqlalchemy.exc import DBAPIError

    try:
        with store.read() as conn:
            count, last = conn.execute(
                text("SELECT count(*), max(step) FROM schema_version")
            ).one()
    except DBAPIError:
        return None  # no schema_version table yet (or no database): upgrade_schema decides
    return int(count) if count == last else None


case_table = CaseRow.__table__  # type: ignore[attr-defined]
event_table = EventRow.__table__  # type: ignore[attr-defined]
timer_table = TimerRow.__table__  # type: ignore[attr-defined]
process_version_table = ProcessVersionRow.__table__  # type: ignore[attr-defined]
