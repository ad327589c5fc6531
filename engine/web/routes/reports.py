"""The reports: register, RAG, MASH and returns as tables, with CSV and XLSX downloads — the same
figures as `cme report` for the same date, every read logged as the CLI logs it.

A school's user sees no reports: they cover every case, and a school sees only the cases it
notified (engine/web/scope.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from engine.errors import InputError
from engine.protection.access import Permission
from engine.reports.tables import Report, csv_text, xlsx_bytes
from engine.web.accounts import WebUser
from engine.web.context import NotAllowed, actor_of, engine_of, requires
from engine.web.pages import render
from engine.web.params import date_param
from engine.web.reports import (
    REPORTS,
    XLSX_TYPE,
    ReportKind,
    build,
    file_name,
    page_rows,
)
from engine.web.scope import is_scoped

router = APIRouter()

Reader = Annotated[WebUser, Depends(requires(Permission.read_case))]


def _not_for_schools(user: WebUser) -> None:
    if is_scoped(user):
        raise NotAllowed(
            "Reports cover every case, and a school sees only the cases it notified. Ask the "
            "CME team for figures about your pupils."
        )


def _kind(name: str) -> ReportKind:
    kind = REPORTS.get(name)
    if kind is None:
        raise HTTPException(
            status_code=404,
            detail=f"There is no report called {name!r}. Reports: {', '.join(REPORTS)}.",
        )
    return kind


def _rag_rules(request: Request) -> object:
    # The shipped RAG rules, read once per app (as `cme report rag` reads them without --rules).
    rules = getattr(request.app.state, "rag_rules", None)
    if rules is None:
        from engine.cli import wiring
        from engine.reports.rag import load_rag_for

        rules = load_rag_for(wiring.registry(), None)
        request.app.state.rag_rules = rules
    return rules


def _report(
    request: Request, user: WebUser, name: str, on: str | None, since: str | None
) -> Report:
    _not_for_schools(user)
    kind = _kind(name)
    engine = engine_of(request)
    day = date_param(on and on.strip(), "The date", engine.today())
    start = date_param(since.strip(), "The period's start", day) if since else None
    return build(
        kind,
        engine.service,
        on=day,
        since=start,
        actor=actor_of(user),
        at=engine.now(),
        rag_rules=lambda: _rag_rules(request),
    )


@router.get("/reports")
async def reports_index(request: Request, user: Reader) -> Response:
    """The reports, each with a link for today."""
    _not_for_schools(user)
    return render(
        request, "reports/index.html", {"title": "Reports", "reports": list(REPORTS.values())}
    )


@router.get("/reports/{name}.csv")
def report_csv(
    request: Request, user: Reader, name: str, on: str | None = None, since: str | None = None
) -> Response:
    """The report as CSV: every column, cells a spreadsheet would run as formulas neutralised."""
    report = _report(request, user, name, on, since)
    return Response(
        csv_text(report).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{file_name(report, "csv")}"'},
    )


@router.get("/reports/{name}.xlsx")
def report_xlsx(
    request: Request, user: Reader, name: str, on: str | None = None, since: str | None = None
) -> Response:
    """The report as a spreadsheet: every column, and a sheet saying how it was made."""
    report = _report(request, user, name, on, since)
    return Response(
        xlsx_bytes(report),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{file_name(report, "xlsx")}"'},
    )


@router.get("/reports/{name}")
def report_page(
    request: Request, user: Reader, name: str, on: str | None = None, since: str | None = None
) -> Response:
    """The report as a table for the date asked (`?on=`, default today)."""
    kind = _kind(name)
    try:
        report = _report(request, user, name, on, since)
    except InputError as exc:
        # A date that cannot be read: the form again, with the message beside the field.
        field = "since" if since and "start" in str(exc) else "on"
        return render(
            request,
            "reports/report.html",
            {
                "title": kind.title,
                "kind": kind,
                "report": None,
                "on": on or "",
                "since": since or "",
                "errors": {field: str(exc)},
            },
            status_code=400,
        )
    headings, rows = page_rows(report)
    query = f"?on={report.on.isoformat()}" + (f"&since={since}" if kind.period and since else "")
    return render(
        request,
        "reports/report.html",
        {
            "title": f"{kind.title} on {report.on.isoformat()}",
            "kind": kind,
            "report": report,
            "headings": headings,
            "rows": rows,
            "case_column": _shown_column(report, "case_id"),
            "colour_column": _shown_column(report, "colour"),
            "on": report.on.isoformat(),
            "since": since or "",
            "query": query,
        },
    )


def _shown_column(report: Report, key: str) -> int | None:
    shown = [c for c in report.columns if c.table]
    return next((i for i, c in enumerate(shown) if c.key == key), None)
