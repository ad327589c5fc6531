"""The officer's pages: my cases (due today and overdue, by case), finding a child, opening a
case from the Appendix 6 notification, and the case page. Every read goes through the engine's
views (`list_cases`, `due_on`, `find_cases`, `case_summary`) as the signed-in person, so it is
logged under their name; a school's user sees only the cases it notified (`scope.py`).
"""

from __future__ import annotations

import datetime as dt
from itertools import groupby
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from engine.cases.duplicates import DuplicateChild
from engine.cases.finding import find_cases
from engine.cases.notification import parse_form
from engine.cases.views import due_on, list_cases
from engine.cli.case_views import due_line
from engine.errors import CaseNotFound, CMEError, InputError
from engine.protection.access import Permission
from engine.web.accounts import WebUser
from engine.web.case_page import case_page, changed_since
from engine.web.context import actor_of, engine_of, requires
from engine.web.csrf import csrf_protect
from engine.web.notification_form import (
    ABOUT,
    CHILDREN,
    INVOLVEMENT,
    NOTIFIER,
    PARENT,
    child_fields,
    every_field,
    field_errors,
    form_data,
    iso_date,
)
from engine.web.pages import render
from engine.web.scope import refuse_unless_may_see, visible_rows

router = APIRouter()

Reader = Annotated[WebUser, Depends(requires(Permission.read_case))]
Changer = Annotated[WebUser, Depends(requires(Permission.change_case))]
FLASH = "flash"


def flash(request: Request, message: str) -> None:
    """A message the next page shows once (a success banner)."""
    request.session[FLASH] = message


def _flashed(request: Request) -> str | None:
    message = request.session.pop(FLASH, None)
    return message if isinstance(message, str) else None


# -- my cases ---------------------------------------------------------------------------------


@router.get("/cases")
def my_cases(request: Request, user: Changer) -> Response:
    """The cases assigned to me, and what is due today or overdue on them, grouped by case
    (as `cme case list --mine` and `cme due --officer ME` say).
    """
    engine = engine_of(request)
    actor, at, today = actor_of(user), engine.now(), engine.today()
    mine = list_cases(engine.reader, actor=actor, at=at, officer=user.name)
    mine = visible_rows(engine, user, mine, key="id")
    items = due_on(engine.reader, on=today, actor=actor, at=at, officer=user.name)
    items = visible_rows(engine, user, items, key="case_id")
    children = {c["id"]: c["child"] for c in mine}
    groups: list[dict[str, Any]] = []
    for case_id, theirs in groupby(items, key=lambda i: str(i["case_id"])):
        rows: list[dict[str, Any]] = []
        for item in theirs:
            check, what, when = due_line(item)
            rows.append(
                {
                    "check": check,
                    "what": what,
                    "why": str(item.get("why") or "").removesuffix(" (escalated)"),
                    "when": when.replace("\n", ", "),
                    "late": when.startswith(("escalated", "overdue")),
                }
            )
        groups.append({"case_id": case_id, "child": children.get(case_id), "items": rows})
    late = sum(1 for g in groups for r in g["items"] if r["late"])
    return render(
        request,
        "cases/mine.html",
        {
            "title": "My cases",
            "cases": mine,
            "groups": groups,
            "late": late,
            "flash": _flashed(request),
        },
    )


# -- find a child -----------------------------------------------------------------------------


@router.get("/cases/find")
def find(request: Request, user: Reader, q: str | None = None) -> Response:
    """Find cases by part of the child's name, UPN, date of birth, school or postcode, through
    the engine's blind index (as `cme case find`).
    """
    engine = engine_of(request)
    found: dict[str, Any] | None = None
    errors: dict[str, str] = {}
    if q is not None:
        try:
            found = find_cases(engine.reader, q, actor=actor_of(user), at=engine.now())
        except InputError as exc:
            errors["q"] = str(exc)
        else:
            found["cases"] = visible_rows(engine, user, found["cases"], key="id")
    return render(
        request,
        "cases/find.html",
        {"title": "Find a child", "q": q or "", "found": found, "errors": errors},
        status_code=400 if errors else 200,
    )


# -- opening a case ---------------------------------------------------------------------------


def _processes(engine: Any, on: dt.date) -> list[dict[str, str]]:
    """The processes a notification may open a case under, in force on `on`."""
    out = []
    registry = engine.service.registry
    for process_id in registry.ids():
        try:
            compiled = engine.service.catalog.in_force(process_id, on)
        except CMEError:
            continue  # pending, or not in force on this date
        out.append({"id": process_id, "title": compiled.definition.title})
    return out


def _new_page(
    request: Request,
    typed: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    duplicate: DuplicateChild | None = None,
    status_code: int = 200,
) -> Response:
    engine = engine_of(request)
    order = {f.id: i for i, f in enumerate(every_field())}
    ordered = dict(sorted((errors or {}).items(), key=lambda e: order.get(e[0], -1)))
    return render(
        request,
        "cases/new.html",
        {
            "title": "Open a case from a notification",
            "typed": typed,
            "errors": ordered,
            "duplicate": duplicate,
            "notifier": NOTIFIER,
            "parent": PARENT,
            "children": [child_fields(i) for i in range(CHILDREN)],
            "involvement": INVOLVEMENT,
            "about": ABOUT,
            "processes": _processes(engine, engine.today()),
        },
        status_code=status_code,
    )


