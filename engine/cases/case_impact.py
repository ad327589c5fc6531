"""What a new version of its process changes for one running case, named case by case in
`cme process impact`: its deadlines old → new, the dates of its check windows on its own calendar,
checks added or removed, whether its stage is renamed or removed (and the `--map` a migration
would need), and which deadlines the change makes fall due at once.

Pure over what it is given (the case, both definitions, the case's calendar and its migration
preview from `engine.cases.migration.preview_case`); writes nothing. Shows no personal data: a
child's name is added only by `name_children`, for a role allowed to read cases, and each such
read is logged as `case list` logs it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.cases.migration import CasePreview, DeadlineMove
from engine.cases.projection import CaseState
from engine.cases.service import CaseService
from engine.errors import CalendarError
from engine.language.definition import DayWindowDefinition, ProcessDefinition
from engine.protection.access import ActorLike, Permission, log_read
from engine.protection.crypto import PURGED
from engine.time.calendar import SchoolCalendar
from engine.time.words import day_words, range_words


@dataclass(frozen=True)
class WindowMove:
    """A check whose window differs for this case between its version and the new one."""

    check: str
    stage: str
    old: str | None
    """The window in its version ("Day 5–15"); None: the check is new."""
    new: str | None
    """The window in the new version; None: the new version removes the check."""
    old_dates: tuple[dt.date, dt.date] | None
    """First and last school day of the old window on the case's calendar."""
    new_dates: tuple[dt.date, dt.date] | None

    def words(self) -> str:
        """`check first_letter (first_checks): Day 5–15, 28 Oct – 8 Nov 2024 → Day 4–15, …`."""
        what = f"check {self.check} ({self.stage})"
        if self.old is None:
            return f"{what}: added, {_window(self.new, self.new_dates)}"
        if self.new is None:
            return f"{what}: removed (was {_window(self.old, self.old_dates)})"
        return f"{what}: {_window(self.old, self.old_dates)} → {_window(self.new, self.new_dates)}"


def _window(days: str | None, dates: tuple[dt.date, dt.date] | None) -> str:
    if days is None:
        return "no window"
    return f"{days}, {range_words(*dates)}" if dates else days


@dataclass
class CaseImpact:
    """What moving to the new version changes for one running case."""

    case_id: str
    from_version: int
    state: str
    to_state: str | None
    """The stage it would be in; None: the new version lacks its stage and no --map covers it."""
    mapped: bool = False
    """Whether a --map (given, or a renamed stage) moves it to `to_state`."""
    renamed: bool = False
    """Whether its stage is renamed in the new version (same title, another id)."""
    child: str | None = None
    """The child's name, only for a role that may read cases (see `name_children`)."""
    calendar: str = ""
    """The calendar its dates are counted on ("london version 1")."""
    deadlines: list[DeadlineMove] = field(default_factory=list)
    windows: list[WindowMove] = field(default_factory=list)
    due_at_once: list[tuple[str, dt.date]] = field(default_factory=list)
    """(timer, due date) of deadlines that fall due at once because of the change."""
    already_past: list[tuple[str, dt.date]] = field(default_factory=list)
    """(timer, due date) of deadlines past on the date under its own version too."""

    @property
    def checks_added(self) -> list[str]:
        """Checks the new version adds that this case would be expected to do."""
        return [w.check for w in self.windows if w.old is None]

    @property
    def checks_removed(self) -> list[str]:
        """Checks it has not done that the new version no longer expects."""
        return [w.check for w in self.windows if w.new is None]

    def changes_anything(self) -> bool:
        """Whether anything changes for this case."""
        return bool(
            self.to_state != self.state or self.deadlines or self.windows or self.due_at_once
        )

    def lines(self, version: int) -> list[str]:
        """The case's entry in the impact report: a heading, then one line per change."""
        who = f"{self.child}; " if self.child else ""
        head = f"{self.case_id} ({who}version {self.from_version}, in {self.state})"
        if self.to_state is None:
            return [
                f"{head}: stage {self.state} is removed in version {version}; a migration "
                f"needs --map {self.state}=STAGE, or the case stays on version "
                f"{self.from_version}"
            ]
        out = [head + ("" if self.changes_anything() else ": nothing changes")]
        if self.to_state != self.state:
            how = "renamed" if self.renamed else "mapped"
            out.append(
                f"  stage {self.state} → {self.to_state} ({how}: --map "
                f"{self.state}={self.to_state})"
            )
        for move in self.deadlines:
            out.append(f"  {_deadline_words(move)}")
        out += [f"  {line}" for line in _grouped(self.windows)]
        if self.due_at_once:
            shown = ", ".join(f"{t} (due {day_words(d)})" for t, d in self.due_at_once)
            out.append(f"  falls due at once: {shown}")
        return out

    def as_json(self) -> dict[str, Any]:
        """The case's entry in `cme process impact --json`."""
        return {
            "case_id": self.case_id,
            "child": self.child,
            "from_version": self.from_version,
            "calendar": self.calendar,
            "state": self.state,
            "to_state": self.to_state,
            "mapped": self.mapped,
            "renamed": self.renamed,
            "deadlines": [
                {
                    "timer": m.timer_id,
                    "old": m.old,
                    "new": m.new,
                    "school_days": m.school_days,
                }
                for m in self.deadlines
            ],
            "check_windows": [
                {
                    "check": w.check,
                    "stage": w.stage,
                    "old": w.old,
                    "new": w.new,
                    "old_dates": list(w.old_dates) if w.old_dates else None,
                    "new_dates": list(w.new_dates) if w.new_dates else None,
                }
                for w in self.windows
            ],
            "checks_added": self.checks_added,
            "checks_removed": self.checks_removed,
            "due_at_once": [{"timer": t, "due": d} for t, d in self.due_at_once],
            "already_past": [{"timer": t, "due": d} for t, d in self.already_past],
        }


