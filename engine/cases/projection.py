"""The case its events add up to: `CaseState` (the stored case row) and `apply`.

Owns the one function that turns a case's history into its current row. The service uses it to
compute the row it writes and audit uses it to rebuild the row from events, so the two cannot
drift apart. `apply` reads each event's typed body (`engine.cases.events`), never raw payload
keys. Does not read or write the database.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

# The event record moved to engine.cases.events; these names stay importable from here.
from engine.cases.events import (
    GENESIS_HASH,
    CaseEvent,
    CheckRecorded,
    CheckWaived,
    Escalation,
    EventKind,
    FactChanged,
    LegalHold,
    Migration,
    Opened,
    Purge,
    StepTaken,
    TimerLapsed,
    as_date,
    canonical_json,
    is_sealed,
)

MERGED_PERSONAL = frozenset({"facts", "check_outcomes", "waiver_reasons"})
"""Keys of an event's personal payload merged entry by entry into the case's (facts declared
`personal: true`, check outcomes); any other key replaces the case's value (e.g. `last_note`)."""


@dataclass(frozen=True)
class CaseState:
    """The case as its events leave it; the stored case row holds exactly this."""

    id: str
    process_id: str
    process_version: int
    state: str
    terminal: bool
    calendar: str
    opened_on: dt.date
    state_entered_on: dt.date
    last_effective: dt.date
    closed_on: dt.date | None
    seq: int
    head_hash: str
    overdue: bool = False
    sibling_group: str | None = None
    assigned_officer: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    pauses: list[list[str | None]] = field(default_factory=list)
    personal: dict[str, Any] = field(default_factory=dict)
    legal_hold: bool = False
    progress: dict[str, Any] = field(default_factory=dict)
    """What checks need beyond the current stage: `entered` (stage -> the first day the case
    entered it; kept only by cases whose `opened` event asks, so earlier histories replay as
    they were), `cleared` (stages whose checks are no longer expected), `waived` (check ->
    on, by, role), `escalated` (check -> stage, on, to) and `alert` (the stage an escalation
    not about a check was raised in)."""

    def as_row(self) -> dict[str, Any]:
        """The values of the stored case row (JSON columns as canonical text)."""
        return {
            "id": self.id,
            "process_id": self.process_id,
            "process_version": self.process_version,
            "state": self.state,
            "terminal": self.terminal,
            "calendar": self.calendar,
            "opened_on": self.opened_on,
            "state_entered_on": self.state_entered_on,
            "last_effective": self.last_effective,
            "closed_on": self.closed_on,
            "seq": self.seq,
            "head_hash": self.head_hash,
            "overdue": self.overdue,
            "sibling_group": self.sibling_group,
            "assigned_officer": self.assigned_officer,
            "facts": canonical_json(self.facts),
            "checks": canonical_json(self.checks),
            "pauses": canonical_json(self.pauses),
            "personal": canonical_json(self.personal),
            "legal_hold": self.legal_hold,
            "progress": canonical_json(self.progress),
        }

    @classmethod
    def from_row(cls, row: Any) -> CaseState:
        """Rebuild from a stored case row (a mapping or SQLAlchemy Row)."""
        m = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            id=m["id"],
            process_id=m["process_id"],
            process_version=m["process_version"],
            state=m["state"],
            terminal=bool(m["terminal"]),
            calendar=m["calendar"],
            opened_on=as_date(m["opened_on"]),
            state_entered_on=as_date(m["state_entered_on"]),
            last_effective=as_date(m["last_effective"]),
            closed_on=as_date(m["closed_on"]) if m["closed_on"] is not None else None,
            seq=m["seq"],
            head_hash=m["head_hash"],
            overdue=bool(m["overdue"]),
            sibling_group=m["sibling_group"],
            assigned_officer=m["assigned_officer"],
            facts=json.loads(m["facts"]),
            checks=json.loads(m["checks"]),
            pauses=json.loads(m["pauses"]),
            personal=json.loads(m["personal"]),
            legal_hold=bool(m.get("legal_hold") or False),
            progress=json.loads(m.get("progress") or "{}"),
        )

    @property
    def waived(self) -> dict[str, dict[str, Any]]:
        """Checks waived: check id -> {on, by, role}."""
        waived: dict[str, dict[str, Any]] = self.progress.get("waived", {})
        return waived

    def satisfied_checks(self, on: dt.date | None = None) -> set[str]:
        """Checks recorded or waived (by `on`, if given): what `requires_checks` and the
        guards' `checks.<id>` count as done.
        """
        done = {**self.checks, **self.waived}
        if on is None:
            return set(done)
        day = on.isoformat()
        return {c for c, d in done.items() if d["on"] <= day}

    @property
    def alerted(self) -> bool:
        """Whether an escalation not about a check (e.g. the Day 26 decision, the 8-week target)
        is still open: one raised in the stage the case is in. Cases that keep no stages (opened
        before they did) were overdue only so, unless a check was escalated.
        """
        if "entered" in self.progress:
            return bool(self.progress.get("alert") == self.state)
        return self.overdue and not self.progress.get("escalated")

    def waiver_reason(self, check_id: str) -> str | None:
        """Why a waived check was waived (kept with the personal data), or None."""
        reason = self.personal.get("waiver_reasons", {}).get(check_id)
        return None if reason is None else str(reason)

    def all_facts(self) -> dict[str, Any]:
        """Every fact guards may read: the plain ones and those kept with the personal data."""
        personal = self.personal.get("facts")
        return {**self.facts, **personal} if personal else self.facts

    def check_outcome(self, check_id: str) -> str | None:
        """What a recorded check found (kept with the personal data), or None."""
        outcome = self.personal.get("check_outcomes", {}).get(check_id)
        if outcome is None:
            outcome = self.checks.get(check_id, {}).get("outcome")
        return None if outcome is None else str(outcome)

    def paused_ranges(self) -> list[tuple[dt.date, dt.date]]:
        """Days the clock stood still, as inclusive ranges for `SchoolCalendar` `skip=`.

        The day a case enters a stop-the-clock state and the day it leaves both count (work was
        done on each); the days strictly between do not. An open pause runs on indefinitely.
        """
        out = []
        one = dt.timedelta(days=1)
        for start, end in self.pauses:
            assert start is not None
            first = dt.date.fromisoformat(start) + one
            last = dt.date.fromisoformat(end) - one if end else dt.date.max
            if last >= first:
                out.append((first, last))
        return out


