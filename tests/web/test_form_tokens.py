"""Every form a page shows carries the session's CSRF token itself: a browser sends each form's
own fields, so a form rendered without the token is refused on submit (the test client's
`form_token` takes the first token on the page and would not notice)."""

from __future__ import annotations

import datetime as dt
import re

from fastapi import FastAPI
from freezegun import freeze_time

from tests.web.conftest import SignIn
from tests.web.officer import open_example


def post_forms_without_token(page: str) -> list[str]:
    """The action of each POST form whose csrf_token field is missing or empty."""
    missing = []
    for form in re.findall(r"<form\b[^>]*>.*?</form>", page, re.S | re.I):
        if not re.search(r'method="post"', form, re.I):
            continue
        if not re.search(r'name="csrf_token" value="[^"]+"', form):
            action = re.search(r'action="([^"]*)"', form)
            missing.append(action.group(1) if action else "?")
    return missing


def test_every_form_on_the_case_page_carries_the_token(sign_in: SignIn, web_app: FastAPI) -> None:
    with freeze_time("2024-10-23 09:30:00"):
        (case_id, *_) = open_example(web_app, dt.date(2024, 10, 21))
        page = sign_in("cme_officer", name="sona.k").get(f"/cases/{case_id}").text
    assert page.count('method="post"') > 3
    assert post_forms_without_token(page) == []