def _grouped(windows: list[WindowMove]) -> list[str]:
    """One line per stage and change: the checks of a stage whose window moves alike together."""
    groups: dict[tuple[Any, ...], list[WindowMove]] = {}
    for window in windows:
        key = (window.stage, window.old, window.new, window.old_dates, window.new_dates)
        groups.setdefault(key, []).append(window)
    lines = []
    for same in groups.values():
        first = same[0]
        if len(same) == 1:
            lines.append(first.words())
            continue
        ids = ", ".join(w.check for w in same)
        lines.append(f"checks {ids}{first.words()[len(f'check {first.check}') :]}")
    return lines


def _deadline_words(move: DeadlineMove) -> str:
    if move.old is None and move.new is not None:
        return f"timer {move.timer_id}: added, due {day_words(move.new)}"
    if move.new is None and move.old is not None:
        return f"timer {move.timer_id}: dropped (was due {day_words(move.old)})"
    assert move.old is not None
    assert move.new is not None
    shift = ""
    if move.school_days:
        n = abs(move.school_days)
        shift = (
            f" ({n} school day{'' if n == 1 else 's'} "
            f"{'earlier' if move.school_days < 0 else 'later'})"
        )
    return f"timer {move.timer_id}: {day_words(move.old)} → {day_words(move.new)}{shift}"


def case_impact(
    case: CaseState,
    old: ProcessDefinition,
    new: ProcessDefinition,
    *,
    calendar: SchoolCalendar,
    on: dt.date,
    to_state: str | None,
    preview: CasePreview | None,
    mapped: bool = False,
    renamed: bool = False,
) -> CaseImpact:
    """What moving `case` from `old` to `new` (in `to_state`) changes for it, as of `on`."""
    result = CaseImpact(
        case_id=case.id,
        from_version=case.process_version,
        state=case.state,
        to_state=to_state,
        mapped=mapped,
        renamed=renamed,
        calendar=f"{calendar.name} version {calendar.version}",
    )
    if preview is None:
        return result
    result.deadlines = list(preview.deadlines)
    pending = {m.timer_id: m.old for m in preview.deadlines}
    for planned in preview.planned:
        if planned.due_date > on:
            continue
        was = pending.get(planned.timer_id, planned.due_date)
        # Only what the change causes: a deadline already past under the case's own version
        # would fall due on the next sweep anyway.
        if was is not None and was <= on:
            result.already_past.append((planned.timer_id, planned.due_date))
        else:
            result.due_at_once.append((planned.timer_id, planned.due_date))
    result.windows = list(_window_moves(case, old, new, calendar))
    return result


def _window_moves(
    case: CaseState, old: ProcessDefinition, new: ProcessDefinition, calendar: SchoolCalendar
) -> Iterable[WindowMove]:
    """Checks still expected of the case whose window the new version moves, adds or removes."""
    progress: dict[str, Any] = getattr(case, "progress", None) or {}
    done = set(case.checks) | set(progress.get("waived", {}))
    cleared = set(progress.get("cleared", []))
    before, after = _windows(old), _windows(new)
    for check_id in list(before) + [c for c in after if c not in before]:
        was, now = before.get(check_id), after.get(check_id)
        stage = (now or was)[0]  # type: ignore[index]
        if check_id in done or stage in cleared:
            continue
        old_days = str(was[1]) if was and was[1] else None
        new_days = str(now[1]) if now and now[1] else None
        if was is not None and now is not None and old_days == new_days:
            continue
        yield WindowMove(
            check=check_id,
            stage=stage,
            old=old_days if was is not None else None,
            new=new_days if now is not None else None,
            old_dates=_dates(case, was[1] if was else None, calendar),
            new_dates=_dates(case, now[1] if now else None, calendar),
        )


def _windows(
    definition: ProcessDefinition,
) -> dict[str, tuple[str, DayWindowDefinition | None]]:
    """Each required check's stage and window (its own `days`, else its stage's)."""
    out: dict[str, tuple[str, DayWindowDefinition | None]] = {}
    for name, state in definition.states.items():
        for check in state.checklist:
            if check.required:
                out[check.id] = (name, check.days or state.days)
    return out


def _dates(
    case: CaseState, window: DayWindowDefinition | None, calendar: SchoolCalendar
) -> tuple[dt.date, dt.date] | None:
    """The window's first and last school day for this case (None where it cannot be placed)."""
    if window is None:
        return None
    try:
        skip = case.paused_ranges()
        return (
            calendar.school_day_n(case.opened_on, window.first, skip=skip),
            calendar.school_day_n(case.opened_on, window.last, skip=skip),
        )
    except CalendarError:
        return None


def name_children(
    service: CaseService,
    impacts: list[CaseImpact],
    *,
    actor: ActorLike,
    at: dt.datetime,
) -> None:
    """Add each child's name for a role that may read cases (each read logged), as `case
    list` shows them; for any other role (e.g. policy_owner) leave only the case ids.
    """
    if not impacts or not service.roles.allows(actor.role, Permission.read_case):
        return
    with service.store.read() as conn:
        for item in impacts:
            if service.keys.destroyed(conn, item.case_id):
                item.child = PURGED
                continue
            case = service.revealed(service.get(item.case_id, conn=conn), conn=conn)
            item.child = (case.personal.get("child") or {}).get("full_name")
    with service.store.engine.begin() as log:
        for item in impacts:
            log_read(log, actor, case_id=item.case_id, action="process impact", at=at)


__all__ = ["CaseImpact", "WindowMove", "case_impact", "name_children"]
