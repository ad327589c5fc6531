"""The auditor's pages: the store's integrity (verify, the last checkpoint's age, marked cases),
a case's replay as a timeline with the version in force at each step and the rule that allowed
it, as of any date, and the export bundle; over the same engine calls as `cme audit`.

An auditor writes nothing here: the only forms verify (which records the read and marks a broken
case, as `cme audit verify` does); export is a download.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from engine.audit import case_as_of, export_bundle, render_html, replay_case
from engine.audit.export import bundle_json
from engine.errors import InputError
from engine.protection.access import Permission
from engine.web.accounts import WebUser
from engine.web.audit_status import (
    Verified,
    checkpoint_finding,
    last_verified,
    marks,
    verify_now,
)
from engine.web.context import actor_of, engine_of, requires
from engine.web.csrf import csrf_protect
from engine.web.pages import render
from engine.web.params import date_param

router = APIRouter()

Auditor = Annotated[WebUser, Depends(requires(Permission.read_audit))]


@router.get("/audit")
def audit(request: Request, _user: Auditor) -> Response:
    """The store's integrity: the last checkpoint's age, marked cases, the last verification."""
    return _index_page(request, None)


def _index_page(request: Request, verified: Verified | None) -> Response:
    engine = engine_of(request)
    return render(
        request,
        "audit/index.html",
        {
            "title": "Audit",
            "checkpoint": checkpoint_finding(engine),
            "marks": marks(engine),
            "last": last_verified(engine),
            "verified": verified,
        },
    )


@router.post("/audit/verify", dependencies=[Depends(csrf_protect)])
def verify_all(request: Request, user: Auditor) -> Response:
    """Verify every history now, as `cme audit verify --all`, and show what was found."""
    return _index_page(request, verify_now(engine_of(request), actor_of(user)))


@router.get("/audit/find")
def find(_user: Auditor, case_id: str = "") -> Response:
    """The case-number box on /audit: to that case's replay."""
    wanted = case_id.strip()
    if not wanted:
        raise InputError("enter a case number, such as CME-000001")
    return RedirectResponse(f"/audit/cases/{quote(wanted)}", status_code=303)


def _replay_page(
    request: Request,
    user: WebUser,
    case_id: str,
    *,
    as_of: str | None = None,
    verified: object = None,
) -> Response:
    engine = engine_of(request)
    actor = actor_of(user)
    day = date_param(as_of, "as_of", dt.date.min) if as_of else None
    replay = replay_case(engine.service, case_id, actor=actor, at=engine.now())
    view = (
        case_as_of(engine.service, case_id, day, actor=actor, at=engine.now())
        if day is not None
        else None
    )
    timeline = [t for t in replay.timeline if day is None or t.effective_date <= day]
    return render(
        request,
        "audit/case.html",
        {
            "title": f"Replay of {case_id}",
            "replay": replay,
            "timeline": timeline,
            "as_of": day,
            "view": view,
            "verified": verified,
        },
    )


@router.get("/audit/cases/{case_id}")
def case_replay(
    request: Request, case_id: str, user: Auditor, as_of: str | None = None
) -> Response:
    """A case's replay: every event with the version in force and the rule that allowed it;
    with `as_of`, the case as it stood at the end of that day.
    """
    return _replay_page(request, user, case_id, as_of=as_of)


@router.post("/audit/cases/{case_id}/verify", dependencies=[Depends(csrf_protect)])
def verify_case(request: Request, case_id: str, user: Auditor) -> Response:
    """Verify one case's chain and projection now, as `cme audit verify --case`."""
    verified = verify_now(engine_of(request), actor_of(user), case_id=case_id)
    return _replay_page(request, user, case_id, verified=verified)


@router.get("/audit/cases/{case_id}/export")
def export(request: Request, case_id: str, user: Auditor, format: str = "json") -> Response:
    """The case's export bundle, downloaded, as `cme audit export --format json|html`."""
    if format not in ("json", "html"):
        raise InputError(f"format must be json or html, not {format!r}")
    engine = engine_of(request)
    bundle = export_bundle(
        engine.service, case_id, actor=actor_of(user), at=engine.now(), fmt=format
    )
    text = render_html(bundle) if format == "html" else bundle_json(bundle)
    media = "text/html" if format == "html" else "application/json"
    safe = "".join(c for c in case_id if c.isalnum() or c in "-_") or "case"
    return Response(
        text,
        media_type=f"{media}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}.{format}"',
            # The bundle is the record itself, with the child's personal data: never cached.
            "Cache-Control": "no-store",
        },
    )
