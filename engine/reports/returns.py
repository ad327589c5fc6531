"""Statutory on/off-roll returns (policy Appendix 2): those received in a period and those
overdue on a date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.cases.projection import EventKind
from engine.cases.service import CaseService
from engine.protection.access import ActorLike, Permission, require
from engine.reports.as_of import cases_as_of, timers_as_of
from engine.reports.reads import case_facts, events_between, log_reads
from engine.reports.tables import Column, Report

ROLL_RETURNS_PROCESS = "roll_returns"
RETURN_STEPS = (
    "submit_return",
    "submit_deletion_return",
    "submit_deletion_return_new_school",
    "submit_deletion_return_moved_away",
    "submit_deletion_return_left_country",
)
"""The steps that record a return as received: version 3 takes a deletion return by its
ground's step (regulation 13(4) asks different details of Grounds A and G)."""


RETURNS_COLUMNS = (
    Column("case_id", "Case"),
    Column("status", "Status"),
    Column("school", "School"),
    Column("child", "Child"),
    Column("upn", "UPN", table=False),
    Column("roll_change", "Change"),
    Column("change_date", "Date of change"),
    Column("received_on", "Return received"),
    Column("overdue_since", "Overdue since"),
    Column("deletion_ground", "Ground", table=False),
)


def returns_report(
    service: CaseService, *, on: dt.date, since: dt.date, actor: ActorLike, at: dt.datetime
) -> Report:
    """Statutory on/off-roll returns (Appendix 2) received from `since` to `on`, and overdue on
    `on` (not received and escalated, or past the day they were due).
    """
    require(actor, Permission.read_case, table=service.roles)
    cases = cases_as_of(service, on, processes=[ROLL_RETURNS_PROCESS], include_closed=True)
    received = events_between(
        service, [c.id for c in cases], since, on, kind=EventKind.trigger, trigger=RETURN_STEPS
    )
    timers = timers_as_of(service, [c for c in cases if c.state == "return_due"])
    escalated = events_between(
        service, [c.id for c in cases], dt.date.min, on, kind=EventKind.escalation
    )
    rows: list[dict[str, Any]] = []
    for case in cases:
        status = None
        received_on = received.get(case.id)
        overdue_since = None
        if received_on is not None:
            status = "received"
        elif case.state == "return_due":
            past = [t.due_date for t in timers.get(case.id, []) if t.due_date <= on]
            when = escalated.get(case.id) or (min(past) if past else None)
            if case.overdue or when is not None:
                status, overdue_since = "overdue", when
        if status is None:
            continue
        child = case.personal.get("child") or {}
        notifier = case.personal.get("notifier") or {}
        facts = case_facts(case)
        rows.append(
            {
                "case_id": case.id,
                "status": status,
                "school": notifier.get("school_or_service") or child.get("school"),
                "child": child.get("full_name"),
                "upn": child.get("upn"),
                "roll_change": facts.get("roll_change"),
                "change_date": case.opened_on,
                "received_on": received_on,
                "overdue_since": overdue_since,
                # Version 3 records the ground as `ground` (Ground A … O).
                "deletion_ground": facts.get("deletion_ground") or facts.get("ground"),
            }
        )
    rows.sort(key=lambda r: (r["status"] != "overdue", r["case_id"]))
    log_reads(service, actor, [r["case_id"] for r in rows], action=f"report returns on {on}", at=at)
    n_over = sum(1 for r in rows if r["status"] == "overdue")
    return Report(
        name="returns",
        title="Statutory on/off roll returns",
        on=on,
        columns=RETURNS_COLUMNS,
        rows=rows,
        notes=[
            f"received {since.isoformat()} to {on.isoformat()}: {len(rows) - n_over}; "
            f"overdue on {on.isoformat()}: {n_over}"
        ],
    )


__all__ = ["RETURNS_COLUMNS", "ROLL_RETURNS_PROCESS", "returns_report"]
