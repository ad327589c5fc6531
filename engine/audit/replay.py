"""One case's history as an auditor reads it: the timeline, the case as of a day, replay vs stored.

Owns `replay_case` (rebuild the case from its events with `projection.apply`, the function the
service itself uses, and say for each event when, on which school day, by whom, what changed,
under which rule and which definition version) and `case_as_of` (the case at the end of a day:
state, outstanding checks, timers pending and due). Every read is authorised and recorded in the
access log in the same transaction. Does not stream whole databases (`verify.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from engine.audit.access import authorise, record_access
from engine.audit.chain import EVENT_COLUMNS, Break, checked_rows
from engine.audit.verify import row_differences
from engine.cases.events import (
    CheckRecorded,
    Escalation,
    EventBody,
    FactChanged,
    Migration,
    Note,
    Opened,
    StepTaken,
    TimerFired,
    TimerLapsed,
)
from engine.cases.projection import CaseEvent, CaseState, apply
from engine.cases.reasons import said_with
from engine.cases.service import Actor, CaseService
from engine.errors import CalendarError, CaseNotFound, CMEError, InputError
from engine.language.definition import ProcessDefinition
from engine.protection.access import Permission
from engine.store.tables import case_table, process_version_table, timer_table


@dataclass(frozen=True)
class TimelineEntry:
    """One event as the auditor sees it."""

    seq: int
    effective_date: dt.date
    school_day: int | None
    """Day N of the case on the event's effective date (pauses as they stood then)."""
    recorded_at: dt.datetime
    actor: str
    role: str
    kind: str
    state_before: str | None
    state_after: str
    summary: str
    recorded: dict[str, Any]
    """The check, facts, step or migration the event recorded."""
    rule: str | None
    """The rule that allowed it, with its policy section and legal basis."""
    source: str | None
    """The document the rule comes from (the process version's source)."""
    process_version: int
    content_hash: str | None
    """sha256 of the definition text the event ran under, as stored when first loaded."""
    hash: str
    said: dict[str, str] = field(default_factory=dict)
    """What the person said with it (`note`, `reason`): shown to a role that may read case
    records (`read_case`), since it is about the family; left out for any other."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class Replay:
    """A case rebuilt from its events, and whether that matches what is stored."""

    case_id: str
    process_id: str
    events: list[CaseEvent]
    timeline: list[TimelineEntry]
    replayed: CaseState | None
    chain: Break | None
    differences: list[str]
    """Columns where the stored case row differs from the replayed one."""
    versions: dict[int, str]
    """Content hash of each stored version of the process."""

    @property
    def ok(self) -> bool:
        """Whether the chain verifies and replay reproduces the stored row exactly."""
        return self.chain is None and not self.differences and self.replayed is not None

    def problems(self) -> list[str]:
        """Every integrity failure, in words."""
        out = []
        if self.chain is not None:
            out.append(f"event {self.chain.seq}: {self.chain.what}")
        if self.differences:
            out.append(
                "the stored case row differs from its replayed history: "
                + "; ".join(self.differences)
            )
        return out


@dataclass(frozen=True)
class AsOf:
    """The case exactly as it stood at the end of a day."""

    case_id: str
    on: dt.date
    case: CaseState
    state_title: str
    day: int | None
    events: int
    outstanding_checks: list[dict[str, Any]]
    timers: list[dict[str, Any]]
    """Timers pending at the end of the day; `due` says whether their date had come."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the case as its row, without personal data)."""
        row = self.case.as_row()
        row.pop("personal")
        return {
            "case_id": self.case_id,
            "on": self.on,
            "state": self.case.state,
            "state_title": self.state_title,
            "day": self.day,
            "events": self.events,
            "case": row,
            "outstanding_checks": self.outstanding_checks,
            "timers": self.timers,
        }


def replay_case(service: CaseService, case_id: str, *, actor: Actor, at: dt.datetime) -> Replay:
    """Rebuild the case from its events and compare with the stored row (the read is logged)."""
    authorise(actor, "replay", table=service.roles)
    # Read without the write lock (a long history must not hold up officers), then record the
    # read before anything is returned.
    with service.store.read() as conn:
        events, row, broken = read_history(conn, case_id)
        versions = stored_hashes(conn, events[0].process_id if events else row.process_id)
        said = said_for(service, conn, actor, events)
    with service.store.engine.begin() as conn:
        record_access(conn, actor, case_id=case_id, action="replay", at=at)
    return rebuild(service, case_id, events, row, versions, broken, said=said)


