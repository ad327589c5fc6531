"""What an officer records on a case page: a check, a step, a note, a fact, an assignment, a
letter posted; and a filed letter's PDF. Each form carries the case's event number (`seq`) it
was rendered at and the engine refuses a save if the case has moved on since (its optimistic
concurrency): the page then says someone else changed the case, shows what changed, and keeps
what was typed. A refusal is the engine's, shown beside the field; no rule lives here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from engine.cases.unit_of_work import CommandResult
from engine.effects.outbox import document_of
from engine.effects.posted import mark_posted
from engine.errors import CMEError, ConcurrentUpdate
from engine.protection.access import Permission
from engine.store.tables import document_table
from engine.web.accounts import WebUser
from engine.web.context import actor_of, engine_of, requires
from engine.web.csrf import csrf_protect
from engine.web.notification_form import iso_date
from engine.web.routes.cases import Reader, flash, show_case
from engine.web.scope import refuse_unless_may_see

router = APIRouter()

Changer = Annotated[WebUser, Depends(requires(Permission.change_case))]


async def _typed(request: Request) -> dict[str, str]:
    """What the form sent, as text (the CSRF token left out)."""
    posted = await request.form()
    return {k: v for k, v in posted.items() if isinstance(v, str) and k != "csrf_token"}


def _seq(typed: dict[str, str]) -> int | None:
    """The event number the form was rendered at (None if the form carried none)."""
    try:
        return int(typed["seq"])
    except (KeyError, ValueError):
        return None


def _date(typed: dict[str, str], field: str, today: dt.date) -> dt.date:
    """The date typed in `field` (2024-10-21 or 21/10/2024), else today; InputError if it is
    not a date, in words a person reads beside the field.
    """
    from engine.errors import InputError

    text = (typed.get(field) or "").strip()
    if not text:
        return today
    try:
        return dt.date.fromisoformat(iso_date(text))
    except ValueError:
        raise InputError(f"{text!r} is not a date: write it as 2024-10-21 or 21/10/2024") from None


Command = Callable[[dict[str, Any]], Any]
"""A command given the arguments every case form passes: `on` (today), `at`, `actor` and the
form's `expected_seq`."""


async def _save(
    request: Request,
    user: WebUser,
    case_id: str,
    typed: dict[str, str],
    *,
    field: str,
    done: str,
    anchor: str,
    command: Command,
) -> Response:
    """`_saved`, off the event loop (the engine's work is blocking), as FastAPI runs a plain
    route.
    """
    return await run_in_threadpool(
        _saved,
        request,
        user,
        case_id,
        typed,
        field=field,
        done=done,
        anchor=anchor,
        command=command,
    )


def _saved(
    request: Request,
    user: WebUser,
    case_id: str,
    typed: dict[str, str],
    *,
    field: str,
    done: str,
    anchor: str,
    command: Command,
) -> Response:
    """Run `command` as the user, today, with the form's seq; on success back to the case page
    with `done` said; on a stale seq the conflict page; on a refusal the engine's reason beside
    `field`.
    """
    engine = engine_of(request)
    refuse_unless_may_see(engine, user, case_id)
    expected = _seq(typed)
    given = {
        "on": engine.today(),
        "at": engine.now(),
        "actor": actor_of(user),
        "expected_seq": expected,
    }
    try:
        command(given)
    except ConcurrentUpdate:
        return show_case(request, user, case_id, kept=typed, conflict=expected, status_code=409)
    except CMEError as exc:
        return show_case(
            request, user, case_id, errors={field: str(exc)}, kept=typed, status_code=400
        )
    flash(request, done)
    return RedirectResponse(f"/cases/{case_id}#{anchor}", status_code=303)


@router.post("/cases/{case_id}/checks/{check}", dependencies=[Depends(csrf_protect)])
async def record_check(request: Request, user: Changer, case_id: str, check: str) -> Response:
    """Record a check: when it was made and what it found (`cme case check`)."""
    service = engine_of(request).service
    typed = await _typed(request)
    p = f"check-{check}-"

    def run(given: dict[str, Any]) -> CommandResult:
        return service.record_check(
            case_id,
            check,
            **{**given, "on": _date(typed, p + "on", given["on"])},
            outcome=typed.get(p + "outcome", ""),
            amend=typed.get(p + "amend") == "yes",
            reason=typed.get(p + "reason") or None,
        )

    done = f"Check {check} recorded."
    return await _save(
        request, user, case_id, typed, field=p + "outcome", done=done, anchor="checks", command=run
    )


