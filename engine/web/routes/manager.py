"""The line manager's pages: decisions waiting (each with its checklist evidence), escalations
and waivers, over the same engine calls as `cme case fire`, `cme case fact`, `cme case waive`
and `cme report escalations`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from engine.cases.projection import CaseState
from engine.cases.views import case_summary, day_of_case, list_cases, outstanding_for
from engine.errors import (
    AccessDenied,
    CMEError,
    ConcurrentUpdate,
    InputError,
    RoleNotPermitted,
    WaiverNotPermitted,
)
from engine.protection.access import Permission
from engine.reports.escalations import escalations_report
from engine.web.accounts import WebUser
from engine.web.context import NotAllowed, actor_of, engine_of, requires
from engine.web.csrf import csrf_protect
from engine.web.decisions import (
    by_stage,
    checklist_evidence,
    decision_forms,
    open_cases,
    reserved_steps,
)
from engine.web.navigation import SECTIONS
from engine.web.pages import render
from engine.web.params import date_param, seq_param
from engine.web.scope import is_scoped, refuse_unless_may_see

router = APIRouter()

Manager = Annotated[WebUser, Depends(requires(Permission.change_case))]


async def _across_cases(request: Request) -> WebUser:
    """The signed-in user, if not a school's: these lists span every school's cases, and a
    school sees only the cases it notified (engine/web/scope.py) — its own on each case's page.
    """
    user = await requires(Permission.change_case)(request)
    if is_scoped(user):
        raise NotAllowed(
            "This list covers every school's cases, and a school sees only the cases it "
            "notified. Your cases' escalations and checks are on each case's page."
        )
    return user


AcrossCases = Annotated[WebUser, Depends(_across_cases)]


async def _decider(request: Request) -> WebUser:
    """The signed-in user, if the Decisions section is theirs (navigation.SECTIONS)."""
    user = await requires(Permission.change_case)(request)
    section = next(s for s in SECTIONS if s.href == "/decisions")
    if section.roles and user.role not in section.roles:
        raise NotAllowed(
            f"You are signed in as {user.name} ({user.role}). The decisions waiting are the "
            f"{', '.join(section.roles)}'s; the steps you may take are on each case's page."
        )
    return user


Decider = Annotated[WebUser, Depends(_decider)]


def _case_href(user: WebUser) -> str:
    """Where a case id links to for this user: the decision page for the role whose section it
    is, else the officer's case page.
    """
    section = next(s for s in SECTIONS if s.href == "/decisions")
    return "/decisions/" if user.role in section.roles else "/cases/"


def _status_of(exc: CMEError) -> int:
    if isinstance(exc, ConcurrentUpdate):
        return 409
    if isinstance(exc, AccessDenied | RoleNotPermitted | WaiverNotPermitted):
        return 403
    return 400


# --- decisions ----------------------------------------------------------------------------------


@router.get("/decisions")
def decisions(request: Request, user: Decider) -> Response:
    """The cases waiting for a decision reserved to the signed-in role (the Day 26 closure)."""
    engine = engine_of(request)
    reader = engine.reader
    today = engine.today()
    waiting: dict[str, tuple[CaseState, list[str]]] = {}
    for case in open_cases(reader):  # personal data sealed, no read logged: only the stages
        steps = reserved_steps(reader.outline_for(case), case.state, user.role)
        if steps:
            waiting[case.id] = (case, [s.title for s in steps])
    rows: list[dict[str, Any]] = []
    for state in sorted({case.state for case, _ in waiting.values()}):
        # Names are read (and logged) only for the cases shown.
        for row in list_cases(reader, state=state, actor=actor_of(user), at=engine.now()):
            if row["id"] not in waiting:
                continue
            case, titles = waiting[row["id"]]
            rows.append(
                {
                    **row,
                    "state_title": reader.outline_for(case).states[case.state].title,
                    "day": day_of_case(reader, case, today),
                    "waiting_since": case.state_entered_on,
                    "decisions": titles,
                }
            )
    rows.sort(key=lambda r: (r["waiting_since"], r["id"]))
    return render(request, "manager/decisions.html", {"title": "Decisions waiting", "rows": rows})


def _decision_page(
    request: Request,
    user: WebUser,
    case_id: str,
    *,
    errors: dict[str, str] | None = None,
    given: dict[str, str] | None = None,
    changed_since: int | None = None,
    status_code: int = 200,
) -> Response:
    engine = engine_of(request)
    service = engine.service
    today = engine.today()
    summary = case_summary(engine.reader, case_id, on=today, actor=actor_of(user), at=engine.now())
    case = engine.reader.get(case_id)
    outline = engine.reader.outline_for(case)
    definition = service.definition_for(case)
    forms = [] if case.terminal else decision_forms(definition, outline, case, user.role)
    evidence = checklist_evidence(
        summary,
        case,
        outline,
        definition,
        engine.reader.events(case_id),
        role=user.role,
        decisions=forms,
    )
    changes = (
        [h for h in summary["history"] if h["seq"] > changed_since]
        if changed_since is not None
        else []
    )
    return render(
        request,
        "manager/decision.html",
        {
            "title": f"Decision on {case_id}",
            "case": summary,
            "forms": forms,
            "evidence_groups": by_stage(evidence),
            "errors": errors or {},
            "given": given or {},
            "changes": changes,
            "done": request.query_params.get("done"),
            "waived": request.query_params.get("waived"),
        },
        status_code=status_code,
    )


@router.get("/decisions/{case_id}")
def decision(request: Request, case_id: str, user: Decider) -> Response:
    """One case's decision: every check with its evidence, and the decision forms."""
    return _decision_page(request, user, case_id)


