"""The line manager's Day 26 decisions: the case waiting, its checklist evidence on one page,
closing it (the engine's step), the engine's refusal shown, a stale form, and who may not."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from freezegun import freeze_time
from httpx import Response

from tests.web.conftest import SignIn, form_token
from tests.web.manager_cases import DAY_26, day_26_case, service_of

ON_DAY_26 = f"{DAY_26.isoformat()} 10:00:00"
"""Clients sign in before freezing time: the app builds its routes on its first request."""


def _form_seq(html: str, action: str) -> str:
    block = html[html.index(f'action="{action}"') :]
    found = re.search(r'name="seq" value="(\d+)"', block)
    assert found
    return found.group(1)


def _decide(client: TestClient, case_id: str, trigger: str, **fields: str) -> Response:
    """Post the decision form of `trigger` as the decision page renders it, with `fields`."""
    page = client.get(f"/decisions/{case_id}").text
    action = f"/decisions/{case_id}/{trigger}"
    data = {"csrf_token": form_token(page), "seq": _form_seq(page, action), **fields}
    answer: Response = client.post(action, data=data)
    return answer


def test_the_day_26_case_is_waiting_with_its_evidence(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("line_manager", name="dylan")
    with freeze_time(ON_DAY_26):
        listing = client.get("/decisions")
        assert listing.status_code == 200
        assert f'href="/decisions/{case_id}"' in listing.text
        assert "Ana Silva" in listing.text
        assert "Day 26" in listing.text
        page = client.get(f"/decisions/{case_id}")
    assert page.status_code == 200
    html = page.text
    assert "Checklist evidence" in html
    # Every check of every stage entered, with who recorded it, when, and what it found.
    assert "giap_check done" in html
    assert "sona.k (cme_officer)" in html
    assert "Thu 28 Nov 2024" in html
    assert html.count("govuk-tag--green") >= 16
    assert 'action="/decisions/' + case_id + '/close_untraceable"' in html
    assert 'action="/decisions/' + case_id + '/keep_case_open"' in html


def test_the_line_manager_closes_the_case(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("line_manager", name="dylan")
    with freeze_time(ON_DAY_26):
        answer = _decide(
            client, case_id, "close_untraceable", note="Every reasonable check made; untraceable."
        )
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"/decisions/{case_id}?done=close_untraceable"
        after = client.get(answer.headers["location"]).text
    case = service_of(web_app).get(case_id)
    assert (case.state, case.terminal) == ("closed_untraceable", True)
    last = service_of(web_app).events(case_id)[-1]
    assert (last.actor, last.role) == ("dylan", "line_manager")
    assert "Done: close_untraceable" in after
    assert f'action="/decisions/{case_id}/' not in after  # a closed case offers no decision
    assert f"/decisions/{case_id}" not in client.get("/decisions").text


def test_a_missing_check_is_refused_in_the_engines_words(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app, skip=("giap_check",))
    client = sign_in("line_manager")
    with freeze_time(ON_DAY_26):
        page = client.get(f"/decisions/{case_id}").text
        assert "Outstanding" in page
        action = f"/decisions/{case_id}/close_untraceable"
        answer = client.post(
            action, data={"csrf_token": form_token(page), "seq": _form_seq(page, action)}
        )
    assert answer.status_code == 400
    assert "There is a problem" in answer.text
    assert "giap_check" in answer.text
    assert 'href="#decision-close_untraceable"' in answer.text
    assert service_of(web_app).get(case_id).state == "closure_decision"


def test_keeping_the_case_open_records_the_reason_fact(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("line_manager")
    with freeze_time(ON_DAY_26):
        answer = _decide(
            client,
            case_id,
            "keep_case_open",
            fact_reason_case_kept_open="aunt reports the family may be in Luton",
        )
    assert answer.status_code == 303, answer.text
    case = service_of(web_app).get(case_id)
    assert case.state == "tracing_continues"
    assert case.facts["reason_case_kept_open"] == "aunt reports the family may be in Luton"


def test_a_stale_form_is_told_what_changed(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("line_manager")
    with freeze_time(ON_DAY_26):
        page = client.get(f"/decisions/{case_id}").text
        action = f"/decisions/{case_id}/close_untraceable"
        seq = _form_seq(page, action)
        service = service_of(web_app)
        from tests.web.manager_cases import OFFICER, _at

        service.add_note(case_id, "Aunt called back.", on=DAY_26, at=_at(DAY_26), actor=OFFICER)
        answer = client.post(
            action, data={"csrf_token": form_token(page), "seq": seq, "note": "closing"}
        )
    assert answer.status_code == 409
    assert "Someone else changed this case" in answer.text
    assert "What changed since you opened the page" in answer.text
    assert "closing" in answer.text  # what was typed is kept
    assert service_of(web_app).get(case_id).state == "closure_decision"


def test_an_officer_may_not_take_the_line_managers_decision(
    web_app: FastAPI, sign_in: SignIn
) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("cme_officer")
    with freeze_time(ON_DAY_26):
        assert client.get("/decisions").status_code == 403  # the line manager's section
        token = form_token(client.get("/").text)
        answer = client.post(f"/decisions/{case_id}/close_untraceable", data={"csrf_token": token})
    assert answer.status_code == 403
    assert "line_manager" in answer.text
    assert service_of(web_app).get(case_id).state == "closure_decision"


def test_an_auditor_cannot_decide(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("auditor")
    with freeze_time(ON_DAY_26):
        assert client.get("/decisions").status_code == 403
        token = form_token(client.get("/").text)
        answer = client.post(f"/decisions/{case_id}/close_untraceable", data={"csrf_token": token})
    assert answer.status_code == 403


def test_a_decision_without_the_form_token_is_refused(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("line_manager")
    with freeze_time(ON_DAY_26):
        answer = client.post(f"/decisions/{case_id}/close_untraceable", data={})
    assert answer.status_code == 403
    assert service_of(web_app).get(case_id).state == "closure_decision"
