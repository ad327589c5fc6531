"""Events and the case they add up to: the event record, its hash chain, and `apply`.

Owns the one function that turns a case's history into its current row. The service uses it to
compute the row it writes and audit uses it to rebuild the row from events, so the two cannot
drift apart. Does not read or write the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64

MERGED_PERSONAL = frozenset({"facts", "check_outcomes"})
"""Keys of an event's personal payload merged entry by entry into the case's (facts declared
`personal: true`, check outcomes); any other key replaces the case's value (e.g. `last_note`)."""


class EventKind(StrEnum):
    """What an event records."""

    opened = "opened"
    trigger = "trigger"
    check_recorded = "check_recorded"
    fact_changed = "fact_changed"
    note = "note"
    timer_fired = "timer_fired"
    timer_lapsed = "timer_lapsed"
    escalation = "escalation"
    migration = "migration"
    deadline_moved = "deadline_moved"
    purge = "purge"
    letter_filed = "letter_filed"
    """A letter was rendered and filed with the case; `apply` passes it through unchanged."""
    legal_hold = "legal_hold"
    """A legal hold placed (`hold: true`) or released; a held case is never purged."""


def is_sealed(part: Any) -> bool:
    """Whether a payload's personal part is sealed by `engine.protection.crypto` (`{"enc": …,
    "key": …}`).
    """
    return isinstance(part, dict) and set(part) == {"enc", "key"}


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the exact text stored and hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class CaseEvent:
    """One event of a case's history, as stored."""

    case_id: str
    seq: int
    effective_date: dt.date
    recorded_at: dt.datetime
    actor: str
    role: str
    kind: EventKind
    payload: dict[str, Any]
    process_id: str
    process_version: int
    rule: str | None
    prev_hash: str
    hash: str = ""

    def content(self) -> dict[str, Any]:
        """Everything the hash covers (all fields but the hash itself)."""
        return {
            "case_id": self.case_id,
            "seq": self.seq,
            "effective_date": self.effective_date.isoformat(),
            "recorded_at": _utc_iso(self.recorded_at),
            "actor": self.actor,
            "role": self.role,
            "kind": str(self.kind),
            "payload": self.payload,
            "process_id": self.process_id,
            "process_version": self.process_version,
            "rule": self.rule,
        }

    def compute_hash(self) -> str:
        """SHA-256 over the previous event's hash and this event's canonical content."""
        digest = hashlib.sha256(self.prev_hash.encode())
        digest.update(canonical_json(self.content()).encode())
        return digest.hexdigest()

    def sealed(self) -> CaseEvent:
        """The same event with its hash filled in."""
        return replace(self, hash=self.compute_hash())


def _utc_iso(value: dt.datetime) -> str:
    # Databases differ in whether they keep tzinfo; hash the same instant the same way.
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


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
        )

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


def as_date(value: Any) -> dt.date:
    """A stored date as a date (SQLite may give text, a timestamp column a datetime)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def apply(case: CaseState | None, ev: CaseEvent) -> CaseState:
    """The case after `ev`. `case` is None only for the `opened` event."""
    p = ev.payload
    if is_sealed(p.get("personal")):
        # Sealed personal data stays sealed in the row, by event number (`crypto.reveal`).
        p = {**p, "personal": {str(ev.seq): p["personal"]}}
    if ev.kind == EventKind.opened:
        data = p["data"]
        return CaseState(
            id=ev.case_id,
            process_id=ev.process_id,
            process_version=ev.process_version,
            state=data["state"],
            terminal=False,
            calendar=data["calendar"],
            opened_on=ev.effective_date,
            state_entered_on=ev.effective_date,
            last_effective=ev.effective_date,
            closed_on=None,
            seq=ev.seq,
            head_hash=ev.hash,
            sibling_group=data.get("sibling_group"),
            assigned_officer=data.get("assigned_officer"),
            facts=dict(data.get("facts", {})),
            pauses=[[ev.effective_date.isoformat(), None]] if data.get("stops_clock") else [],
            personal=dict(p.get("personal", {})),
        )
    assert case is not None, "only an opened event can start a case"
    upd: dict[str, Any] = {
        "seq": ev.seq,
        "head_hash": ev.hash,
        "last_effective": max(case.last_effective, ev.effective_date),
    }
    data = p.get("data", {})
    if "facts" in data:
        facts = dict(case.facts)
        facts.update(data["facts"])
        upd["facts"] = facts
    if "personal" in p and p["personal"]:
        personal = dict(case.personal)
        for key, value in p["personal"].items():
            if key in MERGED_PERSONAL:
                personal[key] = {**personal.get(key, {}), **value}
            else:
                personal[key] = value
        upd["personal"] = personal
    if ev.kind == EventKind.check_recorded:
        checks = dict(case.checks)
        # The outcome is free text about the family, so newer events keep it in "personal".
        done: dict[str, Any] = {"on": ev.effective_date.isoformat()}
        if "outcome" in data:
            done["outcome"] = data["outcome"]
        checks[data["check"]] = done
        upd["checks"] = checks
    if ev.kind == EventKind.escalation:
        upd["overdue"] = True
    if "assigned_officer" in data:
        upd["assigned_officer"] = data["assigned_officer"]
    if ev.kind == EventKind.migration:
        upd["process_version"] = data["to_version"]
    if ev.kind == EventKind.purge:
        upd["personal"] = {}
    if ev.kind == EventKind.legal_hold:
        upd["legal_hold"] = bool(data["hold"])
    if "to_state" in data and not data.get("stays"):
        upd.update(_enter_state(case, ev, data))
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


def _enter_state(case: CaseState, ev: CaseEvent, data: dict[str, Any]) -> dict[str, Any]:
    """Row changes for moving to `data["to_state"]`, including the stop-the-clock pauses."""
    day = ev.effective_date.isoformat()
    pauses = [list(p) for p in case.pauses]
    if pauses and pauses[-1][1] is None and not data.get("stops_clock"):
        pauses[-1][1] = day
    elif data.get("stops_clock") and not (pauses and pauses[-1][1] is None):
        pauses.append([day, None])
    terminal = bool(data.get("terminal"))
    return {
        "state": data["to_state"],
        "terminal": terminal,
        "state_entered_on": ev.effective_date,
        "closed_on": ev.effective_date if terminal else None,
        "overdue": False,
        "pauses": pauses,
    }


def replay(events: list[CaseEvent]) -> CaseState:
    """Fold a case's events, in order, into its state."""
    case: CaseState | None = None
    for ev in events:
        case = apply(case, ev)
    if case is None:
        raise ValueError("a case needs at least its opened event")
    return case