@router.post("/cases/{case_id}/steps/{trigger}", dependencies=[Depends(csrf_protect)])
async def take_step(request: Request, user: Changer, case_id: str, trigger: str) -> Response:
    """Take a step (`cme case fire`): roles, stage, dates, checks and guards are the engine's."""
    service = engine_of(request).service
    typed = await _typed(request)
    field = f"step-{trigger}-note"

    def run(given: dict[str, Any]) -> CommandResult:
        return service.fire(case_id, trigger, **given, note=typed.get(field) or None)

    done = f"Step {trigger} taken."
    return await _save(
        request, user, case_id, typed, field=field, done=done, anchor="steps", command=run
    )


@router.post("/cases/{case_id}/notes", dependencies=[Depends(csrf_protect)])
async def add_note(request: Request, user: Changer, case_id: str) -> Response:
    """Add a note to the case's history (`cme case note`)."""
    service = engine_of(request).service
    typed = await _typed(request)

    def run(given: dict[str, Any]) -> CommandResult:
        return service.add_note(case_id, typed.get("note-text", ""), **given)

    return await _save(
        request,
        user,
        case_id,
        typed,
        field="note-text",
        done="Note added.",
        anchor="notes",
        command=run,
    )


@router.post("/cases/{case_id}/facts", dependencies=[Depends(csrf_protect)])
async def record_fact(request: Request, user: Changer, case_id: str) -> Response:
    """Record a fact, typed as the process declares it (`cme case fact`)."""
    service = engine_of(request).service
    typed = await _typed(request)
    name = typed.get("fact-name", "")

    def run(given: dict[str, Any]) -> CommandResult:
        return service.set_fact(case_id, name, typed.get("fact-value", ""), **given)

    done = f"Fact {name} recorded."
    return await _save(
        request, user, case_id, typed, field="fact-value", done=done, anchor="facts", command=run
    )


@router.post("/cases/{case_id}/assign", dependencies=[Depends(csrf_protect)])
async def assign(request: Request, user: Changer, case_id: str) -> Response:
    """Give the case to another officer (`cme case assign`)."""
    service = engine_of(request).service
    typed = await _typed(request)
    officer = typed.get("assign-officer", "").strip()

    def run(given: dict[str, Any]) -> CommandResult:
        return service.assign(case_id, officer, **given)

    done = f"Case assigned to {officer}."
    return await _save(
        request,
        user,
        case_id,
        typed,
        field="assign-officer",
        done=done,
        anchor="assignment",
        command=run,
    )


def _letter_of(request: Request, case_id: str, document_id: int) -> None:
    """404 unless `document_id` is a letter filed on `case_id`."""
    with engine_of(request).store.read() as conn:
        owner = conn.execute(
            select(document_table.c.case_id).where(document_table.c.id == document_id)
        ).scalar()
    if owner != case_id:
        raise HTTPException(status_code=404, detail=f"{case_id} has no letter {document_id}.")


@router.get("/cases/{case_id}/letters/{document_id}.pdf")
def letter_pdf(request: Request, user: Reader, case_id: str, document_id: int) -> Response:
    """A filed letter, as its PDF (`cme outbox document`); the read is logged."""
    engine = engine_of(request)
    refuse_unless_may_see(engine, user, case_id)
    _letter_of(request, case_id, document_id)
    doc = document_of(engine.service, document_id, actor=actor_of(user), at=engine.now())
    return Response(
        content=doc["content"],
        media_type=str(doc["media_type"] or "application/pdf"),
        headers={
            "Content-Disposition": f'inline; filename="{doc["filename"]}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/cases/{case_id}/letters/{document_id}/posted", dependencies=[Depends(csrf_protect)])
async def letter_posted(
    request: Request, user: Changer, case_id: str, document_id: int
) -> Response:
    """Mark a printed letter posted: its check recorded with the letter as evidence
    (`cme outbox posted`).
    """
    service = engine_of(request).service
    typed = await _typed(request)
    _letter_of(request, case_id, document_id)
    field = f"letter-{document_id}-on"

    def run(given: dict[str, Any]) -> Any:
        return mark_posted(
            service,
            document_id,
            **{**given, "on": _date(typed, field, given["on"])},
            check=typed.get(f"letter-{document_id}-check") or None,
        )

    done = f"Letter {document_id} marked posted."
    return await _save(
        request, user, case_id, typed, field=field, done=done, anchor="letters", command=run
    )