@router.post("/decisions/{case_id}/{trigger}", dependencies=[Depends(csrf_protect)])
async def decide(request: Request, case_id: str, trigger: str, user: Manager) -> Response:
    """Take a decision: record the facts it needs, then the step, as `cme case fact` and
    `cme case fire` do; the engine judges roles, checks, facts and conditions.
    """
    form = await request.form()
    given = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    engine = engine_of(request)
    service = engine.service
    seq = seq_param(given.get("seq"))
    note = given.get("note", "").strip() or None
    try:
        for key, value in given.items():
            if key.startswith("fact_") and value.strip():
                result = service.set_fact(
                    case_id,
                    key.removeprefix("fact_"),
                    value.strip(),
                    on=engine.today(),
                    at=engine.now(),
                    actor=actor_of(user),
                    expected_seq=seq,
                )
                seq = result.case.seq
        service.fire(
            case_id,
            trigger,
            on=engine.today(),
            at=engine.now(),
            actor=actor_of(user),
            expected_seq=seq,
            note=note,
        )
    except CMEError as exc:
        if isinstance(exc, AccessDenied) and not isinstance(exc, RoleNotPermitted):
            raise
        return _decision_page(
            request,
            user,
            case_id,
            errors={
                f"decision-{trigger}": _conflict(exc)
                if isinstance(exc, ConcurrentUpdate)
                else str(exc)
            },
            given=given,
            changed_since=seq if isinstance(exc, ConcurrentUpdate) else None,
            status_code=_status_of(exc),
        )
    return RedirectResponse(f"/decisions/{quote(case_id)}?done={quote(trigger)}", status_code=303)


def _conflict(exc: ConcurrentUpdate) -> str:
    return (
        "Someone else changed this case after you opened this page, so nothing was saved. "
        "What they changed is listed below; what you entered is still in the form. "
        f"({exc})"
    )


# --- waivers -------------------------------------------------------------------------------------


