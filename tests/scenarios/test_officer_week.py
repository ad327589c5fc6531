"""An officer's weeks, 7 October to 5 December 2024, on the real `london` calendar: ten children
notified (by form and by the weekly Out of School report), a duplicate notification linked, a near
match decided, a case found by part of a name, a reassignment, the scheduler moving a case on
with its overdue checks carried until they are recorded, a case closed as opened in error, and
the line manager's Day 26 close accepted once every check is recorded or waived.

Sona is the CME officer, Kai her colleague, Dylan the line manager. Names are invented.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.imports.out_of_school import import_out_of_school
from engine.cases.duplicates import NEAR, SAME_UPN, DuplicateChild
from engine.cases.events import EventKind
from engine.cases.finding import find_cases
from engine.cases.notification import NotificationForm, parse_form
from engine.cases.service import Actor, CaseService
from engine.cases.views import case_summary, list_cases
from engine.errors import CommandRefused
from engine.store.tables import case_table, outbox_table
from engine.time.calendars import load_calendar
from tests.scenarios.helpers import assert_replays, sweep

SONA = Actor("sona", "cme_officer")
KAI = Actor("kai", "cme_officer")
DYLAN = Actor("dylan", "line_manager")
CAL = load_calendar("london")
AT = dt.datetime(2024, 12, 6, 8, 0, tzinfo=dt.UTC)
"""Recorded after every date of the walk (a command may not take effect after it is recorded)."""

MONDAY = dt.date(2024, 10, 7)

ESTABLISHING = ("core_information_checked", "opened_on_cme_register")
CONTACT = ("contact_attempted_by_phone", "contact_attempted_by_email")
REASONABLE = (
    "first_formal_letter_sent",
    "mash_check",
    "camden_resident_index_check",
    "housing_check",
    "council_tax_check",
    "nhs_spine_check",
)
FURTHER = ("second_formal_letter_sent", "pan_london_check", "second_home_visit", "giap_check")


def day(n: int, opened: dt.date = MONDAY) -> dt.date:
    return CAL.school_day_n(opened, n)


def notification(
    on: dt.date,
    name: str,
    dob: str,
    *,
    upn: str | None = None,
    notifier: str = "Jo Adeyemi",
    postcode: str = "NW5 1TL",
) -> NotificationForm:
    child: dict[str, Any] = {
        "full_name": name,
        "date_of_birth": dob,
        "school": "Kentish Town Primary School",
    }
    if upn:
        child["upn"] = upn
    return parse_form(
        {
            "date": on.isoformat(),
            "notifier": {"name": notifier, "school_or_service": "Kentish Town Primary School"},
            "parent_carer": {"names": f"Parent of {name}", "postcode": postcode},
            "children": [child],
        }
    )


def outbox_rows(service: CaseService) -> int:
    with service.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox_table)).scalar_one())


def outstanding(service: CaseService, case_id: str, on: dt.date) -> dict[str, dict[str, Any]]:
    summary = case_summary(service, case_id, on=on)
    return {o["id"]: o for o in summary["outstanding_checks"]}


def record(service: CaseService, case_id: str, checks: tuple[str, ...], on: dt.date) -> None:
    for check in checks:
        service.record_check(
            case_id, check, on=on, at=AT, actor=SONA, outcome=f"{check.replace('_', ' ')}: done"
        )


@pytest.fixture
def service(sqlite_service: CaseService) -> CaseService:
    return sqlite_service


def test_an_officers_weeks_from_notification_to_a_day_26_close(
    service: CaseService, tmp_path: Path
) -> None:
    # -- Monday 7 October: five notifications by form -------------------------------------------
    children = [
        ("Ana Silva", "2015-03-14", "H801200001001"),
        ("José Núñez", "2013-04-09", None),
        ("Leah Okafor", "2012-06-21", None),
        ("Omar Haddad", "2011-01-30", None),
        ("Mia Chen", "2014-11-05", None),
    ]
    ids: dict[str, str] = {}
    for name, dob, upn in children:
        (ids[name],) = service.open_case(
            notification(MONDAY, name, dob, upn=upn), on=MONDAY, at=AT, actor=SONA
        )
    ana = ids["Ana Silva"]
    record(service, ana, ESTABLISHING, MONDAY)  # the Day 1 checks; contact attempts wait

    # -- Tuesday 8 October: the weekly Out of School report brings two more ---------------------
    report = tmp_path / "out_of_school_2024-10-08.csv"
    report.write_text(
        "child_name,date_of_birth,marked_by,marked_on,parent_carer,postcode\n"
        "Tom Reid,2011-09-09,Housing,2024-10-04,Jo Reid,NW5 1AB\n"
        "Zara Ali,2012-02-17,Early Help,2024-10-03,Sam Ali,NW1 9QB\n",
        encoding="utf-8",
    )
    tuesday = dt.date(2024, 10, 8)
    imported = import_out_of_school(service, report, on=tuesday, at=AT, actor=SONA)
    ids["Tom Reid"], ids["Zara Ali"] = (what for _, what in imported.written)

    # -- Wednesday 9 October: a second notification about Ana, from the GP ------------------------
    wednesday = dt.date(2024, 10, 9)
    letters = outbox_rows(service)
    cases_before = len(list_cases(service, include_closed=True))
    again = notification(
        wednesday, "Ana Silva", "2015-03-14", upn="H801200001001", notifier="Dr Rao"
    )
    with pytest.raises(DuplicateChild) as duplicate:
        service.open_case(again, on=wednesday, at=AT, actor=KAI)
    assert duplicate.value.matches == {"Ana Silva": [{"case_id": ana, "how": SAME_UPN}]}
    assert service.open_case(again, on=wednesday, at=AT, actor=KAI, link=ana) == [ana]
    assert len(list_cases(service, include_closed=True)) == cases_before
    assert outbox_rows(service) == letters  # no second first letter to the family
    assert service.events(ana)[-1].kind == EventKind.notification_linked

    # -- Thursday 10 October: Maya Chen, born the day Mia was: a near match, decided -------------
    thursday = dt.date(2024, 10, 10)
    maya = notification(thursday, "Maya Chen", "2014-11-05")
    with pytest.raises(DuplicateChild) as near:
        service.open_case(maya, on=thursday, at=AT, actor=SONA)
    (match,) = near.value.found("Maya Chen")
    assert (match.case_id, match.how, match.their_name) == (ids["Mia Chen"], NEAR, "Mia Chen")
    # The school confirms twins: a different child, opened with the reason recorded.
    (ids["Maya Chen"],) = service.open_case(
        maya,
        on=thursday,
        at=AT,
        actor=SONA,
        override_reason="Mia's twin sister; the school confirmed both are missing",
    )
    opened = service.events(ids["Maya Chen"])[0].payload["data"]
    assert opened["duplicate_of"] == [ids["Mia Chen"]]

    # -- Monday 14 October: two more; one turns out to be on a school roll ------------------------
    monday2 = dt.date(2024, 10, 14)
    for name, dob in (("Noah Brown", "2013-08-12"), ("Ella Green", "2015-05-02")):
        (ids[name],) = service.open_case(
            notification(monday2, name, dob), on=monday2, at=AT, actor=SONA
        )
    assert len(ids) == 10
    noah = ids["Noah Brown"]
    closed = service.fire(
        noah,
        "close_opened_in_error",
        on=dt.date(2024, 10, 15),
        at=AT,
        actor=SONA,
        note="Noah attends Regent High; the form was sent in error",
    ).case
    assert (closed.state, closed.terminal) == ("closed_opened_in_error", True)
    assert [e.kind for e in service.events(noah)][0] == EventKind.opened  # the history stays

    # -- a search by part of a name, accents aside ------------------------------------------------
    found = find_cases(service, "nun", actor=SONA, at=AT)["cases"]
    assert [(c["id"], c["child"]) for c in found] == [(ids["José Núñez"], "José Núñez")]
    assert [c["id"] for c in find_cases(service, "chen", actor=SONA, at=AT)["cases"]] == sorted(
        [ids["Mia Chen"], ids["Maya Chen"]]
    )

    # -- Wednesday 16 October: Omar's case goes to Kai --------------------------------------------
    service.assign(ids["Omar Haddad"], "kai", on=dt.date(2024, 10, 16), at=AT, actor=DYLAN)
    kais = [r["id"] for r in list_cases(service, officer="kai")]
    assert kais == [ids["Omar Haddad"]]
    assert ids["Omar Haddad"] not in [r["id"] for r in list_cases(service, officer="sona")]

    # -- the scheduler moves Ana on; her missed contact attempts are carried ---------------------
    sweep(service, until=day(5), at=AT)
    assert service.get(ana).state == "reasonable_checks"
    owed = outstanding(service, ana, day(5))
    assert set(CONTACT) <= set(owed)
    assert all(owed[c]["escalated"] for c in CONTACT)
    assert owed["contact_attempted_by_phone"]["due"] == day(3).isoformat()
    assert ana in [r["id"] for r in list_cases(service, overdue=True)]
    record(service, ana, CONTACT, day(6))  # done late, and recorded
    owed = outstanding(service, ana, day(6))
    assert not set(CONTACT) & set(owed)

    # -- Days 5-25: the reasonable and further checks; YOS waived by the manager ------------------
    record(service, ana, REASONABLE, day(10))
    service.waive_check(
        ana,
        "yos_check",
        reason="no YOS involvement: the family is known to no youth service",
        on=day(10),
        at=AT,
        actor=DYLAN,
    )
    sweep(service, until=day(16), at=AT)
    assert service.get(ana).state == "further_checks"
    record(service, ana, FURTHER[:3], day(20))

    # -- Day 26: the close is refused while a check is owed, then accepted ------------------------
    sweep(service, until=day(26), at=AT)
    assert service.get(ana).state == "closure_decision"
    assert day(26) <= dt.date(2024, 12, 5)
    with pytest.raises(CommandRefused, match="giap_check"):
        service.fire(ana, "close_untraceable", on=day(26), at=AT, actor=DYLAN)
    record(service, ana, ("giap_check", "day_26_closure_form"), day(26))
    assert outstanding(service, ana, day(26)) == {}
    result = service.fire(ana, "close_untraceable", on=day(26), at=AT, actor=DYLAN)
    assert (result.case.state, result.case.closed_on) == ("closed_untraceable", day(26))

    # Every case's history replays to its row and its chain verifies.
    with service.store.read() as conn:
        every = [r[0] for r in conn.execute(select(case_table.c.id))]
    assert len(every) == 10
    for case_id in every:
        assert_replays(service, case_id)