def apply(case: CaseState | None, ev: CaseEvent) -> CaseState:  # noqa: C901 (one branch per event kind: the fold that replay and the service share)
    """The case after `ev`. `case` is None only for the `opened` event."""
    body = ev.body
    personal: dict[str, Any] | None = body.personal  # type: ignore[assignment]
    if personal and len(personal) == 2 and "enc" in personal and "key" in personal:  # is_sealed
        # Sealed personal data stays sealed in the row, by event number (`crypto.reveal`).
        personal = {str(ev.seq): personal}
    if isinstance(body, Opened):
        return CaseState(
            progress={"entered": {body.state: ev.effective_date.isoformat()}}
            if body.tracks_stages
            else {},
            id=ev.case_id,
            process_id=ev.process_id,
            process_version=ev.process_version,
            state=body.state,
            terminal=False,
            calendar=body.calendar,
            opened_on=ev.effective_date,
            state_entered_on=ev.effective_date,
            last_effective=ev.effective_date,
            closed_on=None,
            seq=ev.seq,
            head_hash=ev.hash,
            sibling_group=body.sibling_group,
            assigned_officer=body.assigned_officer,
            facts=dict(body.facts),
            pauses=[[ev.effective_date.isoformat(), None]] if body.stops_clock else [],
            personal=dict(personal or {}),
        )
    assert case is not None, "only an opened event can start a case"
    upd: dict[str, Any] = {
        "seq": ev.seq,
        "head_hash": ev.hash,
        "last_effective": last
        if (last := case.last_effective) >= ev.effective_date
        else ev.effective_date,  # not max(): a builtin call per event
    }
    if personal:
        merged = dict(case.personal)
        for key, value in personal.items():
            if key in MERGED_PERSONAL:
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
        upd["personal"] = merged
    if body.assigned_officer is not None:
        upd["assigned_officer"] = body.assigned_officer
    # Most frequent kinds first (checks, then lapsed timers, which change nothing else).
    if isinstance(body, CheckRecorded):
        # The outcome is free text about the family, so newer events keep it in "personal".
        done: dict[str, Any] = {"on": ev.effective_date.isoformat()}
        if body.outcome is not None:
            done["outcome"] = body.outcome
        if body.document_id is not None:
            done["document_id"] = body.document_id  # the letter that is its evidence
        if body.amends is not None:
            # An amendment keeps the recording it amends (its outcome stays with the personal
            # data, under "earlier_outcomes"): nothing once recorded drops out of view.
            before = case.checks.get(body.check, {})
            kept = {k: v for k, v in before.items() if k != "earlier"}
            done["earlier"] = [*before.get("earlier", []), {**kept, **body.amends}]
        upd["checks"] = {**case.checks, body.check: done}
        upd["overdue"] = _overdue(case, case.progress, upd["checks"], case.alerted)
    elif isinstance(body, TimerLapsed):
        pass
    elif isinstance(body, StepTaken):
        if not body.stays:
            upd.update(
                _enter_state(
                    case, ev, body.to_state, body.terminal, body.stops_clock, body.clears or ()
                )
            )
    elif isinstance(body, Escalation):
        upd["overdue"] = True
        progress = dict(case.progress)
        if body.check is not None:
            progress["escalated"] = {
                **progress.get("escalated", {}),
                body.check: {
                    "stage": body.stage or case.state,
                    "on": ev.effective_date.isoformat(),
                    "to": body.to_role,
                },
            }
        elif "entered" in progress:
            progress["alert"] = case.state
        if progress != case.progress:
            upd["progress"] = progress
    elif isinstance(body, CheckWaived):
        progress = dict(case.progress)
        progress["waived"] = {
            **progress.get("waived", {}),
            body.check: {"on": ev.effective_date.isoformat(), "by": ev.actor, "role": ev.role},
        }
        upd["progress"] = progress
        upd["overdue"] = _overdue(case, progress, case.checks, case.alerted)
    elif isinstance(body, FactChanged):
        if body.facts is not None:
            upd["facts"] = {**case.facts, **body.facts}
    elif isinstance(body, Migration):
        upd["process_version"] = body.to_version
        if body.to_state is not None:
            upd.update(
                _enter_state(case, ev, body.to_state, bool(body.terminal), bool(body.stops_clock))
            )
    elif isinstance(body, Purge):
        upd["personal"] = {}
    elif isinstance(body, LegalHold):
        upd["legal_hold"] = bool(body.hold)
    return _updated(case, upd)


