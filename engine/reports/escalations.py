"""Escalations raised in a period, and whether each was still not acted on by a date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, select

from engine.cases.events import Escalation, EventKind, event_from_row
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
                "message": raised.message,
                "still_open": bool(case and case.overdue and not case.terminal),
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


__all__ = ["ESCALATION_COLUMNS", "escalations_report"]
