"""A first walk through the service on both databases: open, sweep by hand, refuse, advance."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.errors import BackdatingRefused, RoleNotPermitted, TransitionNotAllowed
from engine.service import Actor
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")


def test_open_case_arms_day_5_from_the_notification_day(service, example_form) -> None:
    ids = service.open_case(example_form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=OFFICER)
    assert len(ids) == 2
    first, second = (service.get(i) for i in ids)
    assert first.sibling_group == second.sibling_group == ids[0]
    assert first.state == "establishing_contact"
    assert first.facts["age_phase"] == "primary" and second.facts["age_phase"] == "secondary"


def test_refusals_write_nothing(service, example_form) -> None:
    (case_id, _) = service.open_case(
        example_form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=OFFICER
    )
    before = service.get(case_id)
    with pytest.raises(RoleNotPermitted):
        service.fire(case_id, "close_untraceable", on=dt.date(2024, 10, 22), at=RECORDED_AT,
                     actor=OFFICER)
    with pytest.raises(TransitionNotAllowed):
        service.fire(case_id, "close_untraceable", on=dt.date(2024, 10, 22), at=RECORDED_AT,
                     actor=Actor("dylan", "line_manager"))
    service.fire(case_id, "contact_established", on=dt.date(2024, 10, 22), at=RECORDED_AT,
                 actor=OFFICER)
    with pytest.raises(BackdatingRefused):
        service.add_note(case_id, "late", on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=OFFICER)
    after = service.get(case_id)
    assert after.seq == before.seq + 1
    assert after.state == "supporting_to_school_place"
