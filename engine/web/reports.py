"""The reports the web service offers, each built by the same engine/reports function that
`cme report` calls, for the same date, with the same reads logged; and how a report reads as a
page (the columns the terminal shows) and as a download (every column, CSV or XLSX).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import InputError
from engine.protection.access import ActorLike

if TYPE_CHECKING:
    from engine.cases.service import CaseService
    from engine.reports.tables import Report


@dataclass(frozen=True)
class ReportKind:
    """One report: its address, title, what it is for, and whether it takes a period."""

    name: str
    title: str
    description: str
    period: bool = False
    """Takes `since` (default: six days before `on`, a week), as `cme report` does."""


REPORTS: dict[str, ReportKind] = {
    r.name: r
    for r in (
        ReportKind(
            "register",
            "CME register",
            "Every open case with the child, stage, school day, weeks out of education and what "
            "is due next (sections 4.4 and 6).",
        ),
        ReportKind(
            "rag",
            "Live RAG report",
            "Each open case's red, amber or green rating and why, from the RAG rules (section 12).",
        ),
        ReportKind(
            "mash",
            "Weekly MASH file",
            "Only the fields MASH needs to match a child (section 13).",
        ),
        ReportKind(
            "returns",
            "On and off roll returns",
            "Statutory returns received in the period and those overdue (Appendix 2).",
            period=True,
        ),
    )
}

WEEK = dt.timedelta(days=6)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def period_start(since: dt.date | None, on: dt.date) -> dt.date:
    """The period's first day: `since`, else a week before `on` (as `cme report returns`)."""
    start = since or on - WEEK
    if start > on:
        raise InputError(f"the period's start {start.isoformat()} is after {on.isoformat()}")
    return start


def build(
    kind: ReportKind,
    service: CaseService,
    *,
    on: dt.date,
    since: dt.date | None,
    actor: ActorLike,
    at: dt.datetime,
    rag_rules: Callable[[], Any],
) -> Report:
    """The report, from the engine function `cme report <name>` calls."""
    if kind.name == "register":
        from engine.reports.register import register_report

        return register_report(service, on=on, actor=actor, at=at)
    if kind.name == "rag":
        from engine.reports.rag_report import rag_report

        return rag_report(service, on=on, rules=rag_rules(), actor=actor, at=at)
    if kind.name == "mash":
        from engine.reports.mash import mash_report

        return mash_report(service, on=on, actor=actor, at=at)
    from engine.reports.returns import returns_report

    return returns_report(service, on=on, since=period_start(since, on), actor=actor, at=at)


def page_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """The headings and cells of the page's table: the columns the terminal shows, each cell
    as text (lists one item a line).
    """
    columns = [c for c in report.columns if c.table]
    rows = [[_cell(row.get(c.key)) for c in columns] for row in report.rows]
    return [c.heading for c in columns], rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def file_name(report: Report, suffix: str) -> str:
    """The download's name, e.g. cme-register-2024-11-04.csv."""
    return f"cme-{report.name}-{report.on.isoformat()}.{suffix}"
