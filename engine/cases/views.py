"""Read-only views of cases for people: where a case stands, what is outstanding, what is due.

Owns the shape of `cme case show`, `cme case list` and `cme due` (plain dicts, JSON-ready). Does
not change anything and does not format for the terminal (that is the CLI).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, select

from engine.cases.events import (
    CheckRecorded,
    DeadlineMoved,
    Escalation,
    EventBody,
    FactChanged,
    Migration,
    Note,
    Opened,
    StepTaken,
    TimerLapsed,
)
from engine.cases.history import HistoryReader, PolicyWords
from engine.cases.outstanding import OutstandingCheck, is_late, outstanding_checks
from engine.cases.projection import CaseState
from engine.cases.reading import Reads
from engine.cases.reasons import said_with
from engine.errors import CalendarError
from engine.language.outline import ESCALATE_CHECK, ProcessOutline
from engine.protection.access import ActorLike, Permission, authorise_read, log_read, require
from engine.protection.crypto import PURGED
from engine.store.tables import case_table, timer_table
from engine.time.words import day_words


def day_of_case(service: Reads, case: CaseState, on: dt.date) -> int | None:
    """Day N of the case's timeline on `on` (None if the calendar does not cover `on`)."""
    try:
        cal = service.calendar_for(case)
        return cal.day_number(case.opened_on, on, skip=case.paused_ranges())
    except CalendarError:
        return None


def checklist(outline: ProcessOutline, case: CaseState) -> list[dict[str, Any]]:
    """The current stage's checks, each done (with date and outcome) or outstanding."""
    out = []
    for check in outline.states[case.state].checklist:
        done = case.checks.get(check.id)
        outcome = case.check_outcome(check.id) if done else None
        # A waived check is done for the steps that need it; it says so, with its reason.
        waived = case.waived.get(check.id) if done is None else None
        out.append(
            {
                "id": check.id,
                "wording": check.wording,
                "channel": check.channel,
                "days": check.window,
                "required": check.required,
                "done": done is not None or waived is not None,
                "on": (done or waived or {}).get("on"),
                "outcome": outcome
                if waived is None
                else f"waived: {case.waiver_reason(check.id) or WITHHELD}",
                "waived": waived is not None,
            }
        )
    return out


def outstanding_for(
    service: Reads, case: CaseState, outline: ProcessOutline, on: dt.date
) -> list[OutstandingCheck]:
    """The checks the case owes on `on`, from every stage it has entered (`outstanding.py`)."""
    try:
        cal = service.calendar_for(case)
    except CalendarError:
        return []
    return outstanding_checks(outline, case, on=on, calendar=cal)


def counted_facts(
    service: Reads, case: CaseState, outline: ProcessOutline, on: dt.date
) -> dict[str, dict[str, Any]]:
    """The facts the engine counts from the case's dates (`engine/cases/derived.py`), each with
    how it is counted and its value on `on`, or why it has none.
    """
    if not outline.counts:
        return {}
    from engine.cases.derived import shown_counts

    try:
        cal = service.calendar_for(case)
    except CalendarError as exc:
        return {c.name: {"value": None, "why": str(exc)} for c in outline.counts}
    return shown_counts(outline.counts, case.all_facts(), cal, on=on, opened_on=case.opened_on)


