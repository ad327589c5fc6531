"""The live RAG report (policy section 6): each open case's colour and every reason for it, by
the RAG rules of `engine/reports/rag.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.cases.notification import age_phase
from engine.cases.projection import CaseState
from engine.cases.service import CaseService
from engine.cases.views import day_of_case, outstanding_for
from engine.errors import CalendarError
from engine.protection.access import ActorLike, Permission, require
from engine.reports.as_of import cases_as_of
from engine.reports.rag import LoadedRag
from engine.reports.reads import case_facts, days_out_of_education, log_reads, maybe_date
from engine.reports.tables import Column, Report

RAG_COLUMNS = (
    Column("case_id", "Case"),
    Column("colour", "RAG"),
    Column("child", "Child"),
    Column("phase", "Phase", table=False),
    Column("state", "Stage", table=False),
    Column("weeks_out", "Weeks out of education"),
    Column("reasons", "Why"),
    Column("assigned_officer", "Officer"),
)


def rag_report(
    service: CaseService, *, on: dt.date, rules: LoadedRag, actor: ActorLike, at: dt.datetime
) -> Report:
    """The live RAG report (section 6): each open case's colour and every reason for it."""
    require(actor, Permission.read_case, table=service.roles)
    processes = rules.definition.processes
    cases = cases_as_of(service, on, processes=processes)
    log_reads(service, actor, [c.id for c in cases], action=f"report rag on {on}", at=at)
    rows: list[dict[str, Any]] = []
    for case in cases:
        outline = service.outline_for(case)
        facts = case_facts(case)
        child = case.personal.get("child") or {}
        dob = maybe_date(child.get("date_of_birth"))
        days_out = days_out_of_education(case, facts, on)
        owed = outstanding_for(service, case, outline, on)
        measures: dict[str, Any] = {
            "outstanding_checks": len(owed),
            "escalated_checks": sum(1 for o in owed if o.escalated),
            "weeks_out_of_education": days_out // 7,
            "days_out_of_education": days_out,
            "weeks_since_notification": max(0, (on - case.opened_on).days) // 7,
            "state": case.state,
            "process": case.process_id,
            "notification_text": _notification_text(case),
        }
        rating = rules.rate(
            facts=facts,
            measures=measures,
            checks_done=case.satisfied_checks(),
            case_day=day_of_case(service, case, on) or 0,
            state_day=_state_day(service, case, on),
            on=on,
            opened_on=case.opened_on,
        )
        rows.append(
            {
                "case_id": case.id,
                "colour": str(rating.colour),
                "child": child.get("full_name"),
                "phase": age_phase(dob, on) if dob else None,
                "state": outline.states[case.state].title,
                "weeks_out": days_out // 7,
                "reasons": [f"{r.colour}: {r.because}" for r in rating.reasons],
                "assigned_officer": case.assigned_officer,
            }
        )
    order = {"red": 0, "amber": 1, "green": 2}
    rows.sort(key=lambda r: (order.get(r["colour"], 3), -r["weeks_out"], r["case_id"]))
    counts = {c: sum(1 for r in rows if r["colour"] == c) for c in order}
    return Report(
        name="rag",
        title="Live RAG report",
        on=on,
        columns=RAG_COLUMNS,
        rows=rows,
        notes=[
            f"rules: {rules.path} version {rules.definition.version} "
            f"(sha256 {rules.content_hash[:12]})",
            "red {red}, amber {amber}, green {green}".format(**counts),
        ],
    )


def _state_day(service: CaseService, case: CaseState, on: dt.date) -> int:
    try:
        return service.calendar_for(case).day_number(case.state_entered_on, on)
    except CalendarError:
        return 0


def _notification_text(case: CaseState) -> str:
    involvement = case.personal.get("involvement") or {}
    parts = [
        case.personal.get("explanation"),
        case.personal.get("additional_information"),
        involvement.get("other_details") if isinstance(involvement, dict) else None,
    ]
    return " ".join(p for p in parts if isinstance(p, str)).lower()


__all__ = ["RAG_COLUMNS", "rag_report"]