@router.get("/cases/new")
def new_case(request: Request, _user: Changer) -> Response:
    """The Appendix 6 notification form, blank, Day 1 today."""
    engine = engine_of(request)
    return _new_page(
        request, {"received_on": engine.today().isoformat(), "process": "untraceable_cme"}
    )


@router.post("/cases/new", dependencies=[Depends(csrf_protect)])
async def open_from_form(request: Request, user: Changer) -> Response:
    """Open a case per child on the notification, or show each of the engine's refusals beside
    its field (and a duplicate child with its ways on: link, or open anyway with a reason).
    """
    posted = await request.form()
    typed = {k: v for k, v in posted.items() if isinstance(v, str) and k != "csrf_token"}
    # The engine's work is blocking: off the event loop, as FastAPI runs a plain route.
    return await run_in_threadpool(_open_from_form, request, user, typed)


def _open_from_form(request: Request, user: WebUser, typed: dict[str, str]) -> Response:
    engine = engine_of(request)
    labels = {f.id: f.label for f in every_field()}
    try:
        on = dt.date.fromisoformat(iso_date(typed.get("received_on", "")))
    except ValueError:
        errors = {"received_on": "Enter the date the notification was received, as 2024-10-21"}
        return _new_page(request, typed, errors=errors, status_code=400)
    link = typed.get("link") or None
    override = typed.get("override_reason", "") if typed.get("override") == "yes" else None

    def opening(override_reason: str | None) -> list[str]:
        form = parse_form(form_data(typed), source="the notification")
        return engine.service.open_case(
            form,
            on=on,
            at=engine.now(),
            actor=actor_of(user),
            process=typed.get("process") or "untraceable_cme",
            calendar=_default_calendar(engine),
            link=[link] if link else None,
            override_reason=override_reason,
        )

    try:
        ids = opening(override)
    except DuplicateChild as exc:
        return _new_page(
            request,
            typed,
            errors={"duplicate": str(exc)},
            duplicate=exc,
            status_code=409,
        )
    except InputError as exc:
        if override is not None and "different child" in str(exc):
            # The override's reason was refused: show the child's open cases again beside it.
            try:
                opening(None)
            except DuplicateChild as found:
                errors = {"override_reason": str(exc)}
                return _new_page(request, typed, errors=errors, duplicate=found, status_code=400)
            except CMEError:
                pass
            errors = {"override_reason": str(exc)}
        else:
            errors = field_errors(str(exc), labels=labels)
        return _new_page(request, typed, errors=errors, status_code=400)
    except CMEError as exc:
        return _new_page(request, typed, errors={"received_on": str(exc)}, status_code=400)
    flash(request, f"Opened {', '.join(ids)} from the notification.")
    return RedirectResponse(f"/cases/{ids[0]}", status_code=303)


def _default_calendar(engine: Any) -> str | None:
    """The calendar new cases count on (`[calendars] default` in cme.toml), as `cme case open`."""
    from engine.cli import wiring

    found: str | None = wiring.config(engine.settings.db_url).calendars.default
    return found


# -- the case page ----------------------------------------------------------------------------


def show_case(
    request: Request,
    user: WebUser,
    case_id: str,
    *,
    on: dt.date | None = None,
    errors: dict[str, str] | None = None,
    kept: dict[str, str] | None = None,
    conflict: int | None = None,
    status_code: int = 200,
) -> Response:
    """The case page, with a refused form's errors beside its fields and what was typed kept;
    after a stale save (`conflict`: the seq the form was rendered with), what changed since.
    """
    engine = engine_of(request)
    refuse_unless_may_see(engine, user, case_id)
    try:
        page = case_page(engine, case_id, actor=actor_of(user), on=on or engine.today())
    except CaseNotFound:
        raise HTTPException(status_code=404, detail=f"There is no case {case_id}.") from None
    summary = page["case"]
    child = summary["child"]
    name = child.get("full_name") if summary["personal_data"] == "shown" else None
    page.update(
        {
            "title": f"{name or 'Case'} – {case_id}",
            "name": name,
            "errors": errors or {},
            "kept": kept or {},
            "changed": None if conflict is None else changed_since(summary, conflict),
            "flash": _flashed(request),
            "viewing_other_day": on is not None and on != engine.today(),
            "show_all": request.query_params.get("all") == "1",
        }
    )
    return render(request, "cases/case.html", page, status_code=status_code)


@router.get("/cases/{case_id}")
def case(request: Request, user: Reader, case_id: str, on: str | None = None) -> Response:
    """Where the case stands (`cme case show`; `?on=DATE` as its --on, `?all=1` as its --all),
    with a form for each thing an officer records.
    """
    # Read as text: a date-typed query parameter would be fixed to the date class at import.
    day = None
    if on:
        try:
            day = dt.date.fromisoformat(on)
        except ValueError:
            raise InputError(f"?on={on!r} is not a date: write it as 2024-10-21") from None
    return show_case(request, user, case_id, on=day)
