"""The officer's forms: opening a case from the Appendix 6 web form (each of the engine's
messages beside its field, a duplicate child with its ways on), recording checks, steps refused
with the engine's reason, notes, facts, assignment, letters, and two officers on one case.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from freezegun import freeze_time
from sqlalchemy import update

from engine.cli import cli
from engine.protection.access import Actor
from engine.store.tables import outbox_table
from tests.web.conftest import SignIn, form_token
from tests.web.officer import OFFICER, open_example, section, seq_of, words

DAY_3 = "2024-10-23 09:30:00"

FORM = {
    "received_on": "2024-10-23",
    "process": "untraceable_cme",
    "date": "22/10/2024",
    "notifier-name": "Jo Adeyemi",
    "notifier-school_or_service": "Kentish Town Primary School",
    "parent_carer-names": "Maria Silva",
    "parent_carer-contact_numbers": "07700 900123, 020 7946 0002",
    "children-0-full_name": "Ana Silva",
    "children-0-date_of_birth": "14/03/2015",
    "children-0-upn": "H801200001001",
    "children-0-school": "Kentish Town Primary School",
    "parent_carer-translator_required": "yes",
    "date_of_last_attendance": "2024-09-13",
}


def post_form(client: TestClient, path: str, data: dict[str, str], page: str | None = None) -> Any:
    token = form_token(page if page is not None else client.get("/cases/new").text)
    return client.post(path, data={**data, "csrf_token": token})


def error_beside(page: str, field: str) -> str:
    """The error message shown beside `field` (its govuk-error-message), as text."""
    found = re.search(
        rf'<p id="{re.escape(field)}-error" class="govuk-error-message">(.*?)</p>', page, re.S
    )
    assert found, f"no error beside {field}"
    return words("<main>" + found.group(1))


def test_open_a_case_from_the_web_form_after_fixing_a_field(
    sign_in: SignIn, web_app: FastAPI
) -> None:
    with freeze_time(DAY_3):
        client = sign_in("cme_officer", name=OFFICER)
        bad = post_form(client, "/cases/new", {**FORM, "children-0-upn": "H801200001002"})
        assert bad.status_code == 400
        assert "There is a problem" in bad.text
        assert 'href="#children-0-upn"' in bad.text  # the error summary links to the field
        assert "check letter" in error_beside(bad.text, "children-0-upn").lower()
        # What was typed is kept.
        assert 'value="Maria Silva"' in bad.text
        good = post_form(client, "/cases/new", FORM, bad.text)
        assert good.status_code == 303
        assert good.headers["location"] == "/cases/CME-000001"
        page = client.get("/cases/CME-000001").text
    assert "Opened CME-000001 from the notification." in page
    assert "Ana Silva" in page
    assert "Day 1 on Wed 23 Oct 2024" in words(page)
    # The form's ticked box and contact numbers reached the case.
    assert "translator_required yes" in section(page, "facts")


def test_each_engine_refusal_of_the_form_is_beside_its_field(sign_in: SignIn) -> None:
    with freeze_time(DAY_3):
        client = sign_in("cme_officer", name=OFFICER)
        missing = post_form(
            client, "/cases/new", {**FORM, "children-0-full_name": "", "notifier-name": ""}
        )
        too_young = post_form(
            client, "/cases/new", {**FORM, "children-0-date_of_birth": "2021-01-05"}
        )
        later = post_form(client, "/cases/new", {**FORM, "date": "2024-10-25"})
        future = post_form(client, "/cases/new", {**FORM, "received_on": "2024-10-30"})
    assert missing.status_code == 400
    assert error_beside(missing.text, "children-0-full_name") == "Error: Enter the full name"
    assert "Enter the notifier" in error_beside(missing.text, "notifier-name")
    assert "of compulsory school age from" in error_beside(
        too_young.text, "children-0-date_of_birth"
    )
    assert "after 2024-10-23, the day it is received" in error_beside(later.text, "date")
    assert "is after the day this is recorded" in error_beside(future.text, "received_on")


def test_a_child_with_an_open_case_is_offered_link_or_override(
    sign_in: SignIn, web_app: FastAPI
) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21))
        client = sign_in("cme_officer", name=OFFICER)
        refused = post_form(client, "/cases/new", FORM)
        assert refused.status_code == 409
        assert "Ana Silva (born 2015-03-14) already has an open case" in words(refused.text)
        assert 'name="link" type="radio" value="CME-000001"' in refused.text
        no_reason = post_form(client, "/cases/new", {**FORM, "override": "yes"}, refused.text)
        assert "say why this is a different child" in error_beside(
            no_reason.text, "override_reason"
        )
        linked = post_form(client, "/cases/new", {**FORM, "link": "CME-000001"}, refused.text)
        assert linked.headers["location"] == "/cases/CME-000001"
        history = section(client.get("/cases/CME-000001").text, "history")
    assert "notification" in history.lower()


def test_a_recorded_check_moves_out_of_outstanding(sign_in: SignIn, web_app: FastAPI) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21))
        client = sign_in("cme_officer", name=OFFICER)
        page = client.get("/cases/CME-000001").text
        done = post_form(
            client,
            "/cases/CME-000001/checks/contact_attempted_by_phone",
            {
                "seq": str(seq_of(page)),
                "contact_attempted_by_phone-outcome": "unused",
                "check-contact_attempted_by_phone-outcome": "Called 07700 900123: no answer",
                "check-contact_attempted_by_phone-on": "2024-10-22",
            },
            page,
        )
        assert done.status_code == 303
        after = client.get("/cases/CME-000001").text
    assert "Check contact_attempted_by_phone recorded." in after
    assert "contact_attempted_by_phone" not in section(after, "checks").split("Checklist")[0]
    assert "Tue 22 Oct 2024: Called 07700 900123: no answer" in words(after)
    assert "Called 07700 900123: no answer" in section(after, "history")


def test_a_refused_save_shows_the_engines_reason_beside_the_field(
    sign_in: SignIn, web_app: FastAPI
) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21))
        client = sign_in("cme_officer", name=OFFICER)
        page = client.get("/cases/CME-000001").text
        step = post_form(
            client,
            "/cases/CME-000001/steps/start_reasonable_checks",
            {"seq": str(seq_of(page)), "step-start_reasonable_checks-note": "tried twice"},
            page,
        )
        fact = post_form(
            client,
            "/cases/CME-000001/facts",
            {"seq": str(seq_of(page)), "fact-name": "crime_suspected", "fact-value": "perhaps"},
            page,
        )
        blank = post_form(
            client, "/cases/CME-000001/notes", {"seq": str(seq_of(page)), "note-text": "  "}, page
        )
    assert step.status_code == 400
    assert "the Day 1–3 window for establishing contact has passed" in error_beside(
        step.text, "step-start_reasonable_checks-note"
    )
    assert fact.status_code == 400
    assert "crime_suspected" in error_beside(fact.text, "fact-value")
    assert 'value="perhaps"' in fact.text  # kept
    assert "a note needs some text" in error_beside(blank.text, "note-text")


def test_notes_facts_and_assignment_are_recorded(sign_in: SignIn, web_app: FastAPI) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21))
        client = sign_in("cme_officer", name=OFFICER)
        page = client.get("/cases/CME-000001").text
        post_form(
            client,
            "/cases/CME-000001/notes",
            {"seq": str(seq_of(page)), "note-text": "Neighbour says they moved"},
            page,
        )
        page = client.get("/cases/CME-000001").text
        post_form(
            client,
            "/cases/CME-000001/facts",
            {"seq": str(seq_of(page)), "fact-name": "destination_la", "fact-value": "Islington"},
            page,
        )
        page = client.get("/cases/CME-000001").text
        assigned = post_form(
            client,
            "/cases/CME-000001/assign",
            {"seq": str(seq_of(page)), "assign-officer": "priya"},
            page,
        )
        assert assigned.status_code == 303
        page = client.get("/cases/CME-000001").text
    assert "Neighbour says they moved" in section(page, "notes")
    assert "destination_la Islington" in section(page, "facts")
    assert "Assigned to priya" in section(page, "assignment")
    # With the destination recorded, the step is now allowed.
    assert 'action="/cases/CME-000001/steps/moved_to_another_la"' in page


def test_a_stale_save_says_someone_else_changed_the_case_and_keeps_what_was_typed(
    sign_in: SignIn, web_app: FastAPI
) -> None:
    with freeze_time(DAY_3):
        open_example(web_app, dt.date(2024, 10, 21))
        first = sign_in("cme_officer", name=OFFICER)
        second = sign_in("cme_officer", name="priya")
        mine = first.get("/cases/CME-000001").text
        theirs = second.get("/cases/CME-000001").text
        saved = post_form(
            second,
            "/cases/CME-000001/checks/core_information_checked",
            {"seq": str(seq_of(theirs)), "check-core_information_checked-outcome": "all there"},
            theirs,
        )
        assert saved.status_code == 303
        stale = post_form(
            first,
            "/cases/CME-000001/checks/core_information_checked",
            {
                "seq": str(seq_of(mine)),
                "check-core_information_checked-outcome": "phone number missing",
            },
            mine,
        )
        again = post_form(
            first,
            "/cases/CME-000001/notes",
            {"seq": str(seq_of(stale.text)), "note-text": "phone number missing"},
            stale.text,
        )
    assert stale.status_code == 409
    text = words(stale.text)
    assert "Someone else changed this case" in text
    changed = words("<main>" + stale.text[stale.text.index('id="changed"') :].split("</ul>")[0])
    assert "priya" in changed
    assert "Recorded: Core information checked — all there" in changed
    assert "phone number missing" in stale.text  # what the officer typed is kept
    assert seq_of(stale.text) == seq_of(mine) + 1  # the form now carries the case's new seq
    assert again.status_code == 303  # saved as a note once seen; nothing was lost


def test_a_filed_letter_opens_as_its_pdf(sign_in: SignIn, web_app: FastAPI, web_db: str) -> None:
    engine = web_app.state.engine
    with freeze_time("2024-10-25 09:00:00"):
        open_example(web_app, dt.date(2024, 10, 21))
        engine.service.fire(
            "CME-000001",
            "start_reasonable_checks",
            on=dt.date(2024, 10, 24),
            at=engine.now(),
            actor=Actor(OFFICER, "cme_officer"),
        )
    sent = CliRunner().invoke(
        cli,
        [
            "outbox",
            "send",
            "--on",
            "2024-10-25",
            "--db",
            web_db,
            "--actor",
            OFFICER,
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            "9",
        ],
    )
    assert "letters filed" in sent.output, sent.output
    with freeze_time("2024-10-25 09:30:00"):
        client = sign_in("cme_officer", name=OFFICER)
        page = client.get("/cases/CME-000001").text
        letters = section(page, "letters")
        pdf = client.get("/cases/CME-000001/letters/1.pdf")
        other = client.get("/cases/CME-000002/letters/1.pdf")
        posted = post_form(
            client,
            "/cases/CME-000001/letters/1/posted",
            {"seq": str(seq_of(page)), "letter-1-on": "2024-10-25"},
            page,
        )
    assert "first_formal_cme_letter" in letters
    assert 'href="/cases/CME-000001/letters/1.pdf"' in page
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert other.status_code == 404
    # Sending recorded the letter's check already: the engine refuses to record it twice.
    assert posted.status_code == 400
    assert "already recorded" in words(posted.text)


def test_a_letter_filed_without_its_check_is_marked_posted(
    sign_in: SignIn, web_app: FastAPI, web_db: str
) -> None:
    engine = web_app.state.engine
    with freeze_time("2024-10-25 09:00:00"):
        open_example(web_app, dt.date(2024, 10, 21))
        engine.service.fire(
            "CME-000001", "start_reasonable_checks", on=dt.date(2024, 10, 24), at=engine.now(),
            actor=Actor(OFFICER, "cme_officer"),
        )  # fmt: skip
    # As a letter queued before its process named the check it records: no check on sending.
    with engine.store.engine.begin() as conn:
        conn.execute(update(outbox_table).values(position=9))
    CliRunner().invoke(
        cli, ["outbox", "send", "--on", "2024-10-25", "--db", web_db, "--actor", OFFICER,
              "--smtp-host", "127.0.0.1", "--smtp-port", "9"],
    )  # fmt: skip
    with freeze_time("2024-10-28 09:30:00"):
        client = sign_in("cme_officer", name=OFFICER)
        page = client.get("/cases/CME-000001").text
        assert 'id="letter-1-check"' in page
        posted = post_form(
            client,
            "/cases/CME-000001/letters/1/posted",
            {"seq": str(seq_of(page)), "letter-1-on": "2024-10-28",
             "letter-1-check": "first_formal_letter_sent"},
            page,
        )  # fmt: skip
        assert posted.status_code == 303, words(posted.text)
        after = client.get("/cases/CME-000001").text
    assert "Letter 1 marked posted." in after
    assert "Recorded: first_formal_letter_sent on Mon 28 Oct 2024" in section(after, "letters")
