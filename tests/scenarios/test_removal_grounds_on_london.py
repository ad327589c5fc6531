"""The 2006 removal grounds (in force until 18 August 2024) on the shipped `london` calendar's
published 2023-24 dates: a school's proposal dated Monday 1 July 2024 opens and is walked to the
removal, and the dates the 2023-24 calendar lacks are refused naming the year."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.errors import CalendarError
from tests.scenarios.helpers import SCHOOL, Walk, notification
from tests.scenarios.removal import Timeline, walk_to_removal
from tests.scenarios.test_removal_grounds import GROUNDS

D = dt.date
# Monday 1 July 2024, Monday 8 July (confirmations) and Friday 19 July 2024, the last day of the
# 2023-24 summer term at Osmani Primary School, Tower Hamlets.
JULY = Timeline(
    proposed=D(2024, 7, 1), confirmed=D(2024, 7, 8), removed=D(2024, 7, 19), calendar="london"
)


def test_a_2006_ground_opens_on_1_july_2024_and_is_removed(sqlite_service) -> None:
    walk = walk_to_removal(sqlite_service, GROUNDS[7], JULY)  # 8(1)(h)
    assert walk.state == "removed_from_roll"
    assert walk.case.calendar == "london"
    assert {e.process_version for e in walk.events()} == {5}
    assert "Regulation 8(1)(h)" in walk.events()[-1].rule


def test_the_pinned_2024_25_calendar_cannot_open_it(sqlite_service) -> None:
    with pytest.raises(CalendarError, match=r"school year 2023-24.*cme calendar new 2023-24"):
        Walk.open(
            sqlite_service,
            notification(JULY.proposed),
            on=JULY.proposed,
            actor=SCHOOL,
            process="removal_grounds",
            calendar="london-2024-25",
        )
