"""Re-projecting pending deadlines when a new version of a school calendar is loaded.

Owns `plan_calendar_reload` (what would move, writing nothing) and `apply_calendar_reload` (store
the version, then move each affected case's timers in its own transaction and journal a
`deadline_moved` event with the reason). Does not own the day arithmetic (`engine/time/`) nor
firing timers (`engine/scheduling/sweep.py`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.engine import Connection

from engine.cases.catalog import newest_calendar
from engine.cases.projection import CaseState, EventKind, as_date
from engine.cases.service import Actor, CaseService
from engine.errors import CalendarError, ConcurrentUpdate, VersionNotRaised
from engine.language.outline import ESCALATE_CHECK
from engine.store.tables import case_table, timer_table
from engine.time.calendar import SchoolCalendar
from engine.time.calendars import available_calendars, load_calendar
from engine.time.deadlines import plan_state_timers
from engine.time.words import day_words

log = logging.getLogger(__name__)


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
        calendar=cal,
        previous=previous,
        new_version=previous is None or previous.version != cal.version,
        changes=_describe_changes(changed),
    )
    problems: list[str] = []
    for case_id, timers in _pending_on(service, cal).items():
        try:
            moves, same = _reproject_case(
                service, service.get(case_id), timers, cal, before, changed
            )
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
                        case_id,
                        EventKind.deadline_moved,
                        on=on,
                        at=at,
                        rule=f"calendar {cal.name} version {cal.version} loaded: deadlines "
                        "re-projected",
                        data={
                            "calendar": cal.name,
                            "from_version": reload.previous.version if reload.previous else None,
                            "to_version": cal.version,
                            "loaded_by": actor.name,
                            "loaded_by_role": actor.role,
                            "reason": moves[0].reason,
                            "moved": [
                                {
                                    "timer": m.timer_id,
                                    "key": m.key,
                                    "from": m.old_due.isoformat(),
                                    "to": m.new_due.isoformat(),
                                    "explanation": m.explanation,
                                }
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


_RESTAMP = update(timer_table).where(
    and_(timer_table.c.key == bindparam("timer_key"), timer_table.c.status == "pending")
)


def _restamp_rows(
    moves: list[DeadlineMove], same: list[tuple[str, str]], cal: SchoolCalendar
) -> list[dict[str, Any]]:
    """The timer-row updates of one case: new dates for moves, the new version for all."""
    rows: list[dict[str, Any]] = [
        {
            "timer_key": m.key,
            "due_date": m.new_due,
            "explanation": m.explanation,
            "calendar_version": cal.version,
        }
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
    plans = {case.state: {p.timer_id: p for p in plan_state_timers(definition, case, calendar=cal)}}
    moves: list[DeadlineMove] = []
    same: list[tuple[str, str]] = []
    for row in timers:
        state = row["state"]
        if state != case.state and row.get("action") != ESCALATE_CHECK:
            continue  # not this stage's any more: the next change of state cancels it
        if state not in plans and state in definition.states:
            # A check's escalation outlives its stage: planned as when the case entered it.
            entered = case.progress.get("entered", {}).get(state)
            then = replace(
                case,
                state=state,
                state_entered_on=dt.date.fromisoformat(entered) if entered else case.opened_on,
            )
            plans[state] = {
                p.timer_id: p for p in plan_state_timers(definition, then, calendar=cal)
            }
        new = plans.get(state, {}).get(row["timer_id"])
        if new is None:
            continue
        old_due = as_date(row["due_date"])
        if new.due_date == old_due:
            same.append((row["key"], new.explanation))
            continue
        lo, hi = case.opened_on, max(old_due, new.due_date)
        days = [(d, school) for d, school in changed if lo <= d <= hi]
        moves.append(
            DeadlineMove(
                case_id=case.id,
                key=row["key"],
                timer_id=row["timer_id"],
                old_due=old_due,
                new_due=new.due_date,
                explanation=new.explanation,
                reason=_reason(cal, before, days),
            )
        )
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
        out.append("no longer school days: " + ", ".join(day_words(d) for d in lost))
    if gained:
        out.append("now school days: " + ", ".join(day_words(d) for d in gained))
    return out


def _stored_calendar(service: CaseService, name: str) -> SchoolCalendar | None:
    """The newest version of `name` stored in this database, or None."""
    with service.store.read() as conn:
        return newest_calendar(conn, name)


def _shipped(name: str, *, except_hash: str) -> SchoolCalendar | None:
    """The shipped calendar called `name`, unless it is the very text being loaded."""
    if name not in available_calendars():
        return None
    shipped = load_calendar(name)
    return None if shipped.content_hash == except_hash else shipped


def _pending_on(
    service: CaseService,
    cal: SchoolCalendar,
    *,
    case_id: str | None = None,
    conn: Connection | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Pending timers measured on `cal`'s calendar at another version, by case."""
    query = select(timer_table).where(
        and_(
            timer_table.c.status == "pending",
            timer_table.c.calendar == cal.name,
            timer_table.c.calendar_version != cal.version,
        )
    )
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


__all__ = ["CalendarReload", "DeadlineMove", "apply_calendar_reload", "plan_calendar_reload"]