def case_summary(
    service: Reads,
    case_id: str,
    *,
    on: dt.date,
    actor: ActorLike | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Everything `cme case show` prints about one case.

    With a reader (`actor`, read at `at`) the read is checked and logged and the personal data
    shown; without one, personal data is withheld.
    """
    if actor is not None:
        authorise_read(
            service.store,
            actor,
            case_ids=[case_id],
            action="case show",
            at=_read_at(at),
            table=service.roles,
        )
    with service.store.read() as conn:
        case = service.get(case_id, conn=conn)
        timers = conn.execute(
            select(timer_table)
            .where(timer_table.c.case_id == case_id)
            .order_by(timer_table.c.due_date, timer_table.c.id)
        ).all()
        events = service.events(case_id, conn=conn)
        case, events, personal_data = _for_reader(
            service, conn, case, events, reader=actor is not None
        )
    # The pinned version's stored outline: showing a case builds no definition, guards or machine.
    outline = service.outline_for(case)
    state = outline.states[case.state]
    return {
        "id": case.id,
        "process": {"id": case.process_id, "version": case.process_version, "title": outline.title},
        "state": case.state,
        "state_title": state.title,
        "state_description": state.description,
        "terminal": case.terminal,
        "opened_on": case.opened_on,
        "closed_on": case.closed_on,
        "day": day_of_case(service, case, on),
        "on": on,
        "calendar": case.calendar,
        "overdue": case.overdue,
        "assigned_officer": case.assigned_officer,
        "sibling_group": case.sibling_group,
        "child": _child(case),
        "personal_data": personal_data,
        "facts": case.all_facts(),
        "counted": counted_facts(service, case, outline, on),
        "checklist": checklist(outline, case),
        "outstanding_checks": [o.as_dict() for o in outstanding_for(service, case, outline, on)],
        "checks_waived": {
            c: {**w, "reason": case.waiver_reason(c)} for c, w in case.waived.items()
        },
        "checks_recorded": {
            c: {**done, "outcome": case.check_outcome(c), **_earlier(case, c, done)}
            for c, done in case.checks.items()
        },
        "next_steps": [
            {"trigger": step.id, "title": step.title, "roles": list(step.roles)}
            for step in ([] if case.terminal else outline.steps_from(case.state))
        ],
        "timers": [
            {
                "timer": t.timer_id,
                "due_date": t.due_date,
                "status": t.status,
                "action": t.trigger or f"escalate to {t.escalate_role}",
                "explanation": t.explanation,
            }
            for t in timers
        ],
        "clock_paused": [list(p) for p in case.pauses],
        "seq": case.seq,
        "head_hash": case.head_hash,
        "history": history_rows(events, outline),
    }


def history_rows(events: list[Any], outline: ProcessOutline) -> list[dict[str, Any]]:
    """Each event as a row of `case show`'s history, said in the policy's words
    (`engine.cases.history`); `not_needed` marks a reminder that was not needed.
    """
    reader = HistoryReader.start(PolicyWords.of(outline))
    return [
        {
            "seq": e.seq,
            "effective_date": e.effective_date,
            "kind": str(e.kind),
            "actor": e.actor,
            "role": e.role,
            "rule": e.rule,
            "summary": reader.line(e, event_summary(e.body, str(e.kind))),
            "not_needed": reader.not_needed(e),
            # What the person said with it (a step's note, the reason for a repeat, amendment,
            # waiver or hold), where this reader was given the personal data.
            "note": (said := said_with(e.body)).get("note"),
            "reason": said.get("reason"),
        }
        for e in events
    ]


def _earlier(case: CaseState, check_id: str, done: dict[str, Any]) -> dict[str, Any]:
    """An amended check's earlier recordings (when, by whom) with what each found, oldest
    first; nothing for a check recorded once.
    """
    earlier = done.get("earlier")
    if not earlier:
        return {}
    outcomes = (case.personal.get("earlier_outcomes") or {}).get(check_id) or []
    return {
        "earlier": [
            {**entry, "outcome": outcomes[i] if i < len(outcomes) else None}
            for i, entry in enumerate(earlier)
        ]
    }


WITHHELD = "(personal data withheld)"
"""What a history line shows in place of personal data the reader was not given."""


def event_summary(body: EventBody, kind: str) -> str:
    """One line saying what an event did (`kind` names the events with no line of their own)."""
    shown: Any = body.personal  # opened for a reader, withheld, or `PURGED` (a string)
    personal: dict[str, Any] = shown if isinstance(shown, dict) else {}
    if isinstance(body, StepTaken):
        return f"{body.trigger}: {body.from_state} → {body.to_state}"
    if isinstance(body, Migration | DeadlineMoved):
        return _version_change_line(body)
    if isinstance(body, Opened):
        return f"opened in {body.state}"
    if isinstance(body, CheckRecorded):
        outcome = body.outcome or personal.get("check_outcomes", {}).get(body.check)
        return f"check {body.check}: {outcome or WITHHELD}"
    if isinstance(body, FactChanged) and body.personal_fact is not None:
        value = personal.get("facts", {}).get(body.personal_fact)
        return f"{body.personal_fact} = {WITHHELD if value is None else value}"
    if isinstance(body, FactChanged):
        return ", ".join(f"{k} = {v}" for k, v in (body.facts or {}).items())
    if isinstance(body, Escalation):
        return f"escalated to {body.to_role}: {body.message}"
    if isinstance(body, TimerLapsed):
        return f"timer {body.timer} lapsed: {'; '.join(body.because)}"
    if isinstance(body, Note):
        return f"note: {personal.get('last_note') or WITHHELD}"
    return kind


def _version_change_line(body: Migration | DeadlineMoved) -> str:
    """A migration onto another process version, or deadlines a calendar version moved."""
    if isinstance(body, DeadlineMoved):
        return _deadlines_moved_line(body)
    return _migration_line(body)


def _migration_line(body: Migration) -> str:
    """A migration: the versions, the stage map it used, and the stage it moved to."""
    line = (
        f"migrated from version {body.from_version} to {body.to_version}, stage map {body.mapping}"
    )
    if body.to_state is not None:
        line += f": {body.from_state} → {body.to_state}"
    return line


def _deadlines_moved_line(body: DeadlineMoved) -> str:
    """A calendar reload: who loaded which version, and each deadline's old and new date."""
    was = f"version {body.from_version}" if body.from_version is not None else "the shipped file"
    moves = ", ".join(
        f"{m['timer']} {day_words(dt.date.fromisoformat(m['from']))} → "
        f"{day_words(dt.date.fromisoformat(m['to']))}"
        for m in body.moved
    )
    return (
        f"deadlines moved: calendar {body.calendar} {was} → version {body.to_version}, loaded "
        f"by {body.loaded_by} ({body.loaded_by_role}): {moves}; {body.reason}"
    )


def _read_at(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        raise ValueError("a logged read needs the time it happened (`at`)")
    return at


def _for_reader(
    service: Reads,
    conn: Any,
    case: CaseState,
    events: list[Any],
    *,
    reader: bool,
) -> tuple[CaseState, list[Any], str]:
    """The case and its events with personal data opened for a reader, else withheld; and
    which of `shown`, `withheld` or `purged` applies.
    """
    if not reader:
        return (
            replace(case, personal={}),
            [
                replace(e, payload={k: v for k, v in e.payload.items() if k != "personal"})
                for e in events
            ],
            "withheld",
        )
    if service.keys.destroyed(conn, case.id):
        child = {k: PURGED for k in ("full_name", "date_of_birth", "upn", "school")}
        return (
            replace(case, personal={"child": child}),
            [
                replace(e, payload={k: v for k, v in e.payload.items() if k != "personal"})
                for e in events
            ],
            "purged",
        )
    opened = service.revealed(case, conn=conn)
    events = [
        replace(e, payload=service.keys.reveal_payload(conn, e.case_id, e.seq, e.payload))
        for e in events
    ]
    return opened, events, "shown"


def _child(case: CaseState) -> dict[str, Any]:
    child = case.personal.get("child") or {}
    return {k: child.get(k) for k in ("full_name", "date_of_birth", "upn", "school")}


def list_cases(
    service: Reads,
    *,
    state: str | None = None,
    overdue: bool = False,
    include_closed: bool = False,
    actor: ActorLike | None = None,
    at: dt.datetime | None = None,
    officer: str | None = None,
) -> list[dict[str, Any]]:
    """Cases, optionally only in one state, only overdue or only `officer`'s; open cases unless
    asked.

    Children's names are shown only to a reader (`actor`), whose read of each case is logged.
    """
    if actor is not None:
        require(actor, Permission.read_case, table=service.roles)
    query = select(case_table)
    if state:
        query = query.where(case_table.c.state == state)
    if overdue:
        query = query.where(case_table.c.overdue.is_(True))
    if not include_closed:
        query = query.where(case_table.c.terminal.is_(False))
    if officer is not None:
        query = query.where(case_table.c.assigned_officer == officer)
    with service.store.read() as conn:
        rows = conn.execute(query.order_by(case_table.c.id)).all()
        cases = [
            _for_reader(service, conn, CaseState.from_row(r), [], reader=actor is not None)[0]
            for r in rows
        ]
    if actor is not None:
        with service.store.engine.begin() as log:
            for case in cases:
                log_read(log, actor, case_id=case.id, action="case list", at=_read_at(at))
    out = []
    for case in cases:
        out.append(
            {
                "id": case.id,
                "process": case.process_id,
                "state": case.state,
                "opened_on": case.opened_on,
                "overdue": case.overdue,
                "assigned_officer": case.assigned_officer,
                "child": _child(case)["full_name"],
            }
        )
    return out


def due_on(
    service: Reads,
    *,
    on: dt.date,
    actor: ActorLike | None = None,
    at: dt.datetime | None = None,
    officer: str | None = None,
) -> list[dict[str, Any]]:
    """What each officer (or only `officer`) must do on `on`: timers due by then, and checks
    whose window is open.

    Shows no personal data; a reader's (`actor`) right to read cases is checked and logged.
    """
    if actor is not None:
        authorise_read(
            service.store,
            actor,
            case_ids=[None],
            action=f"due on {on}",
            at=_read_at(at),
            table=service.roles,
        )
    # One officer's work is read from their cases only, not worked out for every open case.
    theirs = [] if officer is None else [case_table.c.assigned_officer == officer]
    with service.store.read() as conn:
        timers = conn.execute(
            select(timer_table, case_table.c.assigned_officer)
            .join(case_table, case_table.c.id == timer_table.c.case_id)
            .where(and_(timer_table.c.status == "pending", timer_table.c.due_date <= on, *theirs))
            .order_by(timer_table.c.due_date, timer_table.c.case_id)
        ).all()
        open_cases = conn.execute(
            select(case_table)
            .where(case_table.c.terminal.is_(False), *theirs)
            .order_by(case_table.c.id)
        ).all()
    items: list[dict[str, Any]] = []
    for t in timers:
        if t.action == ESCALATE_CHECK:
            continue  # the check itself is listed below, named, with its due date
        items.append(
            {
                "officer": t.assigned_officer,
                "case_id": t.case_id,
                "kind": "timer",
                "due_date": t.due_date,
                "what": t.trigger or f"escalate to {t.escalate_role}",
                "why": t.explanation,
            }
        )
    for row in open_cases:
        case = CaseState.from_row(row)
        outline = service.outline_for(case)
        day = day_of_case(service, case, on)
        if day is None:
            continue
        owed = outstanding_for(service, case, outline, on)
        for item in owed:
            late = is_late(item, on)
            items.append(
                {
                    "officer": case.assigned_officer,
                    "case_id": case.id,
                    "kind": "overdue check" if late else "check",
                    "due_date": item.due or on,
                    "check": item.id,
                    "wording": item.wording,
                    "stage": item.stage,
                    "escalated": item.escalated,
                    "what": f"{item.id}: {item.wording}",
                    "why": f"Day {day} of the case; window {item.window}"
                    + (" (escalated)" if item.escalated else "")
                    if item.window
                    else f"Day {day} of the case",
                }
            )
        if case.alerted:
            items.append(
                {
                    "officer": case.assigned_officer,
                    "case_id": case.id,
                    "kind": "escalated",
                    "due_date": on,
                    "what": "case escalated: act on it",
                    "why": "an escalation was raised and the case has not moved since",
                }
            )
    # A case's items together (the CLI groups them), its earliest first.
    items.sort(key=lambda i: (str(i["officer"]), i["case_id"], i["due_date"]))
    return items
