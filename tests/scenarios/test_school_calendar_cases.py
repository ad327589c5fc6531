"""Cases on the calendar their school keeps, on real dates: a school-run process (school checks)
for a pupil of a school with an overlay counts that school's INSET days, the LA's Appendix 7
timeline does not, and a case whose first deadlines the calendar cannot place is refused before
anything is written, naming the school year and `cme calendar new`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from engine.cases.service import CaseService
from engine.errors import CalendarError
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from engine.store.tables import calendar_version_table
from tests.scenarios.helpers import OFFICER, SCHOOL, Walk, notification

LIVINGSTONE = "Livingstone Primary and Nursery School"
OVERLAID = "london.livingstone-primary-and-nursery-school"
# Monday 22 Sep 2025, the first day of absence; the school's INSET day is Friday 3 Oct 2025.
FIRST_DAY = dt.date(2025, 9, 22)


@pytest.fixture
def service(sqlite_url: str, registry: ProcessRegistry) -> Iterator[CaseService]:
    """The service as deployed: calendars as the database holds them, else the shipped files."""
    store = open_store(sqlite_url)
    yield CaseService(store, registry)
    store.dispose()


def open_one(service: CaseService, school: str, process: str, on: dt.date) -> str:
    (case_id,) = service.open_case(
        notification(on, school=school),
        on=on,
        at=dt.datetime(on.year, on.month, on.day, 17, tzinfo=dt.UTC),
        actor=SCHOOL if process == "school_checks" else OFFICER,
        process=process,
        calendar="london",
    )
    return case_id


def due(service: CaseService, case_id: str, timer_id: str) -> dt.date:
    (when,) = [d for t, d in Walk(service, case_id).timers() if t == timer_id]
    return when


def test_school_checks_count_the_pupils_schools_inset_day(service: CaseService) -> None:
    at_livingstone = open_one(service, LIVINGSTONE, "school_checks", FIRST_DAY)
    elsewhere = open_one(service, "Kentish Town Primary School", "school_checks", FIRST_DAY)
    assert service.get(at_livingstone).calendar == OVERLAID
    assert service.get(elsewhere).calendar == "london"
    # Day 21 (refer to the CME Officer) moves by the one INSET day.
    assert due(service, elsewhere, "day_21_referral_due") == dt.date(2025, 10, 20)
    assert due(service, at_livingstone, "day_21_referral_due") == dt.date(2025, 10, 21)


def test_the_las_timeline_keeps_the_la_calendar(service: CaseService) -> None:
    case_id = open_one(service, LIVINGSTONE, "untraceable_cme", FIRST_DAY)
    assert service.get(case_id).calendar == "london"
    # Day 5 (reasonable checks start) is Friday 26 Sep; the school's INSET day moves nothing.
    assert due(service, case_id, "reasonable_checks_starts") == dt.date(2025, 9, 26)


def test_a_case_whose_first_deadlines_fall_past_the_calendar_is_refused(
    service: CaseService,
) -> None:
    with pytest.raises(CalendarError) as err:
        open_one(service, "Kentish Town Primary School", "untraceable_cme", dt.date(2027, 7, 26))
    message = str(err.value)
    assert message.startswith("untraceable_cme: step ")
    assert "into 2027-28" in message
    assert "cme calendar new 2027-28" in message
    # Refused before the transaction: not even the calendar version was stored.
    with service.store.engine.connect() as conn:
        assert conn.execute(select(calendar_version_table)).all() == []
