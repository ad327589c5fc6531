"""One officer's work (`due_on(officer=…)`, `cme due --officer`, the web's My cases): read from
their cases only, and the same items as everyone's work filtered to them."""

from __future__ import annotations

import datetime as dt

from engine.cases.notification import NotificationForm
from engine.cases.service import CaseService
from engine.cases.views import due_on
from engine.protection.access import Actor
from tests.conftest import RECORDED_AT


def test_one_officers_work_is_theirs_only(
    service: CaseService, example_form: NotificationForm
) -> None:
    on = dt.date(2024, 10, 21)
    ana, tiago = (example_form.model_copy(update={"children": [c]}) for c in example_form.children)
    service.open_case(ana, on=on, at=RECORDED_AT, actor=Actor("sona", "cme_officer"))
    service.open_case(tiago, on=on, at=RECORDED_AT, actor=Actor("priya", "cme_officer"))
    day_3 = dt.date(2024, 10, 23)
    everyone = due_on(service, on=day_3)
    sonas = due_on(service, on=day_3, officer="sona")
    assert {i["officer"] for i in everyone} == {"sona", "priya"}
    assert sonas == [i for i in everyone if i["officer"] == "sona"]
    assert {i["case_id"] for i in sonas} == {"CME-000001"}
    assert due_on(service, on=day_3, officer="nobody") == []
