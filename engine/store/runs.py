"""The run log: when the scheduler swept and when a checkpoint was signed, kept in the database.

Owns writing and reading `run_log` rows. The scheduler records each sweep (the day it swept up
to, what it fired, the timers it could not take); signing a checkpoint records its time, root
and key. `cme doctor` reads the latest of each to say how far behind they are.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from engine.store.tables import run_log_table

SWEEP = "sweep"
CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class Run:
    """One recorded run."""

    kind: str
    started_at: dt.datetime
    finished_at: dt.datetime
    on_date: dt.date | None
    detail: dict[str, Any]


def record_run(
    conn: Connection,
    kind: str,
    *,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    on_date: dt.date | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a run in the caller's transaction."""
    conn.execute(
        insert(run_log_table).values(
            kind=kind,
            started_at=started_at,
            finished_at=finished_at,
            on_date=on_date,
            detail=json.dumps(detail or {}, sort_keys=True, default=str),
        )
    )


def last_run(conn: Connection, kind: str) -> Run | None:
    """The most recently finished run of this kind, or None if there has been none."""
    t = run_log_table
    row = conn.execute(
        select(t.c.kind, t.c.started_at, t.c.finished_at, t.c.on_date, t.c.detail)
        .where(t.c.kind == kind)
        .order_by(t.c.finished_at.desc(), t.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    on = row.on_date
    if isinstance(on, str):
        on = dt.date.fromisoformat(on[:10])
    return Run(row.kind, row.started_at, row.finished_at, on, json.loads(row.detail or "{}"))


__all__ = ["CHECKPOINT", "SWEEP", "Run", "last_run", "record_run"]
