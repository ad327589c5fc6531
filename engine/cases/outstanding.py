"""Outstanding checks: what a case still owes, whichever stage it is in now.

Owns the rule. A check is outstanding while its stage has been entered by the case and not
cleared (by a stage whose `clears_checks_of` names it, or by a terminal stage), it is required,
neither recorded nor waived, and its window has started (a check without a window: from entering
its stage). It carries across changes of stage. Each comes with its window, the date of the
window's last school day (`due`) and whether it has been escalated.

Pure: reads the case row, the process's outline and the case's calendar; writes nothing. The
views, the register, `cme due`, the RAG report and the escalations report all read it, so they
agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import CalendarError

if TYPE_CHECKING:
    from engine.cases.projection import CaseState
    from engine.language.outline import CheckOutline, ProcessOutline
    from engine.time.calendar import SchoolCalendar


@dataclass(frozen=True)
class OutstandingCheck:
    """A check the case still owes."""

    id: str
    wording: str
    stage: str
    """The stage whose checklist it is on."""
    window: str | None
    """Its window as the policy writes it ("Day 5–15"), or None."""
    due: dt.date | None
    """The date of its window's last school day (None: no window, or past the calendar)."""
    escalated: bool
    """Whether its escalation has been raised (the morning after `due`)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as `cme case show --json` lists it under `outstanding_checks`."""
        return {
            "id": self.id,
            "wording": self.wording,
            "stage": self.stage,
            "window": self.window,
            "due": self.due.isoformat() if self.due else None,
            "escalated": self.escalated,
        }


def stages_entered(case: CaseState, outline: ProcessOutline) -> set[str]:
    """The stages the case has been in. Cases opened before stages were kept know only their
    current stage and the stages of the checks recorded on them.
    """
    entered = case.progress.get("entered")
    if entered is not None:
        return set(entered)
    found = {case.state}
    for name, state in outline.states.items():
        if any(c.id in case.checks for c in state.checklist):
            found.add(name)
    return found


def outstanding_checks(
    outline: ProcessOutline, case: CaseState, *, on: dt.date, calendar: SchoolCalendar
) -> list[OutstandingCheck]:
    """The checks `case` owes on `on`, in the order of the process's stages and checklists."""
    if case.terminal:
        return []
    skip = case.paused_ranges()
    try:
        day: int | None = calendar.day_number(case.opened_on, on, skip=skip)
    except CalendarError:
        day = None
    entered = stages_entered(case, outline)
    cleared = set(case.progress.get("cleared", ()))
    escalated = case.progress.get("escalated", {})
    done = case.satisfied_checks()
    out = []
    for name, state in outline.states.items():
        if name not in entered or name in cleared:
            continue
        for check in state.checklist:
            if not check.required or check.id in done:
                continue
            if check.first is not None and (day is None or day < check.first):
                continue  # its window has not started
            out.append(
                OutstandingCheck(
                    id=check.id,
                    wording=check.wording,
                    stage=name,
                    window=check.window,
                    due=_due(check, case, calendar, skip),
                    escalated=check.id in escalated,
                )
            )
    return out


def _due(
    check: CheckOutline, case: CaseState, calendar: SchoolCalendar, skip: Any
) -> dt.date | None:
    if check.last is None:
        return None
    try:
        return calendar.school_day_n(case.opened_on, check.last, skip=skip)
    except CalendarError:
        return None


def is_late(item: OutstandingCheck, on: dt.date) -> bool:
    """Whether the check's window has ended by `on` (or it has been escalated)."""
    return item.escalated or (item.due is not None and on > item.due)


__all__ = ["OutstandingCheck", "is_late", "outstanding_checks", "stages_entered"]
