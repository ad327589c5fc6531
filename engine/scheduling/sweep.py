"""The sweep: fire every pending timer due by a date, once, with its due date as the effective date.

Owns claiming due timer rows (in due order, in bounded batches, `FOR UPDATE SKIP LOCKED` on
PostgreSQL so several sweepers share the work), handing each to `CaseService.fire_timer_in`, and
counting what happened. Does not own what a timer does (the service) nor when the sweep runs (the
scheduler and `cme tick`). Also owns re-projecting pending deadlines when a new version of a
calendar is loaded (`plan_calendar_reload`, `apply_calendar_reload`).

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

from sqlalchemy import Insert, Update, and_, bindparam, exists, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engine.cases.projection import CaseState, EventKind, as_date
from engine.cases.service import ONE_ROW_WRITES, Actor, CaseService
from engine.errors import CalendarError, CMEError, ConcurrentUpdate, InputError, VersionNotRaised
from engine.store.tables import calendar_version_table, case_table, timer_table
from engine.time.calendar import SchoolCalendar, available_calendars, load_calendar
from engine.time.deadlines import plan_state_timers

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
            if self.first_due and self.last_due else ""
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
                claimed = _claim(conn, until=until, limit=limit, is_sqlite=store.is_sqlite,
                                 skip=result.blocked)
                if claimed:
                    writer = _WriteBehind(conn)
                    done = _fire_batch(service, cast(Connection, writer), claimed, at=at)
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
    conn: Connection, *, until: dt.date, limit: int, is_sqlite: bool,
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
        # SQLite's BEGIN IMMEDIATE (store.py) already serialises writers, so it needs no lock.
        query = (
            query.join(case_table, case_table.c.id == timer_table.c.case_id)
            .with_for_update(skip_locked=True, of=case_table)
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
    service: CaseService, conn: Connection, claimed: list[dict[str, Any]], *, at: dt.datetime
) -> list[Firing]:
    """Fire the claimed timers in order inside the caller's transaction; what became of each."""
    done: list[Firing] = []
    moved: set[str] = set()
    # Every case of the batch, read at once: the batch holds their locks (SQLite's write lock,
    # or the rows claimed FOR UPDATE), and fire_timer_in keeps this current as it appends.
    ids = sorted({t["case_id"] for t in claimed})
    cases = {
        row.id: CaseState.from_row(row)
        for row in conn.execute(_SELECT_CASES, {"ids": ids})
    }
    for timer in claimed:
        case_id = timer["case_id"]
        if case_id in moved:
            # An earlier timer in this batch moved the case on, which cancelled or re-armed its
            # timers; whatever is still pending is claimed afresh by the next batch.
            continue
        status = service.fire_timer_in(conn, timer, at=at, cases=cases)
        if status == "skipped":
            continue  # another sweeper dealt with it first
        if status == "fired" and timer["action"] == "escalate":
            outcome = "escalated"
        else:
            outcome = status
        if status == "fired" and timer["action"] == "fire":
            moved.add(case_id)
        done.append(Firing(
            case_id=case_id, timer_id=timer["timer_id"], key=timer["key"],
            due_date=as_date(timer["due_date"]),
            action=timer["trigger"] or f"escalate to {timer['escalate_role']}", outcome=outcome,
        ))
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
            id(s) for s in ONE_ROW_WRITES
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


# --- re-projecting deadlines when a calendar changes ---------------------------------------------


@dataclass(frozen=True)
class DeadlineMove:
    """A pending timer whose due date changes under a new calendar version, and why."""

    case_id: str
    key: str
    timer_id: str
    old_due: dt.date
    new_due: dt.date
    explanation: str
    """How the new date was computed, as `cme case show` will say it."""
    reason: str
    """What changed in the calendar that moved it."""