@router.post("/cases/{case_id}/checks/{check}/waive", dependencies=[Depends(csrf_protect)])
async def waive(request: Request, case_id: str, check: str, user: Manager) -> Response:
    """Waive a check with a reason, as `cme case waive`: the engine says who may (`waived_by`)."""
    engine = engine_of(request)
    refuse_unless_may_see(engine, user, case_id)
    form = await request.form()
    given = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    back = given.get("next") or f"/decisions/{case_id}"
    if not back.startswith("/") or back.startswith("//"):
        back = "/waivers"
    reason = given.get("reason", "").strip()
    field = f"waive-{case_id}-{check}"
    if not reason:
        return _waiver_refused(
            request, user, back, case_id, {field: f"Say why check {check} is waived"}, 400
        )
    try:
        engine.service.waive_check(
            case_id,
            check,
            reason=reason,
            on=engine.today(),
            at=engine.now(),
            actor=actor_of(user),
            expected_seq=seq_param(given.get("seq")),
        )
    except CMEError as exc:
        if isinstance(exc, AccessDenied):
            raise
        message = _conflict(exc) if isinstance(exc, ConcurrentUpdate) else str(exc)
        return _waiver_refused(request, user, back, case_id, {field: message}, _status_of(exc))
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}waived={quote(check)}", status_code=303)


def _waiver_refused(
    request: Request,
    user: WebUser,
    back: str,
    case_id: str,
    errors: dict[str, str],
    status_code: int,
) -> Response:
    if back.startswith("/decisions/"):
        return _decision_page(request, user, case_id, errors=errors, status_code=status_code)
    return _waivers_page(request, user, errors=errors, status_code=status_code)


@router.get("/waivers")
def waivers(request: Request, user: AcrossCases) -> Response:
    """Waivers given on open cases, and the checks still owed that the role may waive."""
    return _waivers_page(request, user)


def _waivers_page(
    request: Request,
    user: WebUser,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    engine = engine_of(request)
    reader = engine.reader
    service = engine.service
    today = engine.today()
    given: list[dict[str, Any]] = []
    waivable: list[dict[str, Any]] = []
    with_waivers: list[str] = []
    for case in open_cases(reader):  # personal data sealed: which cases have anything to show
        checks = service.checks_of(service.definition_for(case))
        owed = [
            o
            for o in outstanding_for(reader, case, reader.outline_for(case), today)
            if o.id in checks and user.role in checks[o.id].waived_by
        ]
        if owed:
            waivable.append(
                {
                    "case_id": case.id,
                    "checks": owed,
                    "late": sum(1 for o in owed if o.escalated or (o.due and o.due < today)),
                }
            )
        if case.waived:
            with_waivers.append(case.id)
    for case_id in with_waivers:
        # The reasons are personal data: read (and logged) only for the cases that have some.
        summary = case_summary(reader, case_id, on=today, actor=actor_of(user), at=engine.now())
        for check, w in summary["checks_waived"].items():
            given.append({"case_id": case_id, "check": check, **w})
    given.sort(key=lambda w: (str(w.get("on")), w["case_id"]), reverse=True)
    return render(
        request,
        "manager/waivers.html",
        {
            "title": "Waivers",
            "given": given,
            "waivable": waivable,
            "errors": errors or {},
            "waived": request.query_params.get("waived"),
            "case_href": _case_href(user),
        },
        status_code=status_code,
    )


# --- escalations ---------------------------------------------------------------------------------


@router.get("/escalations")
def escalations(
    request: Request, user: AcrossCases, since: str | None = None, on: str | None = None
) -> Response:
    """Escalations raised in a period and whether each is still not acted on, as
    `cme report escalations --since --on` (default: the last seven days to today).
    """
    engine = engine_of(request)
    day = date_param(on, "on", engine.today())
    start = date_param(since, "since", day - dt.timedelta(days=6))
    if start > day:
        raise InputError(f"since {start.isoformat()} is after on {day.isoformat()}")
    report = escalations_report(
        engine.service, on=day, since=start, actor=actor_of(user), at=engine.now()
    )
    return render(
        request,
        "manager/escalations.html",
        {
            "title": "Escalations",
            "report": report,
            "since": start,
            "on": day,
            "case_href": _case_href(user),
        },
    )
