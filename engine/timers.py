"""The sweep: fire every pending timer due by a date, once, with its due date as the effective date.

Owns claiming due timer rows (in due order, in bounded batches, `FOR UPDATE SKIP LOCKED` on
PostgreSQL so several sweepers share the work), handing each to `CaseService.fire_timer_in`, and
counting what happened. Does not own what a timer does (the service) nor when the sweep runs (the
scheduler and `cme tick`). Re-projecting deadlines after a calendar edit lives in `reprojection.py`
terms here too: see `reproject_calendar`.

A batch is one transaction: a crash rolls the whole batch back and nothing is half-fired; the
next sweep simply finds the same timers still pending. Every timer update is guarded by
`status = 'pending'`, so running the sweep twice, or two sweepers at once, fires nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.engine import Connection

from engine.service import CaseService
from engine.store import case_table, timer_table

log = logging.getLogger(__name__)

OUTCOMES = ("fired", "escalated", "lapsed", "cancelled")
"""What can become of a due timer: its step taken, escalated, lapsed (its condition no longer
held) or cancelled (the case had moved on)."""


@dataclass(frozen=True)
class Firing:
    """One due timer the sweep dealt with."""

    case_id: str
    timer_id: str
    key: str
    due_date: dt.date
    action: str
    """The step it takes (a trigger id) or `escalate to <role>`."""
    outcome: str
    """fired, escalated, lapsed or cancelled."""


@dataclass
class SweepResult:
    """What a sweep did: counts by outcome, the due dates it covered, and (if kept) each firing."""

    until: dt.date
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    batches: int = 0
    first_due: dt.date | None = None
    last_due: dt.date | None = None
    firings: list[Firing] = field(default_factory=list)
    stopped_early: bool = False
    """True when `max_firings` or `stop` ended the sweep with due timers still pending."""

    @property
    def total(self) -> int:
        """Every due timer dealt with, whatever became of it."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line for people and logs."""
        if not self.total:
            return f"nothing due on or before {self.until.isoformat()}"
        parts = ", ".join(f"{n} {k}" for k, n in self.counts.items() if n)
        span = (
            f"due {self.first_due.isoformat()} to {self.last_due.isoformat()}"
            if self.first_due and self.last_due else ""
        )
        more = "; stopped early, more are due" if self.stopped_early else ""
        return f"{self.total} due timers ({parts}), {span}, in {self.batches} batches{more}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `cme tick --json`)."""
        return {
            "until": self.until,
            "total": self.total,
            "counts": dict(self.counts),
            "batches": self.batches,
            "first_due": self.first_due,
            "last_due": self.last_due,
            "stopped_early": self.stopped_early,
            "firings": [f.__dict__ for f in self.firings],
        }


Progress = Callable[[SweepResult], None]


def sweep(
    service: CaseService,
    *,
    until: dt.date,
    at: dt.datetime,
    batch_size: int = 200,
    max_firings: int | None = None,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
    keep_firings: bool = False,
) -> SweepResult:
    """Fire every pending timer due on or before `until`, each with its due date as effective date.

    Timers are claimed in (due date, id) order, `batch_size` to a transaction, and the loop runs
    until none is due, so a timer armed by a firing and already due fires in the same sweep.
    `at` is the recorded time of every event. `progress` is called after each committed batch;
    `stop` is asked before each batch and ends the sweep cleanly when it returns True.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    result = SweepResult(until=until)
    store = service.store
    blocking = False
    while True:
        if stop is not None and stop():
            result.stopped_early = _any_due(service, until)
            break
        limit = batch_size
        if max_firings is not None:
            limit = min(limit, max_firings - result.total)
            if limit <= 0:
                result.stopped_early = _any_due(service, until)
                break
        # One transaction per batch; the service's own reads join it (see CaseService.batch).
        with service.batch() as conn:
            claimed = _claim(conn, until=until, limit=limit, is_sqlite=store.is_sqlite,
                             skip_locked=not blocking)
            if claimed:
                _fire_batch(service, conn, claimed, at=at, result=result,
                            keep=keep_firings)
        if not claimed:
            # On PostgreSQL another sweeper (or an officer) may hold the rest: wait for them
            # once with a blocking claim, so `cme tick` never returns with due timers left.
            if blocking or store.is_sqlite or not _any_due(service, until):
                break
            blocking = True
            continue
        blocking = False
        result.batches += 1
        if progress is not None:
            progress(result)
    log.info("sweep until %s: %s", until.isoformat(), result.summary())
    return result


def _claim(
    conn: Connection, *, until: dt.date, limit: int, is_sqlite: bool, skip_locked: bool
) -> list[dict[str, Any]]:
    """Pending timers due by `until`, oldest first; on PostgreSQL their timer and case rows locked.

    Locking the case row too means two sweepers never work on one case at once (its events must
    chain in order), and a case an officer is changing is left for the next batch.
    """
    query = (
        select(timer_table)
        .where(and_(timer_table.c.status == "pending", timer_table.c.due_date <= until))
        .order_by(timer_table.c.due_date, timer_table.c.id)
        .limit(limit)
    )
    if not is_sqlite:
        # SQLite's BEGIN IMMEDIATE (store.py) already serialises writers, so it needs no lock.
        query = (
            query.join(case_table, case_table.c.id == timer_table.c.case_id)
            .with_for_update(skip_locked=skip_locked, of=[timer_table, case_table])
        )
    return [dict(row._mapping) for row in conn.execute(query)]


def _fire_batch(
    service: CaseService,
    conn: Connection,
    claimed: list[dict[str, Any]],
    *,
    at: dt.datetime,
    result: SweepResult,
    keep: bool,
) -> None:
    """Fire the claimed timers in order inside the caller's transaction, counting outcomes."""
    moved: set[str] = set()
    for timer in claimed:
        case_id = timer["case_id"]
        if case_id in moved:
            # An earlier timer in this batch moved the case on, which cancelled or re-armed its
            # timers; whatever is still pending is claimed afresh by the next batch.
            continue
        status = service.fire_timer_in(conn, timer, at=at)
        due = _as_date(timer["due_date"])
        if status == "fired" and timer["action"] == "escalate":
            outcome = "escalated"
        else:
            outcome = status
        if status == "fired" and timer["action"] == "fire":
            moved.add(case_id)
        result.counts[outcome] = result.counts.get(outcome, 0) + 1
        if result.first_due is None or due < result.first_due:
            result.first_due = due
        if result.last_due is None or due > result.last_due:
            result.last_due = due
        if keep:
            result.firings.append(Firing(
                case_id=case_id, timer_id=timer["timer_id"], key=timer["key"], due_date=due,
                action=timer["trigger"] or f"escalate to {timer['escalate_role']}",
                outcome=outcome,
            ))


def _any_due(service: CaseService, until: dt.date) -> bool:
    with service.store.engine.connect() as conn:
        return bool(conn.execute(select(exists().where(and_(
            timer_table.c.status == "pending", timer_table.c.due_date <= until
        )))).scalar())


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


__all__ = ["Firing", "SweepResult", "sweep"]
