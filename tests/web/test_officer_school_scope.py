"""A school's user on the officer's pages: only the cases the school notified, on every case
route (page, forms, letters, search, my cases); the CME officer's cases answer 403.
"""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from freezegun import freeze_time

from engine.protection.access import Actor
from tests.web.conftest import SignIn, form_token
from tests.web.officer import OFFICER, example_form, open_example, words

SCHOOL = "Kentish Town Primary School"


def test_a_school_sees_only_the_cases_it_notified(sign_in: SignIn, web_app: FastAPI) -> None:
    engine = web_app.state.engine
    with freeze_time("2024-10-23 09:30:00"):
        officers = open_example(web_app, dt.date(2024, 10, 21))
        client = sign_in("school", name="kt.lead", school=SCHOOL)
        theirs = engine.service.open_case(
            example_form(), on=dt.date(2024, 10, 21), at=engine.now(),
            actor=Actor("kt.lead", "school"), process="school_checks", calendar="london",
        )  # fmt: skip
        own = client.get(f"/cases/{theirs[0]}")
        refused = client.get(f"/cases/{officers[0]}")
        note = client.post(
            f"/cases/{officers[0]}/notes",
            data={"seq": "1", "note-text": "x", "csrf_token": form_token(own.text)},
        )
        pdf = client.get(f"/cases/{officers[0]}/letters/1.pdf")
        found = client.get("/cases/find", params={"q": "ana sil"})
    assert own.status_code == 200
    assert "Ana Silva" in own.text
    for answer in (refused, note, pdf):
        assert answer.status_code == 403
        assert "sees only the cases it notified" in answer.text
        assert "Ana Silva" not in answer.text
    listed = words(found.text)
    assert theirs[0] in listed
    assert officers[0] not in listed
    assert OFFICER not in listed
