"""Escalations raised in a period, and whether each was still not acted on by a date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, select

from engine.cases.events import Escalation, EventKind, event_from_row
from engine.cases.projection import CaseState
from engine.cases.service import CaseService
from engine.protection.access import ActorLike, Permission, require
from engine.reports.as_of import cases_as_of
from engine.reports.reads import log_reads
from engine.reports.tables import Column, Report
from engine.store.tables import event_table

ESCALATION_COLUMNS = (
    Column("on", "Raised on"),
    Column("case_id", "Case"),
    Column("process", "Process", table=False),
    Column("to_role", "To"),
    Column("check", "Check", table=False),
    Column("message", "Message"),
    Column("still_open", "Not acted on yet"),
    Column("assigned_officer", "Officer"),
)


def escalations_report(
    service: CaseService, *, on: dt.date, since: dt.date, actor: ActorLike, at: dt.datetime
) -> Report:
    """Escalations raised from `since` to `on`, and whether each was still not acted on by `on`.

    Holds no personal data; the read is logged once, not per case.
    """
    require(actor, Permission.read_case, table=service.roles)
    log_reads(service, actor, [None], action=f"report escalations on {on}", at=at)
    cases = {c.id: c for c in cases_as_of(service, on, include_closed=True)}
    rows: list[dict[str, Any]] = []
    with service.store.read() as conn:
        events = conn.execute(
            select(event_table)
            .where(
                and_(
                    event_table.c.kind == str(EventKind.escalation),
                    event_table.c.effective_date >= since,
                    event_table.c.effective_date <= on,
                )
            )
            .order_by(event_table.c.effective_date, event_table.c.case_id, event_table.c.seq)
        ).all()
    for row in events:
        ev = event_from_row(row)
        case = cases.get(ev.case_id)
        raised = ev.body
        assert isinstance(raised, Escalation)  # the query selects escalations only
        rows.append(
            {
                "on": ev.effective_date,
                "case_id": ev.case_id,
                "process": ev.process_id,
                "to_role": raised.to_role,
                "check": raised.check,
                "message": raised.message,
                "still_open": _still_open(case, raised),
                "assigned_officer": case.assigned_officer if case else None,
            }
        )
    return Report(
        name="escalations",
        title="Escalations raised",
        on=on,
        columns=ESCALATION_COLUMNS,
        rows=rows,
        notes=[f"raised {since.isoformat()} to {on.isoformat()}: {len(rows)}"],
    )


def _still_open(case: CaseState | None, raised: Escalation) -> bool:
    """Not acted on: for a check, while it is outstanding (neither recorded, waived nor
    cleared); for anything else, while the case is overdue in the stage it was raised in.
    """
    if case is None or case.terminal:
        return False
    if raised.check is None:
        return case.alerted
    cleared = case.progress.get("cleared", ())
    return raised.check not in case.satisfied_checks() and (raised.stage or "") not in cleared


__all__ = ["ESCALATION_COLUMNS", "escalations_report"]
