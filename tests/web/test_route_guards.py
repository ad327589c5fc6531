"""Every route of the app, walked at the HTTP level (routes added later are covered as soon as
they exist): each POST refuses a request without the CSRF token and writes nothing; each page
that is not public sends a stranger to sign in; each role reaches only what ROUTE_ACCESS says;
an auditor changes nothing; a policy owner reads no case; a school opens only its own cases.

A route missing from ROUTE_ACCESS fails `test_every_route_is_in_the_access_table`: its author
adds a row saying who may use it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from freezegun import freeze_time
from sqlalchemy import func, select
from sqlmodel import SQLModel

from engine.cases.notification import parse_form
from engine.cli import wiring
from engine.protection.access import Actor
from engine.web.accounts import add_account
from engine.web.csrf import csrf_protect
from tests.web.conftest import SignIn, form_token
from tests.web.manager_cases import DAY_26, day_26_case, service_of

SCHOOL = "Kentish Town Primary School"
PEOPLE = (
    "cme_officer",
    "line_manager",
    "sen_service",
    "school",
    "pupil_attendance_service",
    "auditor",
    "policy_owner",
    "read_only",
    "records_manager",
)
"""Every role a person may hold (processes/roles.yaml without the scheduler)."""

PUBLIC = frozenset({"anyone"})
SIGNED_IN = frozenset(PEOPLE)
READ_CASE = frozenset(
    {"cme_officer", "line_manager", "sen_service", "school", "pupil_attendance_service"}
    | {"auditor", "read_only"}
)
CHANGE_CASE = frozenset(
    {"cme_officer", "line_manager", "sen_service", "school", "pupil_attendance_service"}
)
READ_AUDIT = frozenset({"cme_officer", "line_manager", "auditor", "records_manager"})
LOAD_PROCESS = frozenset({"policy_owner"})
LINE_MANAGER = frozenset({"line_manager"})

# (method, path as the route declares it) -> the roles that may use it. PUBLIC: no sign-in.
ROUTE_ACCESS: dict[tuple[str, str], frozenset[str]] = {
    # Signing in and out (signin.py, council.py).
    ("GET", "/sign-in"): PUBLIC,
    ("POST", "/sign-in"): PUBLIC,
    ("POST", "/sign-out"): PUBLIC,
    ("GET", "/sign-in/council"): PUBLIC,
    ("GET", "/sign-in/council/callback"): PUBLIC,
    ("GET", "/"): SIGNED_IN,
    # The officer's pages (cases.py, case_actions.py).
    ("GET", "/cases"): CHANGE_CASE,
    ("GET", "/cases/find"): READ_CASE,
    ("GET", "/cases/new"): CHANGE_CASE,
    ("POST", "/cases/new"): CHANGE_CASE,
    ("GET", "/cases/{case_id}"): READ_CASE,
    ("POST", "/cases/{case_id}/checks/{check}"): CHANGE_CASE,
    ("POST", "/cases/{case_id}/steps/{trigger}"): CHANGE_CASE,
    ("POST", "/cases/{case_id}/notes"): CHANGE_CASE,
    ("POST", "/cases/{case_id}/facts"): CHANGE_CASE,
    ("POST", "/cases/{case_id}/assign"): CHANGE_CASE,
    ("GET", "/cases/{case_id}/letters/{document_id}.pdf"): READ_CASE,
    ("POST", "/cases/{case_id}/letters/{document_id}/posted"): CHANGE_CASE,
    # The line manager's (manager.py).
    ("GET", "/decisions"): LINE_MANAGER,
    ("GET", "/decisions/{case_id}"): LINE_MANAGER,
    ("POST", "/decisions/{case_id}/{trigger}"): CHANGE_CASE,
    ("POST", "/cases/{case_id}/checks/{check}/waive"): CHANGE_CASE,
    # Lists across every school's cases: not a school's (it sees its own on each case page).
    ("GET", "/waivers"): CHANGE_CASE - {"school"},
    ("GET", "/escalations"): CHANGE_CASE - {"school"},
    # The auditor's (audit.py).
    ("GET", "/audit"): READ_AUDIT,
    ("POST", "/audit/verify"): READ_AUDIT,
    ("GET", "/audit/find"): READ_AUDIT,
    ("GET", "/audit/cases/{case_id}"): READ_AUDIT,
    ("POST", "/audit/cases/{case_id}/verify"): READ_AUDIT,
    ("GET", "/audit/cases/{case_id}/export"): READ_AUDIT,
    # The policy owner's (policy.py).
    ("GET", "/processes"): LOAD_PROCESS,
    ("GET", "/processes/{process_id}/diff"): LOAD_PROCESS,
    ("GET", "/processes/{process_id}/{version}"): LOAD_PROCESS,
    ("GET", "/processes/{process_id}/{version}/impact"): LOAD_PROCESS,
    ("GET", "/calendars"): LOAD_PROCESS,
    ("GET", "/calendars/{name}"): LOAD_PROCESS,
    # Reports (reports.py): every case, so not a school's.
    ("GET", "/reports"): READ_CASE - {"school"},
    ("GET", "/reports/{name}"): READ_CASE - {"school"},
    ("GET", "/reports/{name}.csv"): READ_CASE - {"school"},
    ("GET", "/reports/{name}.xlsx"): READ_CASE - {"school"},
}

AUDIT_WRITES = {("POST", "/audit/verify"), ("POST", "/audit/cases/{case_id}/verify")}
"""The only POSTs an auditor may make: verifying histories (they change no case)."""

PARAMETERS = {
    "check": "x",
    "trigger": "x",
    "document_id": "1",
    "process_id": "untraceable_cme",
    "version": "2",
}
"""What fills each path parameter; {case_id} is a case the school notified, {name} per route."""


def routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    """(method, path, route) for every route of the app, in routers included at any depth."""

    def walk(found: list[Any]) -> Iterator[Any]:
        for route in found:
            inner = getattr(route, "original_router", None)
            yield from walk(inner.routes) if inner is not None else [route]

    for route in walk(list(app.routes)):
        if isinstance(route, APIRoute):
            for method in sorted(set(route.methods or ()) - {"HEAD"}):
                yield method, route.path, route


def address(path: str, case_id: str) -> str:
    """The route's path with its parameters filled."""
    name = "london" if path.startswith("/calendars") else "register"
    values = {**PARAMETERS, "case_id": case_id, "name": name}
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m[1], "x"), path)