@dataclass
class CalendarReload:
    """What loading a calendar version does to the pending deadlines measured on it."""

    calendar: SchoolCalendar
    previous: SchoolCalendar | None
    """The version in force before (None if this database had none)."""
    new_version: bool
    """Whether this version is not stored yet (False when resuming an interrupted reload)."""
    changes: list[str]
    """Days that stop or start being school days, in words."""
    moves: list[DeadlineMove] = field(default_factory=list)
    restamped: int = 0
    """Pending timers whose date stands, re-stamped with the new version."""
    skipped: list[str] = field(default_factory=list)
    """Cases changed by someone else while the reload ran (run it again for them)."""

    @property
    def cases(self) -> int:
        """Cases with at least one deadline that moves."""
        return len({m.case_id for m in self.moves})

    def summary(self) -> str:
        """One line for people."""
        before = f"version {self.previous.version}" if self.previous else "no version"
        text = (
            f"calendar {self.calendar.name}: {before} in force, loading version "
            f"{self.calendar.version}; {len(self.moves)} deadline(s) move on {self.cases} "
            f"case(s), {self.restamped} keep their date"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} case(s) changed meanwhile, run it again"
        return text

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `cme calendar reload --json`)."""
        return {
            "calendar": self.calendar.name,
            "version": self.calendar.version,
            "previous_version": self.previous.version if self.previous else None,
            "new_version": self.new_version,
            "changes": self.changes,
            "moves": [m.__dict__ for m in self.moves],
            "restamped": self.restamped,
            "skipped": self.skipped,
        }


def plan_calendar_reload(service: CaseService, cal: SchoolCalendar) -> CalendarReload:
    """What loading `cal` would move, writing nothing (`--dry-run`).

    Refuses a version older than the one in force and a changed file whose version was not
    raised; refuses (naming the cases) a calendar that no longer covers a pending deadline.
    """
    previous = _stored_calendar(service, cal.name)
    if previous is not None:
        if previous.version > cal.version:
            raise VersionNotRaised(
                f"calendar {cal.name} version {previous.version} is in force; {cal.path} is "
                f"version {cal.version}, which is older. Raise its version above "
                f"{previous.version} to load it"
            )
        if previous.version == cal.version and previous.content_hash != cal.content_hash:
            raise VersionNotRaised(
                f"{cal.path} changed since calendar {cal.name} version {cal.version} was "
                f"loaded, but its version was not raised; set `version: {cal.version + 1}` so "
                "every deadline says which dates it was computed on"
            )
    before = previous or _shipped(cal.name, except_hash=cal.content_hash)
    changed = _changed_days(before, cal) if before is not None else []
    reload = CalendarReload(
        calendar=cal, previous=previous,
        new_version=previous is None or previous.version != cal.version,
        changes=_describe_changes(changed),
    )
    problems: list[str] = []
    for case_id, timers in _pending_on(service, cal).items():
        try:
            moves, same = _reproject_case(service, service.get(case_id), timers, cal, before,
                                          changed)
        except CalendarError as exc:
            problems.append(f"{case_id}: {exc}")
            continue
        reload.moves.extend(moves)
        reload.restamped += len(same)
    if problems:
        shown = "\n  ".join(problems[:10])
        more = f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise CalendarError(
            f"calendar {cal.name} version {cal.version} cannot place the pending deadlines "
            f"of {len(problems)} case(s); nothing was loaded:\n  {shown}{more}"
        )
    return reload


def apply_calendar_reload(
    service: CaseService,
    cal: SchoolCalendar,
    *,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
) -> CalendarReload:
    """Load `cal` and move every pending deadline measured on an older version of it.

    The version is stored first (so new deadlines use it at once), then each affected case is
    re-projected in its own transaction: its timer rows get their new dates and explanations,
    and a `deadline_moved` event journals each move with the reason. An interrupted reload is
    finished by running it again.
    """
    reload = plan_calendar_reload(service, cal)  # refuses before anything is written
    service.publish_calendar(cal, at=at, actor=actor)
    before = reload.previous or _shipped(cal.name, except_hash=cal.content_hash)
    changed = _changed_days(before, cal) if before is not None else []
    reload.moves, reload.restamped = [], 0
    for case_id in _pending_on(service, cal):
        try:
            with service.batch() as conn:
                # The case row first, as every command does, so no sweep fires its timers while
                # they move (a no-op lock on SQLite, whose write lock is already held).
                lock = select(case_table).where(case_table.c.id == case_id)
                if not service.store.is_sqlite:
                    lock = lock.with_for_update()
                case = CaseState.from_row(conn.execute(lock).one())
                timers = _pending_on(service, cal, case_id=case_id, conn=conn).get(case_id, [])
                moves, same = _reproject_case(service, case, timers, cal, before, changed)
                for values in _restamp_rows(moves, same, cal):
                    # Guarded by status = 'pending': a timer fired meanwhile is not moved.
                    if conn.execute(_RESTAMP, values).rowcount != 1:
                        raise ConcurrentUpdate(f"timer {values['timer_key']} changed meanwhile")
                if moves:
                    service.append_system(
                        case_id, EventKind.deadline_moved, on=on, at=at,
                        rule=f"calendar {cal.name} version {cal.version} loaded: deadlines "
                             "re-projected",
                        data={
                            "calendar": cal.name,
                            "from_version": reload.previous.version if reload.previous else None,
                            "to_version": cal.version,
                            "loaded_by": actor.name, "loaded_by_role": actor.role,
                            "reason": moves[0].reason,
                            "moved": [
                                {"timer": m.timer_id, "key": m.key,
                                 "from": m.old_due.isoformat(), "to": m.new_due.isoformat(),
                                 "explanation": m.explanation}
                                for m in moves
                            ],
                        },
                    )
        except ConcurrentUpdate:
            reload.skipped.append(case_id)
            continue
        reload.moves.extend(moves)
        reload.restamped += len(same)
    service.forget_calendars()
    log.info("%s", reload.summary())
    return reload


_RESTAMP = (
    update(timer_table)
    .where(and_(timer_table.c.key == bindparam("timer_key"), timer_table.c.status == "pending"))
)


def _restamp_rows(
    moves: list[DeadlineMove], same: list[tuple[str, str]], cal: SchoolCalendar
) -> list[dict[str, Any]]:
    """The timer-row updates of one case: new dates for moves, the new version for all."""
    rows: list[dict[str, Any]] = [
        {"timer_key": m.key, "due_date": m.new_due, "explanation": m.explanation,
         "calendar_version": cal.version}
        for m in moves
    ]
    rows += [
        {"timer_key": key, "explanation": explanation, "calendar_version": cal.version}
        for key, explanation in same
    ]
    return rows


def _reproject_case(
    service: CaseService,
    case: CaseState,
    timers: list[dict[str, Any]],
    cal: SchoolCalendar,
    before: SchoolCalendar | None,
    changed: list[tuple[dt.date, bool]],
) -> tuple[list[DeadlineMove], list[tuple[str, str]]]:
    """A case's pending timers on `cal`'s calendar: those that move, and (key, explanation) of
    those whose date stands.
    """
    definition = service.definition_for(case)
    planned = {p.timer_id: p for p in plan_state_timers(definition, case, calendar=cal)}
    moves: list[DeadlineMove] = []
    same: list[tuple[str, str]] = []
    for row in timers:
        new = planned.get(row["timer_id"])
        if new is None or row["state"] != case.state:
            continue  # not this stage's any more: the next change of state cancels it
        old_due = as_date(row["due_date"])
        if new.due_date == old_due:
            same.append((row["key"], new.explanation))
            continue
        lo, hi = case.opened_on, max(old_due, new.due_date)
        days = [(d, school) for d, school in changed if lo <= d <= hi]
        moves.append(DeadlineMove(
            case_id=case.id, key=row["key"], timer_id=row["timer_id"], old_due=old_due,
            new_due=new.due_date, explanation=new.explanation,
            reason=_reason(cal, before, days),
        ))
    return moves, same


def _reason(
    cal: SchoolCalendar, before: SchoolCalendar | None, days: list[tuple[dt.date, bool]]
) -> str:
    was = f"version {before.version}" if before is not None else "the shipped file"
    what = "; ".join(_describe_changes(days)) or "the school days it counts changed"
    return f"calendar {cal.name} {was} → version {cal.version}: {what}"


def _changed_days(before: SchoolCalendar, after: SchoolCalendar) -> list[tuple[dt.date, bool]]:
    """Days whose status differs between two calendars (and whether each is now a school day),
    over the school years both cover.
    """
    out: list[tuple[dt.date, bool]] = []
    for year in sorted(set(before.school_years()) & set(after.school_years())):
        first = dt.date(int(year[:4]), 9, 1)
        day = first
        while day < dt.date(first.year + 1, 9, 1):
            now = after.is_school_day(day)
            if before.is_school_day(day) != now:
                out.append((day, now))
            day += dt.timedelta(days=1)
    return out


def _describe_changes(days: list[tuple[dt.date, bool]]) -> list[str]:
    lost = [d for d, now in days if not now]
    gained = [d for d, now in days if now]
    out = []
    if lost:
        out.append("no longer school days: " + ", ".join(_fmt(d) for d in lost))
    if gained:
        out.append("now school days: " + ", ".join(_fmt(d) for d in gained))
    return out


def _fmt(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def _stored_calendar(service: CaseService, name: str) -> SchoolCalendar | None:
    """The newest version of `name` stored in this database, or None."""
    with service.store.read() as conn:
        row = conn.execute(
            select(calendar_version_table.c.version, calendar_version_table.c.yaml_text)
            .where(calendar_version_table.c.name == name)
            .order_by(calendar_version_table.c.version.desc()).limit(1)
        ).first()
    if row is None:
        return None
    return SchoolCalendar.from_yaml(row.yaml_text, f"stored:{name}@{row.version}")


def _shipped(name: str, *, except_hash: str) -> SchoolCalendar | None:
    """The shipped calendar called `name`, unless it is the very text being loaded."""
    if name not in available_calendars():
        return None
    shipped = load_calendar(name)
    return None if shipped.content_hash == except_hash else shipped


def _pending_on(
    service: CaseService, cal: SchoolCalendar, *, case_id: str | None = None,
    conn: Connection | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Pending timers measured on `cal`'s calendar at another version, by case."""
    query = select(timer_table).where(and_(
        timer_table.c.status == "pending", timer_table.c.calendar == cal.name,
        timer_table.c.calendar_version != cal.version,
    ))
    if case_id is not None:
        query = query.where(timer_table.c.case_id == case_id)
    query = query.order_by(timer_table.c.case_id, timer_table.c.due_date, timer_table.c.id)
    out: dict[str, list[dict[str, Any]]] = {}
    if conn is not None:
        rows = conn.execute(query).all()
    else:
        with service.store.read() as c:
            rows = c.execute(query).all()
    for row in rows:
        out.setdefault(row.case_id, []).append(dict(row._mapping))
    return out


def _count_due(service: CaseService, until: dt.date) -> int:
    with service.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(timer_table).where(and_(
            timer_table.c.status == "pending", timer_table.c.due_date <= until
        ))).scalar_one())


def _any_due(service: CaseService, until: dt.date) -> bool:
    with service.store.read() as conn:
        return bool(conn.execute(select(exists().where(and_(
            timer_table.c.status == "pending", timer_table.c.due_date <= until
        )))).scalar())



__all__ = [
    "CalendarReload",
    "DeadlineMove",
    "Firing",
    "SweepResult",
    "apply_calendar_reload",
    "plan_calendar_reload",
    "sweep",
]
