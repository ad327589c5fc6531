"""The ledger of case openings and the marks on cases whose history failed verification.

Owns the ledger's rows and hash (one entry per case, in the order cases were opened, each
chained to the one before and binding the case's first event) and the integrity marks (a case
marked by verify takes no new event until an auditor clears the mark). Both sit in the store
because the unit of work writes the ledger and reads the marks in a command's transaction, and a
schema step backfills the ledger; checking them is `engine/audit/verify.py`'s job.

Why a ledger: every case's own chain is checked against itself, so deleting a whole case (its
events, row, timers and key) left nothing to compare with. Its ledger entry stays, and removing
the entry too breaks the ledger's chain at the next entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, text, update
from sqlalchemy.engine import Connection

from engine.errors import IntegrityFailure
from engine.store.tables import case_ledger_table, integrity_mark_table

LEDGER_GENESIS = "0" * 64
CLEAR_COMMAND = "cme audit clear {case_id} --reason TEXT --role auditor"
"""What an auditor runs to clear a case's integrity mark (named in every refusal)."""


def ledger_hash(seq: int, case_id: str, first_hash: str, prev_hash: str) -> str:
    """The hash of ledger entry `seq`: the case and its first event's hash, chained."""
    body = json.dumps(
        {"case_id": case_id, "first_hash": first_hash, "seq": seq},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One case opening as the ledger holds it."""

    seq: int
    case_id: str
    first_hash: str
    recorded_at: Any
    source: str
    prev_hash: str
    hash: str


def append_opening(
    conn: Connection, case_id: str, first_hash: str, *, at: dt.datetime, source: str = "opened"
) -> LedgerEntry:
    """Add a case opening to the ledger, in the caller's transaction (the one opening the case)."""
    if conn.dialect.name == "postgresql":
        # One ledger tail for every writer: openings queue here (SQLite's BEGIN IMMEDIATE
        # already serialises writers). Held until the transaction ends.
        conn.execute(text("SELECT pg_advisory_xact_lock(7342001)"))
    tail = conn.execute(
        select(case_ledger_table.c.seq, case_ledger_table.c.hash)
        .order_by(case_ledger_table.c.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (1, LEDGER_GENESIS) if tail is None else (tail[0] + 1, tail[1])
    entry = LedgerEntry(
        seq, case_id, first_hash, at, source, prev, ledger_hash(seq, case_id, first_hash, prev)
    )
    conn.execute(insert(case_ledger_table).values(**entry.__dict__))
    return entry


def backfill_ledger(conn: Connection) -> int:
    """Enter every case not yet in the ledger, in the order of their first events; how many.

    Run by the schema step that adds the ledger: a case deleted before then cannot be detected.
    The entries are chained here and written in bulk (a national database has millions).
    """
    known = {r[0] for r in conn.execute(select(case_ledger_table.c.case_id))}
    tail = conn.execute(
        select(case_ledger_table.c.seq, case_ledger_table.c.hash)
        .order_by(case_ledger_table.c.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (0, LEDGER_GENESIS) if tail is None else (int(tail[0]), str(tail[1]))
    rows = conn.execute(
        text(
            "SELECT case_id, hash, recorded_at FROM case_event WHERE seq = 1 "
            "ORDER BY recorded_at, case_id"
        )
    )
    batch: list[dict[str, Any]] = []
    added = 0
    for case_id, first_hash, recorded_at in rows:
        if case_id in known:
            continue
        seq += 1
        digest = ledger_hash(seq, case_id, first_hash, prev)
        batch.append(
            {
                "seq": seq,
                "case_id": case_id,
                "first_hash": first_hash,
                "recorded_at": _aware(recorded_at),
                "source": "upgrade",
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
        added += 1
        if len(batch) >= 5000:
            conn.execute(insert(case_ledger_table), batch)
            batch = []
    if batch:
        conn.execute(insert(case_ledger_table), batch)
    return added


def _aware(value: Any) -> dt.datetime:
    at = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)  # SQLite: UTC, no offset


# --- integrity marks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """A case's open integrity mark: what verification found, and when."""

    case_id: str
    seq: int | None
    problem: str
    found_at: Any
    found_by: str


def open_marks(conn: Connection, case_id: str | None = None) -> list[Mark]:
    """Marks not yet cleared (one case's, or every case's), oldest first."""
    t = integrity_mark_table
    query = (
        select(t.c.case_id, t.c.seq, t.c.problem, t.c.found_at, t.c.found_by)
        .where(t.c.cleared_at.is_(None))
        .order_by(t.c.id)
    )
    if case_id is not None:
        query = query.where(t.c.case_id == case_id)
    return [Mark(*row) for row in conn.execute(query)]


def marked_among(conn: Connection, case_ids: Collection[str]) -> dict[str, Mark]:
    """The first open mark of each of these cases that has one (a sweep batch's cases)."""
    if not case_ids:
        return {}
    t = integrity_mark_table
    out: dict[str, Mark] = {}
    for row in conn.execute(
        select(t.c.case_id, t.c.seq, t.c.problem, t.c.found_at, t.c.found_by)
        .where(and_(t.c.cleared_at.is_(None), t.c.case_id.in_(sorted(case_ids))))
        .order_by(t.c.id)
    ):
        out.setdefault(row[0], Mark(*row))
    return out


_OPEN_MARKS_OF_CASE = (
    select(
        integrity_mark_table.c.case_id,
        integrity_mark_table.c.seq,
        integrity_mark_table.c.problem,
        integrity_mark_table.c.found_at,
        integrity_mark_table.c.found_by,
    )
    .where(
        integrity_mark_table.c.cleared_at.is_(None),
        integrity_mark_table.c.case_id == bindparam("case_id"),
    )
    .order_by(integrity_mark_table.c.id)
    .limit(1)
)
# Built once: every officer command asks this, and building the statement each time cost more
# than running it (benchmarks/commands.py).


def refuse_if_marked(conn: Connection, case_id: str) -> None:
    """IntegrityFailure if the case's history failed verification and no auditor has cleared it."""
    row = conn.execute(_OPEN_MARKS_OF_CASE, {"case_id": case_id}).first()
    if row is not None:
        raise IntegrityFailure(marked_message(Mark(*row)))


def marked_message(mark: Mark) -> str:
    """Why a marked case takes no new event, and the command that clears the mark."""
    found = (
        mark.found_at.isoformat(sep=" ", timespec="seconds")
        if isinstance(mark.found_at, dt.datetime)
        else str(mark.found_at)[:19]
    )
    where = f"event {mark.seq}: " if mark.seq is not None else ""
    return (
        f"case {mark.case_id} takes no new changes: its history failed verification on {found} "
        f"({where}{mark.problem}); nothing was written. An auditor examines it and clears the "
        f"mark with `{CLEAR_COMMAND.format(case_id=mark.case_id)}`"
    )


def add_mark(
    conn: Connection,
    case_id: str,
    seq: int | None,
    problem: str,
    *,
    at: dt.datetime,
    by: str,
) -> bool:
    """Mark a case unless the same problem is marked already (cleared or not); whether added.

    A problem an auditor has cleared is not marked again when verify finds it once more: they
    have seen it. A new problem on the same case is.
    """
    t = integrity_mark_table
    seen = conn.execute(
        select(t.c.id).where(
            and_(
                t.c.case_id == case_id,
                t.c.problem == problem,
                t.c.seq.is_(None) if seq is None else t.c.seq == seq,
            )
        )
    ).first()
    if seen is not None:
        return False
    conn.execute(
        insert(t).values(case_id=case_id, seq=seq, problem=problem, found_at=at, found_by=by)
    )
    return True


def clear_marks(conn: Connection, case_id: str, *, at: dt.datetime, by: str, reason: str) -> int:
    """Clear a case's open marks, recording who and why; how many were open."""
    t = integrity_mark_table
    done = conn.execute(
        update(t)
        .where(and_(t.c.case_id == case_id, t.c.cleared_at.is_(None)))
        .values(cleared_at=at, cleared_by=by, cleared_reason=reason)
    )
    return int(done.rowcount)


__all__ = [
    "CLEAR_COMMAND",
    "LEDGER_GENESIS",
    "LedgerEntry",
    "Mark",
    "add_mark",
    "append_opening",
    "backfill_ledger",
    "clear_marks",
    "ledger_hash",
    "marked_among",
    "marked_message",
    "open_marks",
    "refuse_if_marked",
]