@pytest.fixture
def cases(web_app: FastAPI) -> tuple[str, str]:
    """A case the school notified (school_checks, opened by its account) and one it did not."""
    text = files("processes").joinpath("forms", "notification_example.yaml").read_text()
    form = parse_form(yaml.safe_load(text))
    ana = form.model_copy(update={"children": [form.children[0]]})
    store = web_app.state.engine.store
    at = dt.datetime(2024, 10, 21, 9, tzinfo=dt.UTC)
    add_account(
        store,
        wiring.roles(),
        name="kt.notifier",
        role="school",
        password=None,
        by="t",
        at=at,
        school=SCHOOL,
    )
    service = web_app.state.engine.service
    on = dt.date(2024, 10, 21)
    (own,) = service.open_case(
        ana, on=on, at=at, actor=Actor("kt.notifier", "school"), process="school_checks"
    )
    (other,) = service.open_case(ana, on=on, at=at, actor=Actor("sona", "cme_officer"))
    return own, other


@pytest.fixture
def clients(sign_in: SignIn, cases: tuple[str, str]) -> dict[str, TestClient]:
    """A signed-in client for every role."""
    return {
        role: sign_in(role, name=f"{role}.person", school=SCHOOL if role == "school" else None)
        for role in PEOPLE
    }


