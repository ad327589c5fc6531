"""Outstanding checks persist (issue 15): a case opened on Monday 7 October 2024 on the real
`london` calendar, across the October half term (28 Oct - 1 Nov), whose Day 5-15 checks are
missed. They stay outstanding, with their due date and escalation, through the scheduler's
stage changes to Day 26; the case stays overdue; the line manager's close is refused naming
them until each is recorded or waived."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.cases.events import Escalation, EventKind
from engine.cases.service import CaseService
from engine.cases.views import case_summary, due_on, list_cases
from engine.errors import CMEError, WaiverNotPermitted
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import LINE_MANAGER, OFFICER, Walk, notification

OPENED = dt.date(2024, 10, 7)  # Day 1, Monday
DAY_3, DAY_4, DAY_5 = dt.date(2024, 10, 9), dt.date(2024, 10, 10), dt.date(2024, 10, 11)
DAY_15 = dt.date(2024, 10, 25)  # the Friday before half term
DAY_16 = dt.date(2024, 11, 4)  # the Monday after it
DAY_26 = dt.date(2024, 11, 18)

MISSED = [
    "camden_resident_index_check",
    "housing_check",
    "council_tax_check",
    "yos_check",
    "nhs_spine_check",
]


def _walk(service: CaseService) -> Walk:
    return Walk.open(service, notification(OPENED), on=OPENED, calendar="london")


def _escalations(walk: Walk) -> list[tuple[str | None, dt.date]]:
    out = []
    for ev in walk.events(EventKind.escalation):
        body = ev.body
        assert isinstance(body, Escalation)
        out.append((body.check, ev.effective_date))
    return out


def test_the_day_1_3_escalation_fires_on_day_4_not_day_3(sqlite_service: CaseService) -> None:
    walk = _walk(sqlite_service)
    assert [walk.day(d) for d in (DAY_3, DAY_4, DAY_15, DAY_16, DAY_26)] == [3, 4, 15, 16, 26]
    walk.check("core_information_checked", "opened_on_cme_register", on=OPENED)
    # The officer tries by phone on Day 3, the window's last day: not escalated for it.
    walk.check("contact_attempted_by_phone", on=DAY_3)
    walk.sweep(DAY_3)
    assert _escalations(walk) == []
    walk.sweep(DAY_4)
    assert _escalations(walk) == [("contact_attempted_by_email", DAY_4)]
    assert walk.case.overdue
    (email,) = case_summary(sqlite_service, walk.case_id, on=DAY_4)["outstanding_checks"]
    assert email == {
        "id": "contact_attempted_by_email",
        "wording": "Establish contact with parent/carer by email.",
        "stage": "establishing_contact",
        "window": "Day 1–3",
        "due": "2024-10-09",
        "escalated": True,
    }


def test_missed_checks_stay_outstanding_to_day_26_and_block_the_close_until_done_or_waived(
    sqlite_service: CaseService,
) -> None:
    walk = _walk(sqlite_service)
    walk.check(
        "core_information_checked",
        "opened_on_cme_register",
        "contact_attempted_by_phone",
        "contact_attempted_by_email",
        on=OPENED,
    )
    walk.sweep(DAY_5)
    assert walk.state == "reasonable_checks"  # the start timer generated from its days
    walk.check("first_formal_letter_sent", "mash_check", on=DAY_5)
    walk.sweep(DAY_16)
    assert walk.state == "further_checks"
    assert sorted(str(c) for c, on in _escalations(walk) if on == DAY_16) == sorted(MISSED)
    walk.check(
        "second_formal_letter_sent",
        "pan_london_check",
        "giap_check",
        "second_home_visit",
        on=DAY_16,
    )
    walk.sweep(DAY_26)
    assert walk.state == "closure_decision"
    # The scheduler's stage changes did not clear the overdue flag: the checks are still owed.
    case = walk.case
    assert case.overdue
    assert [c["id"] for c in list_cases(sqlite_service, overdue=True)] == [walk.case_id]
    shown = case_summary(sqlite_service, walk.case_id, on=DAY_26)
    owed = {o["id"]: o for o in shown["outstanding_checks"]}
    assert sorted(owed) == sorted([*MISSED, "day_26_closure_form"])
    assert owed["housing_check"] == {
        "id": "housing_check",
        "wording": "Start checks – Housing (housing information, on written request).",
        "stage": "reasonable_checks",
        "window": "Day 5–15",
        "due": DAY_15.isoformat(),
        "escalated": True,
    }
    assert owed["day_26_closure_form"]["escalated"] is False
    # `cme due` names each check, once per check, grouped by case.
    items = [i for i in due_on(sqlite_service, on=DAY_26) if i["case_id"] == walk.case_id]
    assert sorted(i["check"] for i in items if "check" in i) == sorted(owed)
    assert all(i["kind"] != "escalated" for i in items)

    walk.check("day_26_closure_form", on=DAY_26)
    with pytest.raises(CMEError) as refused:
        sqlite_service.fire(
            walk.case_id, "close_untraceable", on=DAY_26, at=RECORDED_AT, actor=LINE_MANAGER
        )
    for check in MISSED:
        assert check in str(refused.value)

    # The officer may not waive; the line manager may, with a reason.
    with pytest.raises(WaiverNotPermitted, match="line_manager") as not_theirs:
        sqlite_service.waive_check(
            walk.case_id,
            "yos_check",
            reason="no YOS involvement",
            on=DAY_26,
            at=RECORDED_AT,
            actor=OFFICER,
        )
    assert "cme_officer" in str(not_theirs.value)
    sqlite_service.waive_check(
        walk.case_id,
        "yos_check",
        reason="no YOS involvement",
        on=DAY_26,
        at=RECORDED_AT,
        actor=LINE_MANAGER,
    )
    walk.check(*[c for c in MISSED if c != "yos_check"], on=DAY_26)
    assert not walk.case.overdue
    assert case_summary(sqlite_service, walk.case_id, on=DAY_26)["outstanding_checks"] == []
    walk.fire("close_untraceable", on=DAY_26, actor=LINE_MANAGER)
    assert walk.state == "closed_untraceable"


def test_a_check_recorded_in_time_lapses_its_escalation(sqlite_service: CaseService) -> None:
    walk = _walk(sqlite_service)
    walk.check(
        "core_information_checked",
        "opened_on_cme_register",
        "contact_attempted_by_phone",
        "contact_attempted_by_email",
        on=OPENED,
    )
    walk.sweep(DAY_5)
    walk.check("first_formal_letter_sent", "mash_check", *MISSED, on=DAY_15)
    walk.sweep(DAY_16)
    assert _escalations(walk) == []
    assert not walk.case.overdue


def test_contact_established_clears_the_tracing_checks(sqlite_service: CaseService) -> None:
    walk = _walk(sqlite_service)
    walk.sweep(DAY_4)
    assert walk.case.overdue  # four Day 1 / Day 1-3 checks escalated
    walk.fire("contact_established", on=DAY_4)
    case = walk.case
    assert not case.overdue
    assert case_summary(sqlite_service, walk.case_id, on=DAY_4)["outstanding_checks"] == []
    assert all(t[0].endswith("_outstanding") is False for t in walk.timers())
