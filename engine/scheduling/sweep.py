"""The sweep: fire every pending timer due by a date, once, with its due date as the effective date.

Owns claiming due timer rows (in due order, in bounded batches, `FOR UPDATE SKIP LOCKED` on
PostgreSQL so several sweepers share the work), handing each to `CaseService.fire_timer_in`, and
counting what happened. Does not own what a timer does (the service) nor when the sweep runs (the
scheduler and `cme tick`), nor moving deadlines when a calendar changes
(`engine/scheduling/calendar_reload.py`).

A batch is one transaction: a crash rolls the whole batch back and nothing is half-fired; the
next sweep simply finds the same timers still pending. Every timer update is guarded by
`status = 'pending'`, so running the sweep twice, or two sweepers at once, fires nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Insert, Update, and_, bindparam, exists, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engine.cases.projection import CaseState, as_date
from engine.cases.service import ONE_ROW_WRITES, CaseService
from engine.errors import CMEError, ConcurrentUpdate, InputError
from engine.language.outline import ESCALATE_CHECK
from engine.store.integrity import marked_among, marked_message
from engine.store.tables import case_table, timer_table

log = logging.getLogger(__name__)

_CONFLICT_RETRIES = 3
_LOCKED_RETRIES = 20
_LOCKED_PAUSE = 0.05  # seconds between looks at timers another transaction holds
_SELECT_CASES = select(case_table).where(case_table.c.id.in_(bindparam("ids", expanding=True)))

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
    locked_elsewhere: int = 0
    """Due timers left pending because another transaction held them (PostgreSQL): another
    sweeper fires them, or the next sweep does."""
    blocked: dict[str, str] = field(default_factory=dict)
    """Due timers whose step cannot be taken now (e.g. the deadline it arms falls past the
    calendar's last school year), by key, with why: left pending, tried again next sweep."""

    def add(self, firings: list[Firing], *, keep: bool) -> None:
        """Count a committed batch's firings (and keep them if asked)."""
        for f in firings:
            self.counts[f.outcome] = self.counts.get(f.outcome, 0) + 1
            if self.first_due is None or f.due_date < self.first_due:
                self.first_due = f.due_date
            if self.last_due is None or f.due_date > self.last_due:
                self.last_due = f.due_date
        if keep:
            self.firings.extend(firings)

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
            if self.first_due and self.last_due
            else ""
        )
        more = "; stopped early, more are due" if self.stopped_early else ""
        if self.blocked:
            first = next(iter(self.blocked.values()))
            more += f"; {len(self.blocked)} could not be taken and stay pending ({first})"
        if self.locked_elsewhere:
            more += f"; {self.locked_elsewhere} held by another sweeper or command"
        batches = f"{self.batches} batch{'es' if self.batches != 1 else ''}"
        return f"{self.total} due timers ({parts}), {span}, in {batches}{more}"

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
            "locked_elsewhere": self.locked_elsewhere,
            "blocked": dict(self.blocked),
            "firings": [f.__dict__ for f in self.firings],
        }


Progress = Callable[[SweepResult], None]