def snapshot(app: FastAPI) -> dict[str, int]:
    """The number of rows in every table: what a refused request must leave as it was."""
    with app.state.engine.store.read() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in SQLModel.metadata.tables.items()
        }


def test_every_route_is_in_the_access_table(web_app: FastAPI) -> None:
    missing = [
        f"{method} {path} ({route.endpoint.__module__})"
        for method, path, route in routes(web_app)
        if (method, path) not in ROUTE_ACCESS
    ]
    assert not missing, (
        "routes without a row in ROUTE_ACCESS (tests/web/test_route_guards.py): add one for "
        "each, saying which roles may use it: " + "; ".join(missing)
    )
    gone = set(ROUTE_ACCESS) - {(m, p) for m, p, _ in routes(web_app)}
    assert not gone, f"ROUTE_ACCESS names routes the app no longer has: {sorted(gone)}"


def test_every_post_route_checks_the_csrf_token_first(web_app: FastAPI) -> None:
    for method, path, route in routes(web_app):
        if method in ("GET", "HEAD", "OPTIONS"):
            continue
        first = route.dependant.dependencies[0].call if route.dependant.dependencies else None
        assert first is csrf_protect, (
            f"{method} {path} must take dependencies=[Depends(csrf_protect)] (checked before "
            "anything else, the sign-in and role included)"
        )


def test_a_post_without_the_token_is_refused_and_writes_nothing(
    web_app: FastAPI, clients: dict[str, TestClient], cases: tuple[str, str]
) -> None:
    own, _ = cases
    before = snapshot(web_app)
    for method, path, _ in routes(web_app):
        if method != "POST":
            continue
        for role in ("cme_officer", "line_manager", "auditor"):
            answer = clients[role].post(address(path, own), data={"reason": "x", "note": "x"})
            assert answer.status_code == 403, f"{role}: POST {path} without the token"
            assert "did not come from this service" in answer.text
            wrong = clients[role].post(
                address(path, own), data={"csrf_token": "forged"}, headers={"X-CSRF-Token": "x"}
            )
            assert wrong.status_code == 403, f"{role}: POST {path} with a forged token"
    assert snapshot(web_app) == before, "a refused POST wrote something"


def test_a_stranger_is_sent_to_sign_in(web_app: FastAPI, cases: tuple[str, str]) -> None:
    own, _ = cases
    stranger = TestClient(web_app, follow_redirects=False)
    token = form_token(stranger.get("/sign-in").text)
    before = snapshot(web_app)
    for method, path, _ in routes(web_app):
        if ROUTE_ACCESS.get((method, path)) == PUBLIC:
            continue
        where = address(path, own)
        if method == "GET":
            answer = stranger.get(where)
        else:
            answer = stranger.request(method, where, data={"csrf_token": token})
        assert answer.status_code == 303, f"{method} {path}: {answer.status_code}"
        assert answer.headers["location"].startswith("/sign-in?next="), f"{method} {path}"
    assert snapshot(web_app) == before


def _is_refused(answer: Any) -> bool:
    return bool(answer.status_code == 403)


def test_each_role_reaches_only_what_the_table_says(
    web_app: FastAPI, clients: dict[str, TestClient], cases: tuple[str, str]
) -> None:
    own, _ = cases
    wrong: list[str] = []
    for method, path, _ in routes(web_app):
        allowed = ROUTE_ACCESS.get((method, path))
        if allowed is None or allowed == PUBLIC:
            continue
        for role, client in clients.items():
            if method != "GET" and role in allowed:
                continue  # a permitted POST would act: covered by each area's own tests
            where = address(path, own)
            if method == "GET":
                answer = client.get(where)
            else:
                token = form_token(client.get("/").text)
                answer = client.request(method, where, data={"csrf_token": token})
            if role in allowed:
                if answer.status_code == 403 or answer.status_code >= 500:
                    wrong.append(f"{role} was refused {method} {where} ({answer.status_code})")
                elif answer.status_code == 303 and "/sign-in" in answer.headers["location"]:
                    wrong.append(f"{role} was sent to sign in by {method} {where}")
            elif not _is_refused(answer):
                wrong.append(f"{role} was not refused {method} {where} ({answer.status_code})")
    assert not wrong, "\n".join(wrong)


