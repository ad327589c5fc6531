"""The steps a case may take now, and why not: the same reasons `fire` refuses with, nothing
written. A real case from the shipped example, opened Monday 21 Oct 2024 on the london calendar.
"""

from __future__ import annotations

import datetime as dt

import pytest

from engine.cases.notification import NotificationForm
from engine.cases.service import CaseService
from engine.cases.step_preview import steps_now
from engine.errors import CommandRefused
from engine.protection.access import Actor

AT = dt.datetime(2025, 9, 1, 9, tzinfo=dt.UTC)
OFFICER = Actor("sona", "cme_officer")
DAY_3 = dt.date(2024, 10, 23)


@pytest.fixture
def case_id(service: CaseService, example_form: NotificationForm) -> str:
    return service.open_case(
        example_form, on=dt.date(2024, 10, 21), at=AT, actor=OFFICER, calendar="london"
    )[0]


def test_each_refused_step_gives_the_reason_fire_would(service: CaseService, case_id: str) -> None:
    before = service.get(case_id).seq
    steps = {s.trigger: s for s in steps_now(service, case_id, actor=OFFICER, on=DAY_3, at=AT)}
    assert steps["contact_established"].allowed
    refused = steps["start_reasonable_checks"]
    assert not refused.allowed
    with pytest.raises(CommandRefused) as fired:
        service.fire(case_id, "start_reasonable_checks", on=DAY_3, at=AT, actor=OFFICER)
    assert refused.reasons == (str(fired.value),)
    assert "Day 1–3 window" in refused.reasons[0]
    assert "destination_la" in steps["moved_to_another_la"].reasons[0]
    assert steps["close_opened_in_error"].needs_reason
    assert service.get(case_id).seq == before  # judging wrote nothing


def test_a_role_that_may_not_change_cases_is_told_so_for_every_step(
    service: CaseService, case_id: str
) -> None:
    steps = steps_now(service, case_id, actor=Actor("ann", "auditor"), on=DAY_3, at=AT)
    assert steps
    assert all(not s.allowed and "may not change case records" in s.reasons[0] for s in steps)