def said_for(
    service: CaseService, conn: Connection, actor: Actor, events: list[CaseEvent]
) -> dict[int, dict[str, str]]:
    """What was said with each event (a step's note, the reason for a repeat, an amendment, a
    waiver, a duplicate override, a hold), by event number: only for a role that may read case
    records (what people write about a case is about the family); nothing for any other.
    """
    if not service.roles.allows(actor.role, Permission.read_case):
        return {}
    out: dict[int, dict[str, str]] = {}
    for ev in events:
        body = ev.body
        if ev.payload.get("personal") and _may_say(body):
            opened = service.keys.reveal_payload(conn, ev.case_id, ev.seq, ev.payload)
            body = replace(ev, payload=opened).body
        said = said_with(body)
        if said:
            out[ev.seq] = said
    return out


def _may_say(body: EventBody) -> bool:
    # Opening every event's personal part would cost replay its speed; only these say anything.
    if isinstance(body, Opened | FactChanged | Note):
        return False
    return not isinstance(body, CheckRecorded) or body.amends is not None


def case_as_of(
    service: CaseService, case_id: str, on: dt.date, *, actor: Actor, at: dt.datetime
) -> AsOf:
    """The case at the end of `on`: its events effective by then, folded (the read is logged)."""
    authorise(actor, "replay", table=service.roles)
    with service.store.read() as conn:
        events, _row, _broken = read_history(conn, case_id)
        timers = conn.execute(
            select(timer_table)
            .where(timer_table.c.case_id == case_id)
            .order_by(timer_table.c.due_date, timer_table.c.id)
        ).all()
        counted = [e for e in events if e.effective_date <= on]
        if not counted:
            opened = events[0].effective_date.isoformat() if events else "a later day"
            raise InputError(
                f"case {case_id} was opened on {opened}; it did not exist on {on.isoformat()}"
            )
    with service.store.engine.begin() as conn:
        record_access(conn, actor, case_id=case_id, action=f"replay as of {on.isoformat()}", at=at)
    case: CaseState | None = None
    for ev in counted:
        case = apply(case, ev)
    assert case is not None
    definition = _definition(service, case, case.process_id, case.process_version)
    seqs = {e.seq for e in counted}
    pending = [
        t
        for t in timers
        if t.armed_seq in seqs and (t.closed_seq is None or t.closed_seq not in seqs)
    ]
    return AsOf(
        case_id=case_id,
        on=on,
        case=case,
        state_title=definition.states[case.state].title if definition else case.state,
        day=_day(service, case, on),
        events=len(counted),
        outstanding_checks=[
            {
                "id": c.id,
                "wording": c.wording,
                "days": str(c.days) if c.days else None,
                "required": c.required,
            }
            for c in (definition.states[case.state].checklist if definition else [])
            if c.id not in case.checks
        ],
        timers=[
            {
                "timer": t.timer_id,
                "due_date": _date(t.due_date),
                "due": _date(t.due_date) <= on,
                "action": t.trigger or f"escalate to {t.escalate_role}",
                "explanation": t.explanation,
            }
            for t in pending
        ],
    )


def read_history(conn: Connection, case_id: str) -> tuple[list[CaseEvent], Any, Break | None]:
    """A case's events, its stored row and the first break in its chain; CaseNotFound if it
    has neither events nor a row.
    """
    rows = conn.execute(
        text(f"SELECT {EVENT_COLUMNS} FROM case_event WHERE case_id = :c ORDER BY seq"),
        {"c": case_id},
    ).all()
    events, broken = checked_rows(tuple(r) for r in rows)
    row = conn.execute(select(case_table).where(case_table.c.id == case_id)).first()
    if not events and row is None:
        raise CaseNotFound(case_id)
    return events, row, broken


def stored_hashes(conn: Connection, process_id: str) -> dict[int, str]:
    """Content hash of each stored version of a process."""
    rows = conn.execute(
        select(process_version_table.c.version, process_version_table.c.content_hash).where(
            process_version_table.c.process_id == process_id
        )
    ).all()
    return {r.version: r.content_hash for r in rows}


