"""The schema's named, ordered upgrade steps, and applying those a database has not had.

Owns `SCHEMA_STEPS` and `upgrade_schema` (called by `open_store`). A database records each step
it has had in `schema_version`. Two steps backfill data: bank holidays pinned with each calendar
version (needs `engine/time/`) and an outline stored with each process version (needs the loader).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from engine.store.tables import (
    case_key_table,
    document_table,
    import_ledger_table,
    schema_version_table,
    stored_path,
)

if TYPE_CHECKING:
    from engine.store.database import Store

log = logging.getLogger(__name__)


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
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_timer_case_status ON timer (case_id, status)"))


def _add_calendar_bank_holidays(conn: Connection) -> None:
    _add_column(conn, "calendar_version", "bank_holidays", "TEXT")
    from engine.errors import CMEError
    from engine.time.calendar import SchoolCalendar, bank_holidays_json

    rows = conn.execute(
        text(
            "SELECT id, name, version, yaml_text FROM calendar_version WHERE bank_holidays IS NULL"
        )
    ).all()
    for row in rows:
        try:
            cal = SchoolCalendar.from_yaml(row.yaml_text, stored_path(row.name, row.version))
        except CMEError:
            continue  # left to be pinned when the version is next published
        conn.execute(
            text("UPDATE calendar_version SET bank_holidays = :b WHERE id = :i"),
            {"b": bank_holidays_json(cal), "i": row.id},
        )


def _add_process_outlines(conn: Connection) -> None:
    _add_column(conn, "process_version", "outline", "TEXT")
    rows = conn.execute(
        text("SELECT id, process_id, version, yaml_text FROM process_version WHERE outline IS NULL")
    ).all()
    if not rows:
        return  # a new database: nothing to outline, and no need to load the loader
    from engine.errors import CMEError
    from engine.language.loader import load_process_text

    for row in rows:
        try:
            loaded = load_process_text(row.yaml_text, stored_path(row.process_id, row.version))
        except CMEError:
            continue  # read from its text instead (engine/cases/reading.py), as before this step
        conn.execute(
            text("UPDATE process_version SET outline = :o WHERE id = :i"),
            {"o": loaded.definition.outline().to_json(), "i": row.id},
        )


def _add_case_ledger(conn: Connection) -> None:
    # The ledger is backfilled from the cases there now: one deleted before this step cannot be
    # detected (SECURITY.md says so).
    from engine.store.integrity import backfill_ledger
    from engine.store.tables import case_ledger_table, integrity_mark_table, run_log_table

    for table in (case_ledger_table, integrity_mark_table, run_log_table):
        table.create(conn, checkfirst=True)
    backfill_ledger(conn)


def _add_case_index(conn: Connection) -> None:
    # Only the tables: the digests need the search key, which the schema step does not have.
    # The first command that holds it fills the index from the cases' decrypted data
    # (engine/cases/case_index.py, `ensure_index`), in its own transaction.
    from engine.store.tables import case_index_key_table, case_index_table

    for table in (case_index_table, case_index_key_table):
        table.create(conn, checkfirst=True)


def _allow_pending_process_versions(conn: Connection) -> None:
    # A pending version (no effective_from in its text) is stored with no date until a policy
    # owner gives one, recorded with who gave it in process_commencement.
    from engine.store.tables import process_commencement_table

    process_commencement_table.create(conn, checkfirst=True)
    column = next(
        c for c in inspect(conn).get_columns("process_version") if c["name"] == "effective_from"
    )
    if column["nullable"]:
        return  # made by step 1 after the column became nullable
    if conn.dialect.name != "sqlite":
        conn.execute(text("ALTER TABLE process_version ALTER COLUMN effective_from DROP NOT NULL"))
        return
    # SQLite cannot drop NOT NULL: rebuild the table under its declaration now, keeping rows.
    from engine.store.tables import process_version_table

    names = ", ".join(c.name for c in process_version_table.columns)
    conn.execute(text("ALTER TABLE process_version RENAME TO process_version_before_pending"))
    for index in inspect(conn).get_indexes("process_version_before_pending"):
        conn.execute(text(f"DROP INDEX IF EXISTS {index['name']}"))
    process_version_table.create(conn)
    conn.execute(
        text(
            f"INSERT INTO process_version ({names}) "
            f"SELECT {names} FROM process_version_before_pending"
        )
    )
    conn.execute(text("DROP TABLE process_version_before_pending"))


def _add_case_progress(conn: Connection) -> None:
    # '{}' is what every earlier case's history replays to: cases opened before it keep no
    # stages (their `opened` event does not ask to), and no earlier event waives, clears or
    # escalates a named check.
    _add_column(conn, "cme_case", "progress", "TEXT NOT NULL DEFAULT '{}'")


def _index_cases_by_officer(conn: Connection) -> None:
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_case_officer_open "
            "ON cme_case (assigned_officer, terminal)"
        )
    )


def _add_web_accounts(conn: Connection) -> None:
    from engine.store.tables import web_account_table

    web_account_table.create(conn, checkfirst=True)


SCHEMA_STEPS: list[tuple[str, Callable[[Connection], None]]] = [
    ("create tables", _create_all),
    ("documents filed with cases; import ledger", _create_documents_and_import_ledger),
    ("case keys; legal hold on cases", _create_case_keys_and_legal_hold),
    ("timers indexed by case and status", _index_timers_by_case),
    ("bank holidays pinned with each calendar version", _add_calendar_bank_holidays),
    ("an outline stored with each process version", _add_process_outlines),
    ("ledger of case openings; integrity marks; run log", _add_case_ledger),
    ("blind index of cases for finding them", _add_case_index),
    ("pending process versions and their commencement", _allow_pending_process_versions),
    ("checks outstanding across stages: case progress", _add_case_progress),
    ("web service accounts", _add_web_accounts),
    ("open cases indexed by officer", _index_cases_by_officer),
]


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
            count, last = conn.execute(text("SELECT count(*), max(step) FROM schema_version")).one()
    except DBAPIError:
        return None  # no schema_version table yet (or no database): upgrade_schema decides
    return int(count) if count == last else None


__all__ = ["SCHEMA_STEPS", "upgrade_schema"]
