"""Waivers and escalations on the line manager's pages: a waiver with a reason (only where the
process's `waived_by` allows), the engine's refusal shown, and the escalations report."""

from __future__ import annotations

from fastapi import FastAPI
from freezegun import freeze_time

from engine.reports.escalations import escalations_report
from tests.web.conftest import SignIn, form_token
from tests.web.manager_cases import DAY_26, OFFICER, _at, day_26_case, service_of

ON_DAY_26 = f"{DAY_26.isoformat()} 10:00:00"


def test_the_line_manager_waives_an_outstanding_check(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app, skip=("second_home_visit",))
    client = sign_in("line_manager", name="dylan")
    with freeze_time(ON_DAY_26):
        listing = client.get("/waivers").text
        assert f'href="/decisions/{case_id}#evidence"' in listing
        assert "second_home_visit" in listing
        assert "1 late" in listing
        page = client.get(f"/decisions/{case_id}").text
        assert f'action="/cases/{case_id}/checks/second_home_visit/waive"' in page
        answer = client.post(
            f"/cases/{case_id}/checks/second_home_visit/waive",
            data={
                "csrf_token": form_token(page),
                "reason": "the address is a demolished block",
                "next": "/waivers",
            },
        )
        assert answer.status_code == 303, answer.text
        after = client.get(answer.headers["location"]).text
    assert "Check second_home_visit waived" in after
    assert "the address is a demolished block" in after
    assert "dylan (line_manager)" in after
    assert "No check owed on an open case is one you may waive" in after
    case = service_of(web_app).get(case_id)
    assert case.waived["second_home_visit"]["by"] == "dylan"


def test_a_waiver_needs_a_reason(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app, skip=("giap_check",))
    client = sign_in("line_manager")
    with freeze_time(ON_DAY_26):
        page = client.get(f"/decisions/{case_id}").text
        answer = client.post(
            f"/cases/{case_id}/checks/giap_check/waive",
            data={"csrf_token": form_token(page), "reason": " ", "next": f"/decisions/{case_id}"},
        )
    assert answer.status_code == 400
    assert "Say why check giap_check is waived" in answer.text
    assert f'href="#waive-{case_id}-giap_check"' in answer.text
    assert "giap_check" not in service_of(web_app).get(case_id).waived
    with freeze_time(ON_DAY_26):
        answer = client.post(
            f"/cases/{case_id}/checks/giap_check/waive",
            data={
                "csrf_token": form_token(page),
                "reason": "GIAP is down; checked by phone with the DfE",
                "next": f"/decisions/{case_id}",
            },
        )
        assert answer.headers["location"] == f"/decisions/{case_id}?waived=giap_check"
        after = client.get(answer.headers["location"]).text
    assert "Check giap_check waived" in after
    assert "GIAP is down; checked by phone with the DfE" in after  # the evidence: the reason


def test_an_officer_may_not_waive_and_is_told_who_may(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app, skip=("giap_check",))
    client = sign_in("cme_officer")
    with freeze_time(ON_DAY_26):
        token = form_token(client.get("/").text)
        answer = client.post(
            f"/cases/{case_id}/checks/giap_check/waive",
            data={"csrf_token": token, "reason": "no time", "next": "/waivers"},
        )
    assert answer.status_code == 403
    assert "School Inclusion Team Manager" in answer.text  # the engine's WaiverNotPermitted
    assert "giap_check" not in service_of(web_app).get(case_id).waived


def test_an_auditor_may_not_waive(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app, skip=("giap_check",))
    client = sign_in("auditor")
    token = form_token(client.get("/").text)
    answer = client.post(
        f"/cases/{case_id}/checks/giap_check/waive",
        data={"csrf_token": token, "reason": "x"},
    )
    assert answer.status_code == 403
    assert client.get("/waivers").status_code == 403


def test_escalations_are_the_reports_rows(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app, skip=("second_home_visit", "giap_check"))
    client = sign_in("line_manager")
    with freeze_time(ON_DAY_26):
        page = client.get("/escalations").text
        earlier = client.get("/escalations?since=2024-10-01&on=2024-10-31").text
        bad = client.get("/escalations?since=2024-12-09&on=2024-12-02")
    report = escalations_report(
        service_of(web_app), on=DAY_26, since=DAY_26, actor=OFFICER, at=_at(DAY_26)
    )
    assert len(report.rows) == 2
    for row in report.rows:
        assert row["message"] in page
    assert page.count(f'href="/decisions/{case_id}"') == 2
    assert "Yes, not acted on" in page
    assert "No escalation was raised in this period" in earlier
    assert bad.status_code == 400
    assert "is after" in bad.text


def test_an_officers_escalations_link_to_the_case_page(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app, skip=("giap_check",))
    client = sign_in("cme_officer")
    with freeze_time(ON_DAY_26):
        page = client.get("/escalations").text
    assert f'href="/cases/{case_id}"' in page
    assert f'href="/decisions/{case_id}"' not in page  # the line manager's section
