"""Which processes open cases for children below compulsory school age (policy Appendix 1 end)."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.cases.service import Actor
from engine.errors import InputError
from tests.conftest import RECORDED_AT

ON = dt.date(2024, 10, 21)


@pytest.fixture
def four_year_old(example_form):
    child = example_form.children[0].model_copy(update={"date_of_birth": dt.date(2020, 6, 1)})
    return example_form.model_copy(update={"children": [child]})


def test_cme_tracing_refuses_a_child_below_compulsory_school_age(service, four_year_old) -> None:
    with pytest.raises(InputError, match="compulsory school age from 2025-08-31"):
        service.open_case(four_year_old, on=ON, at=RECORDED_AT, actor=Actor("sona", "cme_officer"))


def test_roll_return_is_opened_for_a_child_below_compulsory_school_age(
    service, four_year_old
) -> None:
    (case_id,) = service.open_case(
        four_year_old,
        on=ON,
        at=RECORDED_AT,
        actor=Actor("office", "school"),
        process="roll_returns",
    )
    assert service.get(case_id).process_id == "roll_returns"