def test_an_auditor_changes_nothing(
    web_app: FastAPI, clients: dict[str, TestClient], cases: tuple[str, str]
) -> None:
    own, other = cases
    auditor = clients["auditor"]
    token = form_token(auditor.get("/").text)
    before = snapshot(web_app)
    for method, path, _ in routes(web_app):
        if method == "GET" or ROUTE_ACCESS.get((method, path)) == PUBLIC:
            continue
        if (method, path) in AUDIT_WRITES:
            continue
        for case_id in (own, other):
            answer = auditor.request(
                method, address(path, case_id), data={"csrf_token": token, "reason": "x"}
            )
            assert answer.status_code == 403, f"auditor: {method} {path}"
    after = snapshot(web_app)
    assert {k: v for k, v in after.items() if k != "access_log"} == {
        k: v for k, v in before.items() if k != "access_log"
    }, "an auditor's refused POST changed something"


def test_a_policy_owner_reads_no_case(
    clients: dict[str, TestClient], cases: tuple[str, str]
) -> None:
    owner = clients["policy_owner"]
    for case_id in cases:
        for where in (f"/cases/{case_id}", f"/audit/cases/{case_id}", "/cases/find?q=Ana"):
            answer = owner.get(where)
            assert answer.status_code == 403, where
            assert "Ana Silva" not in answer.text


def test_a_school_opens_only_the_cases_it_notified(
    clients: dict[str, TestClient], cases: tuple[str, str]
) -> None:
    own, other = cases
    school = clients["school"]
    assert school.get(f"/cases/{own}").status_code == 200
    refused = school.get(f"/cases/{other}")
    assert refused.status_code == 403
    assert "sees only the cases it notified" in refused.text
    assert "Ana Silva" not in refused.text
    token = form_token(school.get("/").text)
    for action in ("notes", "facts", "assign", "checks/x", "steps/x"):
        answer = school.post(f"/cases/{other}/{action}", data={"csrf_token": token, "note": "x"})
        assert answer.status_code == 403, action
    found = school.get("/cases/find", params={"q": "Ana Silva"}).text
    assert f"/cases/{own}" in found
    assert f"/cases/{other}" not in found


def test_a_schools_manager_pages_leave_out_other_schools_cases(
    web_app: FastAPI, sign_in: SignIn
) -> None:
    # An officer's case at Day 26 with escalations raised and a waiver given: none of it is the
    # school's to see, and a school may not waive on it.
    case_id = day_26_case(web_app, skip=("second_home_visit", "giap_check"))
    at = dt.datetime(2024, 12, 2, 9, tzinfo=dt.UTC)
    service_of(web_app).waive_check(
        case_id,
        "giap_check",
        reason="GIAP is down",
        on=DAY_26,
        at=at,
        actor=Actor("lm", "line_manager"),
    )
    school = sign_in("school", name="kt.person", school=SCHOOL)
    officer = sign_in("cme_officer", name="an.officer")
    with freeze_time(f"{DAY_26.isoformat()} 10:00:00"):
        assert case_id in officer.get("/escalations").text, "the page would show it"
        assert case_id in officer.get("/waivers").text
        for page in ("/escalations", "/waivers"):
            answer = school.get(page)
            assert answer.status_code == 403, page
            assert case_id not in answer.text, page
            assert "GIAP is down" not in answer.text, page
        token = form_token(school.get("/").text)
        waived = school.post(
            f"/cases/{case_id}/checks/second_home_visit/waive",
            data={"csrf_token": token, "reason": "x", "next": "/waivers"},
        )
    assert waived.status_code == 403
    assert "sees only the cases it notified" in waived.text
    assert "second_home_visit" not in service_of(web_app).get(case_id).waived
