"""Real cases for the line manager's, auditor's and policy owner's pages: an untraceable_cme case
notified on Monday 21 October 2024 and walked on the london calendar to its Day 26 decision
(Monday 2 December 2024), every Appendix 7 check recorded in its window.
"""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI

from engine.cases.notification import NotificationForm, parse_form
from engine.cases.service import Actor, CaseService
from engine.scheduling.sweep import sweep

NOTIFIED = dt.date(2024, 10, 21)
"""Day 1 (a Monday); half term 28 October - 1 November is skipped."""
DAY_26 = dt.date(2024, 12, 2)
"""Day 26 of a case notified on NOTIFIED, on the london calendar."""
OFFICER = Actor("sona.k", "cme_officer")

TRACING: tuple[tuple[dt.date, tuple[str, ...]], ...] = (
    (NOTIFIED, ("core_information_checked", "opened_on_cme_register")),
    (NOTIFIED, ("contact_attempted_by_phone",)),
    (dt.date(2024, 10, 22), ("contact_attempted_by_email",)),
    (dt.date(2024, 10, 25), ("first_formal_letter_sent",)),
    (dt.date(2024, 11, 4), ("mash_check", "camden_resident_index_check")),
    (dt.date(2024, 11, 6), ("housing_check", "council_tax_check")),
    (dt.date(2024, 11, 8), ("yos_check", "nhs_spine_check")),
    (dt.date(2024, 11, 18), ("second_formal_letter_sent",)),
    (dt.date(2024, 11, 19), ("pan_london_check",)),
    (dt.date(2024, 11, 22), ("second_home_visit",)),
    (dt.date(2024, 11, 28), ("giap_check",)),
    (DAY_26, ("day_26_closure_form",)),
)
"""When each check is recorded: (date, checks), each inside its Appendix 7 window."""


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC)


def notification(on: dt.date, name: str, born: dt.date = dt.date(2015, 3, 14)) -> NotificationForm:
    """An Appendix 6 notification for one primary-aged child, dated `on` (names invented)."""
    return parse_form(
        {
            "date": on.isoformat(),
            "notifier": {"name": "Jo Adeyemi", "school_or_service": "Kentish Town Primary School"},
            "parent_carer": {"names": "Maria Silva", "contact_numbers": ["07700 900123"]},
            "children": [
                {
                    "full_name": name,
                    "date_of_birth": born.isoformat(),
                    "school": "Kentish Town Primary School",
                }
            ],
        }
    )


def service_of(app: FastAPI) -> CaseService:
    """The app's own case service (the database its pages read)."""
    service: CaseService = app.state.engine.service
    return service


def open_case(
    app: FastAPI,
    on: dt.date = NOTIFIED,
    *,
    name: str = "Ana Silva",
    born: dt.date = dt.date(2015, 3, 14),
) -> str:
    """An untraceable_cme case for one child, notified on `on`."""
    service = service_of(app)
    sweep(service, until=on, at=_at(on))
    form = notification(on, name, born)
    (case_id,) = service.open_case(
        form, on=on, at=_at(on), actor=OFFICER, process="untraceable_cme"
    )
    return case_id


def day_26_case(app: FastAPI, *, skip: tuple[str, ...] = ()) -> str:
    """A case at its Day 26 closure decision, every check recorded except `skip`."""
    service = service_of(app)
    case_id = open_case(app)
    for day, checks in TRACING:
        sweep(service, until=day, at=_at(day))
        for check in checks:
            if check not in skip:
                service.record_check(
                    case_id, check, on=day, at=_at(day), actor=OFFICER, outcome=f"{check} done"
                )
    sweep(service, until=DAY_26, at=_at(DAY_26))
    assert service.get(case_id).state == "closure_decision"
    return case_id