def _updated(case: CaseState, changes: dict[str, Any]) -> CaseState:
    """`dataclasses.replace` without its per-call field walk: replay folds millions of events
    (`cme audit verify --all`), and `replace` was a quarter of that time. CaseState has no
    `__post_init__` or slots, so copying its fields and setting the changed ones is the same.
    """
    new = object.__new__(CaseState)
    new.__dict__.update(case.__dict__)
    new.__dict__.update(changes)
    return new


def _overdue(
    case: CaseState,
    progress: dict[str, Any],
    checks: dict[str, Any],
    alert: bool,
    *,
    terminal: bool | None = None,
) -> bool:
    """Overdue: an escalated check still outstanding (neither recorded, waived nor cleared;
    a terminal stage clears all), or an escalation not about a check raised in this stage.
    """
    if case.terminal if terminal is None else terminal:
        return False
    if alert:
        return True
    waived = progress.get("waived", {})
    cleared = progress.get("cleared", ())
    return any(
        check not in checks and check not in waived and esc["stage"] not in cleared
        for check, esc in progress.get("escalated", {}).items()
    )


def _enter_state(
    case: CaseState,
    ev: CaseEvent,
    to_state: str,
    terminal: bool,
    stops_clock: bool,
    clears: Any = (),
) -> dict[str, Any]:
    """Row changes for moving to `to_state`, including the stop-the-clock pauses, the stages
    entered and cleared, and whether escalated checks keep the case overdue.
    """
    day = ev.effective_date.isoformat()
    pauses = [list(p) for p in case.pauses]
    if pauses and pauses[-1][1] is None and not stops_clock:
        pauses[-1][1] = day
    elif stops_clock and not (pauses and pauses[-1][1] is None):
        pauses.append([day, None])
    terminal = bool(terminal)
    changes: dict[str, Any] = {
        "state": to_state,
        "terminal": terminal,
        "state_entered_on": ev.effective_date,
        "closed_on": ev.effective_date if terminal else None,
        "pauses": pauses,
    }
    progress = case.progress
    if progress:
        progress = {k: v for k, v in progress.items() if k != "alert"}
        if "entered" in progress and to_state not in progress["entered"]:
            progress["entered"] = {**progress["entered"], to_state: day}
        if clears:
            progress["cleared"] = sorted({*progress.get("cleared", ()), *clears})
        if progress != case.progress:
            changes["progress"] = progress
    # A plain change of stage ends only an escalation not about a check; an escalated check
    # stays overdue until it is recorded, waived or cleared.
    changes["overdue"] = _overdue(case, progress, case.checks, False, terminal=terminal)
    return changes


def replay(events: list[CaseEvent]) -> CaseState:
    """Fold a case's events, in order, into its state."""
    case: CaseState | None = None
    for ev in events:
        case = apply(case, ev)
    if case is None:
        raise ValueError("a case needs at least its opened event")
    return case


__all__ = [
    "GENESIS_HASH",
    "MERGED_PERSONAL",
    "CaseEvent",
    "CaseState",
    "EventKind",
    "apply",
    "as_date",
    "canonical_json",
    "is_sealed",
    "replay",
]