def rebuild(
    service: CaseService,
    case_id: str,
    events: list[CaseEvent],
    row: Any,
    versions: dict[int, str],
    broken: Break | None,
    *,
    said: dict[int, dict[str, str]] | None = None,
) -> Replay:
    """Fold the events into the case, building the timeline, and compare with the stored row;
    `said` (`said_for`) is what was said with each event, for the reader.
    """
    timeline: list[TimelineEntry] = []
    case: CaseState | None = None
    definitions: dict[int, ProcessDefinition | None] = {}
    for ev in events:
        before = case
        try:
            case = apply(case, ev)
        except Exception as exc:  # noqa: BLE001 (an altered payload can break the fold in any way)
            broken = broken or Break(ev.seq, f"cannot be replayed ({type(exc).__name__}: {exc})")
            break
        if ev.process_version not in definitions:
            definitions[ev.process_version] = _definition(
                service, case, ev.process_id, ev.process_version
            )
        definition = definitions[ev.process_version]
        timeline.append(
            TimelineEntry(
                seq=ev.seq,
                effective_date=ev.effective_date,
                school_day=_day(service, before or case, ev.effective_date),
                recorded_at=ev.recorded_at,
                actor=ev.actor,
                role=ev.role,
                kind=str(ev.kind),
                state_before=before.state if before is not None else None,
                state_after=case.state,
                summary=_summary(ev),
                recorded=_recorded(ev),
                rule=ev.rule,
                source=definition.source.document if definition else None,
                process_version=ev.process_version,
                content_hash=versions.get(ev.process_version),
                hash=ev.hash,
                said=(said or {}).get(ev.seq, {}),
            )
        )
    differences: list[str] = []
    if case is not None and row is not None:
        differences = row_differences(case, row._mapping)
    elif row is None:
        differences = ["there is no stored case row for these events"]
    return Replay(
        case_id=case_id,
        process_id=events[0].process_id if events else row.process_id,
        events=events,
        timeline=timeline,
        replayed=case,
        chain=broken if events else Break(1, "the case row has no events: its history is gone"),
        differences=differences,
        versions=versions,
    )


def _definition(
    service: CaseService, case: CaseState, process_id: str, version: int
) -> ProcessDefinition | None:
    """The definition of a version (stored text first); None if it can no longer be found."""
    try:
        pinned = replace(case, process_id=process_id, process_version=version)
        return service.process_for(pinned).definition
    except CMEError:
        return None


def _day(service: CaseService, case: CaseState, on: dt.date) -> int | None:
    try:
        return service.calendar_for(case).day_number(case.opened_on, on, skip=case.paused_ranges())
    except CalendarError:
        return None


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _recorded(ev: CaseEvent) -> dict[str, Any]:
    """The check, facts, step or migration an event recorded (personal text left out)."""
    body = ev.body
    if isinstance(body, CheckRecorded):
        outcome = body.outcome
        if outcome is None and body.personal:
            outcome = "(kept, sealed, with the personal data)"
        return {"check": body.check, "outcome": outcome}
    if isinstance(body, FactChanged):
        return {"facts": body.facts or {}, "previous": body.previous}
    if isinstance(body, Migration):
        moved = (
            {}
            if body.to_state is None
            else {"from_state": body.from_state, "to_state": body.to_state}
        )
        return {
            "from_version": body.from_version,
            "to_version": body.to_version,
            **moved,
            "mapping": body.mapping,
        }
    if isinstance(body, TimerFired):
        return {
            "trigger": body.trigger,
            "timer": body.timer,
            "from_state": body.from_state,
            "to_state": body.to_state,
        }
    if isinstance(body, StepTaken):
        return {"trigger": body.trigger, "from_state": body.from_state, "to_state": body.to_state}
    if isinstance(body, Escalation):
        return {"timer": body.timer, "to_role": body.to_role}
    if isinstance(body, TimerLapsed):
        return {"timer": body.timer, "because": body.because}
    return {}


def _summary(ev: CaseEvent) -> str:
    body = ev.body
    if isinstance(body, Opened):
        return f"opened in {body.state}"
    if isinstance(body, Migration):
        moved = "" if body.to_state is None else f", {body.from_state} → {body.to_state}"
        return f"migrated from version {body.from_version} to {body.to_version}{moved}"
    if isinstance(body, StepTaken):  # an interrupt too: it names its own stage as `to_state`
        return f"{body.trigger}: {body.from_state} → {body.to_state}"
    if isinstance(body, CheckRecorded):
        return f"check {body.check} recorded"
    if isinstance(body, FactChanged):
        return "fact " + ", ".join(f"{k} = {v}" for k, v in (body.facts or {}).items())
    if isinstance(body, Escalation):
        return f"escalated to {body.to_role}: {body.message}"
    if isinstance(body, TimerLapsed):
        return f"timer {body.timer} lapsed: {'; '.join(body.because)}"
    return str(ev.kind).replace("_", " ")


__all__ = ["AsOf", "Replay", "TimelineEntry", "case_as_of", "replay_case"]