def sweep(  # noqa: C901 (claim, fire and retry in one transaction loop; the crash tests cover each branch)
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
        raise InputError("the batch size must be at least 1")
    if until > at.date():
        raise InputError(
            f"cannot fire timers due up to {until.isoformat()}: that is after the time this "
            f"sweep is recorded ({at.date().isoformat()}), and a step never takes effect "
            "before it happens"
        )
    service.forget_calendars()  # another process may have loaded a new calendar version
    result = SweepResult(until=until)
    store = service.store
    waits = conflicts = 0
    narrow = 0  # single-timer batches left while finding a timer whose step cannot be taken
    while True:
        if stop is not None and stop():
            result.stopped_early = _any_due(service, until)
            break
        limit = 1 if narrow else batch_size
        if max_firings is not None:
            limit = min(limit, max_firings - result.total)
            if limit <= 0:
                result.stopped_early = _any_due(service, until)
                break
        # One transaction per batch; the service's own reads join it (see CaseService.batch).
        done: list[Firing] = []
        claimed: list[dict[str, Any]] = []
        try:
            with service.batch() as conn:
                claimed = _claim(
                    conn, until=until, limit=limit, is_sqlite=store.is_sqlite, skip=result.blocked
                )
                if claimed:
                    writer = _WriteBehind(conn)
                    done = _fire_batch(
                        service, cast(Connection, writer), claimed, at=at, blocked=result.blocked
                    )
                    writer.flush()
        except ConcurrentUpdate as exc:
            # The batch was rolled back whole; its timers are still pending. Claim afresh.
            conflicts += 1
            if conflicts > _CONFLICT_RETRIES:
                raise
            log.warning("sweep batch rolled back, claiming again: %s", exc)
            continue
        except CMEError as exc:
            # One due timer's step cannot be taken now (e.g. the deadline it arms falls past the
            # calendar's last school year) and the batch rolled back whole. Rather than stall
            # every case behind it, find it by firing one timer at a time, leave it pending
            # (reported; the next sweep tries again) and carry on with the rest.
            if not claimed:
                raise
            if len(claimed) == 1:
                result.blocked[claimed[0]["key"]] = str(exc)
                log.warning("timer %s left pending: %s", claimed[0]["key"], exc)
                narrow = 0
            else:
                narrow = len(claimed)
            continue
        conflicts = 0
        narrow = max(0, narrow - 1)
        result.add(done, keep=keep_firings)
        if not claimed:
            # On PostgreSQL the rest may be locked by another sweeper, which fires them (and
            # what they arm), or by an officer's command for a moment: look again briefly, then
            # leave them to their holder or the next sweep. Waiting on the locks instead could
            # deadlock two sweepers.
            due = _count_due(service, until) - len(result.blocked)
            if store.is_sqlite or waits >= _LOCKED_RETRIES or due <= 0:
                result.locked_elsewhere = 0 if store.is_sqlite else max(0, due)
                break
            waits += 1
            time.sleep(_LOCKED_PAUSE)
            continue
        waits = 0
        result.batches += 1
        if progress is not None:
            progress(result)
    log.info("sweep until %s: %s", until.isoformat(), result.summary())
    return result


def _claim(
    conn: Connection,
    *,
    until: dt.date,
    limit: int,
    is_sqlite: bool,
    skip: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Pending timers due by `until`, oldest first; on PostgreSQL their cases' rows locked.

    Every change to a case's timers is made holding its case row (commands lock it first), so
    locking the case rows, and only those, gives a sweeper a case's due timers to itself: another
    sweeper skips the whole case, and takes its later timers, in due order, only after this
    batch commits. (Locking the timer rows too would let a sweeper hold one timer of a case it
    skipped, so a later step of that case could fire first and cancel it.) A case an officer is
    changing is left for the next batch.
    """
    query = (
        select(timer_table)
        .where(and_(timer_table.c.status == "pending", timer_table.c.due_date <= until))
        .order_by(timer_table.c.due_date, timer_table.c.id)
        .limit(limit)
    )
    if skip:
        query = query.where(timer_table.c.key.not_in(sorted(skip)))
    if not is_sqlite:
        # SQLite's BEGIN IMMEDIATE (engine/store/database.py) already serialises writers, so it
        # needs no lock.
        query = query.join(case_table, case_table.c.id == timer_table.c.case_id).with_for_update(
            skip_locked=True, of=case_table
        )
        ids = [row.id for row in conn.execute(query)]
        if not ids:
            return []
        # The claim saw the timers as they stood when it started; a case it then waited to
        # lock may have had them fired by another sweeper meanwhile. Read them again, now that
        # the cases are ours (a new statement sees everything committed before it).
        query = (
            select(timer_table)
            .where(and_(timer_table.c.id.in_(ids), timer_table.c.status == "pending"))
            .order_by(timer_table.c.due_date, timer_table.c.id)
        )
    return [dict(row._mapping) for row in conn.execute(query)]


def _fire_batch(
    service: CaseService,
    conn: Connection,
    claimed: list[dict[str, Any]],
    *,
    at: dt.datetime,
    blocked: dict[str, str],
) -> list[Firing]:
    """Fire the claimed timers in order inside the caller's transaction; what became of each.

    A timer of a case whose history failed verification (an integrity mark no auditor has
    cleared yet) is not fired: it is added to `blocked`, stays pending and fires once the mark
    is cleared.
    """
    done: list[Firing] = []
    moved: set[str] = set()
    # Every case of the batch, read at once: the batch holds their locks (SQLite's write lock,
    # or the rows claimed FOR UPDATE), and fire_timer_in keeps this current as it appends.
    ids = sorted({t["case_id"] for t in claimed})
    cases = {row.id: CaseState.from_row(row) for row in conn.execute(_SELECT_CASES, {"ids": ids})}
    marked = marked_among(conn, ids)  # read before any write is queued: nothing to send first
    for timer in claimed:
        case_id = timer["case_id"]
        if case_id in marked:
            blocked[timer["key"]] = marked_message(marked[case_id])
            continue
        if case_id in moved:
            # An earlier timer in this batch moved the case on, which cancelled or re-armed its
            # timers; whatever is still pending is claimed afresh by the next batch.
            continue
        status = service.fire_timer_in(conn, timer, at=at, cases=cases)
        if status == "skipped":
            continue  # another sweeper dealt with it first
        escalates = timer["action"] in ("escalate", ESCALATE_CHECK)
        outcome = "escalated" if status == "fired" and escalates else status
        if status == "fired" and timer["action"] == "fire":
            moved.add(case_id)
        done.append(
            Firing(
                case_id=case_id,
                timer_id=timer["timer_id"],
                key=timer["key"],
                due_date=as_date(timer["due_date"]),
                action=timer["trigger"] or f"escalate to {timer['escalate_role']}",
                outcome=outcome,
            )
        )
    return done


class _Queued:
    """What a queued write returns: the rows it will touch (checked when it is sent)."""

    def __init__(self, rowcount: int) -> None:
        self.rowcount = rowcount


class _WriteBehind:
    """A sweep batch's connection that sends the service's single-row writes in bulk.

    Writes made with the statements in `ONE_ROW_WRITES` (events, case rows, timer claims, new
    timers, outbox rows) are queued and sent as one executemany per statement; any other
    statement sends the queue first, so every read and every other write sees what came before
    it. Each queued update must touch exactly one row per parameter set, which is checked when
    it is sent: a mismatch (or a duplicate event) raises ConcurrentUpdate and the whole batch
    rolls back, as it would have without the queue. The service reads nothing through the
    batch's own connection that these writes change, so no read can miss a queued write.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # An executemany's row count is the sum over its parameter sets only where the driver
        # says so; elsewhere updates are sent one by one, as the service would.
        self._queueable = {
            id(s)
            for s in ONE_ROW_WRITES
            if isinstance(s, Insert) or conn.dialect.supports_sane_multi_rowcount
        }
        self._queue: dict[int, tuple[Any, tuple[str, ...], list[Mapping[str, Any]]]] = {}

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        """Queue a single-row write; send the queue and run anything else at once."""
        if id(statement) in self._queueable and parameters:
            rows = list(parameters) if isinstance(parameters, list) else [parameters]
            keys = tuple(rows[0])
            entry = self._queue.get(id(statement))
            if entry is not None and entry[1] != keys:
                self.flush()
                entry = None
            if entry is None:
                self._queue[id(statement)] = (statement, keys, rows)
            else:
                entry[2].extend(rows)
            return _Queued(len(rows))
        self.flush()
        return self._conn.execute(statement, parameters)

    def flush(self) -> None:
        """Send every queued write, one executemany per statement, checking row counts."""
        queue, self._queue = self._queue, {}
        for statement, _keys, rows in queue.values():
            try:
                done = self._conn.execute(statement, rows)
            except IntegrityError:
                raise ConcurrentUpdate(
                    "a timer's event was written by someone else while this sweep batch ran; "
                    "the batch was rolled back and nothing from it was kept"
                ) from None
            if isinstance(statement, Update) and done.rowcount != len(rows):
                raise ConcurrentUpdate(
                    f"{len(rows) - done.rowcount} of {len(rows)} rows changed while this sweep "
                    "batch ran; the batch was rolled back and nothing from it was kept"
                )

    def __getattr__(self, name: str) -> Any:
        self.flush()
        return getattr(self._conn, name)


def _count_due(service: CaseService, until: dt.date) -> int:
    with service.store.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(timer_table)
                .where(and_(timer_table.c.status == "pending", timer_table.c.due_date <= until))
            ).scalar_one()
        )


def _any_due(service: CaseService, until: dt.date) -> bool:
    with service.store.read() as conn:
        return bool(
            conn.execute(
                select(
                    exists().where(
                        and_(timer_table.c.status == "pending", timer_table.c.due_date <= until)
                    )
                )
            ).scalar()
        )


__all__ = ["Firing", "SweepResult", "sweep"]
