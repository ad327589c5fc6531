"""The tables: process versions, cases, events and timers (SQLModel), and the engine's
bookkeeping tables (SQLAlchemy Core, on the same metadata).

Owns the shape of every table. Does not own the upgrade steps (`engine/store/schema.py`), opening
the database (`engine/store/database.py`), nor what goes in the rows (`engine/cases/`,
`engine/scheduling/`). JSON columns are text we serialise ourselves, so the hash chain sees
exactly the bytes that are stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Column, Date, Index, Integer, LargeBinary, Table, UniqueConstraint
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime


class ProcessVersionRow(SQLModel, table=True):
    """A process definition as loaded: its YAML text, pinned by id, version and content hash."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("process_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(index=True)
    version: int
    content_hash: str
    effective_from: dt.date | None = None
    """The date the version comes into force: its text's `effective_from`, or for a pending
    version the date a policy owner gave (`process_commencement`); None while pending."""
    yaml_text: str
    loaded_at: dt.datetime
    outline: str | None = None
    """The version's outline as JSON (`engine/language/outline.py`): what showing a case prints of
    it,
    derived from `yaml_text` when published, so a read builds no definition models."""


class CaseRow(SQLModel, table=True):
    """The case as it stands: a projection of its events that replay must reproduce exactly."""

    __tablename__ = "cme_case"
    # An officer's own open cases (`cme case list --mine`, `cme due --officer`, the web
    # dashboard) are read by officer and whether closed: without it, a scan of every case.
    __table_args__ = (Index("ix_case_officer_open", "assigned_officer", "terminal"),)
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
    engine/cases/purge.py)."""
    progress: str = "{}"
    """What checks need beyond the stage the case is in (engine/cases/projection.py): stages
    entered and when, stages cleared, checks waived and checks escalated."""


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
# own, so the schema is the one the SQLModel classes made (tests/engine/store/test_store.py).
_metadata = SQLModel.metadata


def _id() -> Column[Any]:
    return Column("id", Integer, primary_key=True)


def _text(name: str, *, null: bool = False, index: bool = False) -> Column[Any]:
    return Column(name, AutoString, nullable=null, index=index)


def _int(name: str, *, default: int | None = None) -> Column[Any]:
    return Column(name, Integer, nullable=False, default=default)


def _when(name: str, *, null: bool = False) -> Column[Any]:
    return Column(name, UTCDateTime, nullable=null)


def stored_path(name: str, version: int) -> str:
    """The path a stored process or calendar version is reported under (`stored:name@version`):
    the one spelling, in messages and in `path:line:col` issues.
    """
    return f"stored:{name}@{version}"


calendar_version_table = Table(
    # A school calendar as loaded, so deadlines can say which calendar version they used.
    "calendar_version",
    _metadata,
    _id(),
    _text("name", index=True),
    _int("version"),
    _text("content_hash"),
    _text("yaml_text"),
    _when("loaded_at"),
    # England's bank holidays the calendar was built with, as JSON {date: name}: pinned with the
    # version, so reading a case needs no `holidays` package (slow to import) and a package
    # update never moves a deadline silently.
    _text("bank_holidays", null=True),
    UniqueConstraint("name", "version"),
)

process_commencement_table = Table(
    # The date a pending process version (one whose text gives no effective_from) comes into
    # force, as a policy owner gave it (`cme process commence`): who, in which role, and when.
    "process_commencement",
    _metadata,
    _id(),
    _text("process_id", index=True),
    _int("version"),
    Column("effective_from", Date, nullable=False),
    _text("actor"),
    _text("role"),
    _when("recorded_at"),
    UniqueConstraint("process_id", "version"),
)

outbox_table = Table(
    # A letter, email or referral the engine asked an adapter to send; kept until it is sent.
    "outbox",
    _metadata,
    _id(),
    _text("case_id", index=True),
    _int("event_seq"),
    _int("position"),
    _text("kind"),
    _text("recipient"),
    _text("template", null=True),
    _text("channel", null=True),
    _text("wording"),
    Column("status", AutoString, nullable=False, default="pending", index=True),
    _int("attempts", default=0),
    _text("last_error", null=True),
    Column("created_on", Date, nullable=False),
    _when("sent_at", null=True),
    UniqueConstraint("case_id", "event_seq", "position"),
)

access_log_table = Table(
    # Who read which case, when, and how: reading a child's record is itself recorded.
    "access_log",
    _metadata,
    _id(),
    _text("case_id", null=True, index=True),
    _text("actor"),
    _text("role"),
    _text("action"),
    _when("at"),
)

document_table = Table(
    # A printable document (a letter) produced for a case and filed with it; template_version
    # is the sha256 of the template text it was rendered from.
    "document",
    _metadata,
    _id(),
    _text("case_id", index=True),
    Column("outbox_id", Integer, index=True),
    _text("template"),
    _text("template_version"),
    _text("filename"),
    _text("media_type"),
    Column("content", LargeBinary, nullable=False),
    _text("sha256"),
    Column("created_on", Date, nullable=False),
    _when("created_at"),
)

import_ledger_table = Table(
    # One imported row, by source and row key, so importing it again creates nothing; `result`
    # is what the row did (the case ids it opened, the check it recorded).
    "import_ledger",
    _metadata,
    _id(),
    _text("source"),
    _text("row_key"),
    _text("file_sha256"),
    _int("line"),
    _text("result"),
    _when("imported_at"),
    UniqueConstraint("source", "row_key", name="uq_import_source_row"),
)

counter_table = Table(
    # Hands out case numbers; one row per prefix.
    "case_counter",
    _metadata,
    Column("prefix", AutoString, primary_key=True),
    _int("last", default=0),
)

case_key_table = Table(
    # A case's data key, wrapped by the master key (kept outside the database;
    # engine/protection/crypto.py).
    # A purge overwrites `wrapped` and keeps the row as a tombstone saying who destroyed it, why.
    "case_key",
    _metadata,
    Column("case_id", AutoString, primary_key=True),
    _text("key_id"),
    _text("wrapped", null=True),
    _text("master_key_id"),
    _when("created_at"),
    _when("destroyed_at", null=True),
    _text("destroyed_by", null=True),
    _text("destroyed_reason", null=True),
)

schema_version_table = Table(
    # Which schema upgrade steps have been applied.
    "schema_version",
    _metadata,
    Column("step", Integer, primary_key=True),
    _text("name"),
)

case_ledger_table = Table(
    # Every case opening, in order, hash-chained (engine/store/integrity.py): deleting a whole
    # case (events, row, timers, key) leaves its entry behind, and deleting the entry too breaks
    # the chain. `source` is "opened" (written with the case) or "upgrade" (backfilled).
    "case_ledger",
    _metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("case_id", AutoString, nullable=False, unique=True),
    _text("first_hash"),
    _when("recorded_at"),
    _text("source"),
    _text("prev_hash"),
    _text("hash"),
)

integrity_mark_table = Table(
    # A case whose history failed verification: it takes no new event until an auditor clears
    # the mark (`cme audit clear`), which records who and why.
    "integrity_mark",
    _metadata,
    _id(),
    _text("case_id", index=True),
    Column("seq", Integer, nullable=True),
    _text("problem"),
    _when("found_at"),
    _text("found_by"),
    _when("cleared_at", null=True),
    _text("cleared_by", null=True),
    _text("cleared_reason", null=True),
)

run_log_table = Table(
    # What the scheduler and the auditors' tools did, when: sweeps and signed checkpoints, so
    # `cme doctor` can tell how far behind they are. `detail` is JSON.
    "run_log",
    _metadata,
    _id(),
    _text("kind", index=True),
    _when("started_at"),
    _when("finished_at"),
    Column("on_date", Date, nullable=True),
    _text("detail"),
)

case_index_table = Table(
    # The blind index (engine/cases/case_index.py): one row per keyed digest of a normalised
    # token of a case's personal data (a name part or prefix, UPN, date of birth, school,
    # postcode), so a case is found without its data being stored or decrypted. Written in the
    # transaction that writes the case; emptied for a case whose personal data is purged.
    "case_index",
    _metadata,
    Column("token", AutoString, primary_key=True),
    Column("case_id", AutoString, primary_key=True),
    Index("ix_case_index_case", "case_id"),
)

case_index_key_table = Table(
    # Which search key the blind index was made with (its fingerprint, never the key): a
    # digest made with another key finds nothing, so a different key is refused, not used.
    "case_index_key",
    _metadata,
    Column("key_id", AutoString, primary_key=True),
    _when("made_at"),
)

web_account_table = Table(
    # Who may sign in to the web service (engine/web/accounts.py): a local account keeps an
    # argon2 hash of its password; an account signed in through the council's identity provider
    # (OpenID Connect) keeps none. `school` limits a school's user to the cases it notified.
    "web_account",
    _metadata,
    Column("name", AutoString, primary_key=True),
    Column("role", AutoString, nullable=False),
    Column("password_hash", AutoString, nullable=True),
    Column("school", AutoString, nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    _when("created_at"),
    Column("created_by", AutoString, nullable=False),
)


case_table = CaseRow.__table__  # type: ignore[attr-defined]
event_table = EventRow.__table__  # type: ignore[attr-defined]
timer_table = TimerRow.__table__  # type: ignore[attr-defined]
process_version_table = ProcessVersionRow.__table__  # type: ignore[attr-defined]
