"""The officer's pages on a real case: the example notification (Ana and Tiago Silva) opened on
Monday 21 Oct 2024 on the london calendar and looked at on Wednesday 23 Oct (Day 3); and today,
3 Dec 2026, on a case opened on Tuesday 1 Dec 2026 (Day 3 of the 2026-27 autumn term).
"""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from freezegun import freeze_time
from sqlalchemy import select

from engine.store.tables import access_log_table
from tests.web.conftest import SignIn
from tests.web.officer import OFFICER, open_example, section, words

DAY_3 = "2024-10-23 09:30:00"


def test_my_cases_groups_what_is_due_by_case(sign_in: SignIn, web_app: FastAPI) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21))
        client = sign_in("cme_officer", name=OFFICER)
        page = client.get("/cases")
    assert page.status_code == 200
    text = words(page.text)
    assert "My cases" in text
    due = section(page.text, "due")
    # Grouped by case, each linking to its page; the Day 1 checks are overdue on Day 3.
    assert due.index("CME-000001 – Ana Silva") < due.index("CME-000002 – Tiago Silva")
    assert 'href="/cases/CME-000001"' in page.text
    assert "core_information_checked" in due
    assert "overdue, was due 2024-10-21" in due
    assert "contact_attempted_by_phone" in due
    assert "due 2024-10-23" in due
    assert "2 open cases" in section(page.text, "assigned")


def test_my_cases_lists_only_mine(sign_in: SignIn, web_app: FastAPI) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21), officer="priya")
        page = sign_in("cme_officer", name=OFFICER).get("/cases")
    assert "No open case is assigned to you" in page.text
    assert "Nothing is due on your cases today" in page.text


def test_case_page_shows_the_child_stage_timeline_checks_steps_and_history(
    sign_in: SignIn, web_app: FastAPI
) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21))
        client = sign_in("cme_officer", name=OFFICER)
        page = client.get("/cases/CME-000001")
    assert page.status_code == 200
    text = words(page.text)
    assert "Ana Silva" in text
    assert "H801200001001" in text
    assert "Sat 14 Mar 2015" in text
    assert "Day 3 on Wed 23 Oct 2024" in text
    assert "establishing_contact" in text
    timeline = section(page.text, "timeline")
    # Every deadline with the engine's explanation of how it was counted.
    assert "Fri 25 Oct 2024" in timeline
    assert "Day 5 = 25 Oct 2024: 5th school day from 21 Oct 2024, calendar london" in timeline
    checks = section(page.text, "checks")
    for check in ("core_information_checked", "contact_attempted_by_phone"):
        assert check in checks
        assert f'action="/cases/CME-000001/checks/{check}"' in page.text
    steps = section(page.text, "steps")
    # Allowed now, and each step not allowed with the engine's own reason.
    assert "Steps you can take now" in steps
    assert "contact_established" in steps
    assert (
        "start_reasonable_checks refused: condition not met: the Day 1–3 window for "
        "establishing contact has passed (it is Day 3 of the case)" in steps
    )
    assert "moved_to_another_la needs these facts recorded first: destination_la" in steps
    assert "Case opened" in section(page.text, "history")


def test_reading_a_case_page_is_logged_under_the_officers_name(
    sign_in: SignIn, web_app: FastAPI
) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21))
        sign_in("cme_officer", name=OFFICER).get("/cases/CME-000001")
    with web_app.state.engine.store.read() as conn:
        rows = conn.execute(
            select(access_log_table.c.actor, access_log_table.c.action).where(
                access_log_table.c.case_id == "CME-000001"
            )
        ).all()
    assert (OFFICER, "case show") in [tuple(r) for r in rows]


def test_an_auditor_reads_the_case_and_is_offered_no_form(
    sign_in: SignIn, web_app: FastAPI
) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21))
        page = sign_in("auditor").get("/cases/CME-000001")
    assert page.status_code == 200
    assert "Ana Silva" in page.text  # auditors read personal data, logged, as in the CLI
    assert 'method="post" action="/cases/CME-000001' not in page.text
    assert "Your role reads cases and takes no steps" in page.text


def test_a_case_today_on_the_2026_calendar(sign_in: SignIn, web_app: FastAPI) -> None:
    with freeze_time("2026-12-03 10:00:00"):
        open_example(web_app, dt.date(2026, 12, 1))
        page = sign_in("cme_officer", name=OFFICER).get("/cases/CME-000001")
    text = words(page.text)
    assert "Day 3 on Thu 3 Dec 2026" in text
    assert "Tue 1 Dec 2026 (Day 1)" in text


def test_find_by_part_of_the_name(sign_in: SignIn, web_app: FastAPI) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21))
        client = sign_in("cme_officer", name=OFFICER)
        found = client.get("/cases/find", params={"q": "ana sil"})
        by_birth = client.get("/cases/find", params={"q": "02/11/2012"})
        blank = client.get("/cases/find", params={"q": "  "})
    assert found.status_code == 200
    text = words(found.text)
    assert "CME-000001" in text
    assert "Ana Silva" in text
    assert "Tiago" not in text
    assert "Tiago Silva" in words(by_birth.text)
    assert blank.status_code == 400
    assert 'id="q-error"' in blank.text
    assert "say what to find" in blank.text


def test_a_page_for_no_such_case_says_so(sign_in: SignIn) -> None:
    page = sign_in("cme_officer").get("/cases/CME-999999")
    assert page.status_code == 404
    assert "There is no case CME-999999." in page.text
