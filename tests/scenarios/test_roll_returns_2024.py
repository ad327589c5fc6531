"""Roll returns version 3 (regulation 13 of the 2024 regulations), on the London 2026-27 calendar:
a deletion return is refused until it carries what regulation 13(4) asks for (address, each parent
the pupil lives with, an emergency telephone number, the ground, and the new school or new
address). Cases opened before Friday 4 December 2026 stay on version 2."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from engine.cases.projection import EventKind
from engine.errors import GuardFailed
from tests.scenarios.helpers import SCHOOL, notification
from tests.scenarios.late import LateWalk

D = dt.date
DELETED = D(2026, 12, 7)
"""Monday 7 December 2026, autumn term 2026-27 (Ealing's dates in the london calendar)."""
DAY_2 = D(2026, 12, 8)

REG_13_4 = {
    "pupil_address": "12 Example Road, London NW5 1AA",
    "parents_living_with": "Maria Silva, 12 Example Road, London NW5 1AA",
    "emergency_telephone": "07700 900123",
}


def deletion(service: Any, ground: str, *, on: dt.date = DELETED) -> LateWalk:
    """A deletion at a non-standard transition point on Day 1, its ground recorded by the school."""
    walk = LateWalk.open(service, notification(on), on=on, process="roll_returns")
    walk.facts({"roll_change": "deletion", "non_standard_transition_point": True}, on=on)
    walk.facts({"ground": ground}, on=on, actor=SCHOOL)
    return walk


def test_cases_from_4_december_2026_take_version_3(sqlite_service) -> None:
    walk = deletion(sqlite_service, "Ground K")
    assert walk.case.process_version == 3


def test_a_case_opened_before_4_december_2026_keeps_version_2(sqlite_service) -> None:
    walk = LateWalk.open(
        sqlite_service, notification(D(2026, 12, 3)), on=D(2026, 12, 3), process="roll_returns"
    )
    assert walk.case.process_version == 2
    walk.facts(
        {"roll_change": "deletion", "non_standard_transition_point": True, "deletion_ground": "K"},
        on=D(2026, 12, 3),
    )
    walk.fire("submit_return", on=D(2026, 12, 3), actor=SCHOOL)
    assert walk.state == "return_received"


def test_a_deletion_return_needs_what_regulation_13_4_asks_for(sqlite_service) -> None:
    walk = deletion(sqlite_service, "Ground K")
    error = walk.refused(GuardFailed, "fire", "submit_deletion_return", on=DELETED, actor=SCHOOL)
    assert sorted(error.unset) == ["emergency_telephone", "parents_living_with", "pupil_address"]
    walk.facts(REG_13_4, on=DELETED, actor=SCHOOL)
    walk.fire("submit_deletion_return", on=DELETED, actor=SCHOOL)
    assert walk.state == "return_received"
    assert walk.outbox()[-1] == ("notify", "cme_officer", "roll_return_received", DELETED)
    walk.sweep(D(2026, 12, 31))
    assert walk.events(EventKind.escalation) == []


def test_ground_a_needs_the_new_school_and_its_first_day(sqlite_service) -> None:
    walk = deletion(sqlite_service, "Ground A")
    walk.facts(REG_13_4, on=DELETED, actor=SCHOOL)
    # The generic deletion return is not for Ground A: its return carries the new school.
    error = walk.refused(GuardFailed, "fire", "submit_deletion_return", on=DELETED, actor=SCHOOL)
    assert error.failed[0].startswith("the ground is neither A (registered at another school)")
    assert "(law: Regulation 13(4)(e) and 8(3))" in str(error)
    error = walk.refused(
        GuardFailed, "fire", "submit_deletion_return_new_school", on=DELETED, actor=SCHOOL
    )
    assert sorted(error.unset) == ["new_school_first_attendance", "new_school_name"]
    walk.facts(
        {"new_school_name": "Haverstock School", "new_school_first_attendance": D(2026, 12, 8)},
        on=DELETED,
        actor=SCHOOL,
    )
    walk.fire("submit_deletion_return_new_school", on=DELETED, actor=SCHOOL)
    assert walk.state == "return_received"


def test_ground_g_needs_the_new_address_or_the_destination_abroad(sqlite_service) -> None:
    walk = deletion(sqlite_service, "Ground G")
    walk.facts({**REG_13_4, "left_the_country": True}, on=DELETED, actor=SCHOOL)
    error = walk.refused(
        GuardFailed, "fire", "submit_deletion_return_moved_away", on=DELETED, actor=SCHOOL
    )
    assert sorted(error.unset) == ["new_address", "new_address_from", "new_address_parent"]
    error = walk.refused(
        GuardFailed, "fire", "submit_deletion_return_left_country", on=DELETED, actor=SCHOOL
    )
    assert error.unset == ["destination_country"]
    walk.facts({"destination_country": "Portugal (Porto)"}, on=DELETED, actor=SCHOOL)
    walk.fire("submit_deletion_return_left_country", on=DELETED, actor=SCHOOL)
    assert walk.state == "return_received"


def test_ground_g_in_england_gives_the_new_address(sqlite_service) -> None:
    walk = deletion(sqlite_service, "Ground G")
    walk.facts(
        {
            **REG_13_4,
            "left_the_country": False,
            "new_address": "3 Sample Street, Leeds LS1 1AA",
            "new_address_parent": "Maria Silva",
            "new_address_from": D(2026, 12, 5),
        },
        on=DELETED,
        actor=SCHOOL,
    )
    error = walk.refused(
        GuardFailed, "fire", "submit_deletion_return_left_country", on=DELETED, actor=SCHOOL
    )
    assert error.unset == ["destination_country"]
    walk.fire("submit_deletion_return_moved_away", on=DELETED, actor=SCHOOL)
    assert walk.state == "return_received"


def test_an_incomplete_deletion_return_is_escalated_on_day_2(sqlite_service) -> None:
    walk = deletion(sqlite_service, "Ground A")
    walk.facts(REG_13_4, on=DELETED, actor=SCHOOL)
    walk.sweep(DAY_2)
    (overdue,) = walk.events(EventKind.escalation)
    assert overdue.effective_date == DAY_2
    assert "regulation 13(4)" in overdue.payload["data"]["message"]


def test_an_addition_needs_only_the_new_pupil_return(sqlite_service) -> None:
    walk = LateWalk.open(sqlite_service, notification(DELETED), on=DELETED, process="roll_returns")
    walk.facts({"roll_change": "addition", "non_standard_transition_point": True}, on=DELETED)
    walk.fire("submit_return", on=D(2026, 12, 12), actor=SCHOOL)
    assert walk.state == "return_received"
    walk.sweep(D(2026, 12, 31))
    assert walk.events(EventKind.escalation) == []


@pytest.mark.parametrize("ground", ["Ground K", "Ground F"])
def test_the_new_pupil_return_is_not_a_deletion_return(sqlite_service, ground: str) -> None:
    walk = deletion(sqlite_service, ground)
    walk.facts(REG_13_4, on=DELETED, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", "submit_return", on=DELETED, actor=SCHOOL)
    assert error.failed[0].startswith("the pupil's name was added")
