"""What officers read: a case's state, Day N, checklist, next deadlines and history; the case
list; and what each officer must do on a day (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from engine.cases.events import EventKind, body_of
from engine.cases.notification import NotificationForm, parse_form
from engine.cases.service import Actor, CaseService
from engine.cases.views import WITHHELD, case_summary, due_on, event_summary, list_cases
from engine.scheduling.sweep import sweep
from engine.store.tables import access_log_table
from engine.time.calendars import load_calendar
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
OTHER = Actor("kai", "cme_officer")
OPENED = dt.date(2024, 10, 21)
CAL = load_calendar("london-2024-25")


def day(n: int) -> dt.date:
    return CAL.school_day_n(OPENED, n)


def one_child(form: NotificationForm, **child: Any) -> NotificationForm:
    data = form.model_dump(mode="json")
    data["children"] = [{**data["children"][0], **child}]
    return parse_form(data)


@pytest.fixture
def case_id(service: CaseService, example_form: NotificationForm) -> str:
    (case_id,) = service.open_case(
        one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER
    )
    service.record_check(
        case_id,
        "core_information_checked",
        on=OPENED,
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="all there",
    )
    return case_id


def test_show_a_case_to_an_officer(service: CaseService, case_id: str) -> None:
    s = case_summary(service, case_id, on=day(6), actor=OFFICER, at=RECORDED_AT)
    assert (s["state"], s["state_title"]) == (
        "establishing_contact",
        "Notification received, case opened, establishing contact",
    )
    assert s["day"] == 6
    assert s["on"] == dt.date(2024, 11, 4)
    assert s["child"]["full_name"] == "Ana Silva"
    assert s["personal_data"] == "shown"
    done = {c["id"]: c for c in s["checklist"]}
    assert done["core_information_checked"]["done"]
    assert done["core_information_checked"]["outcome"] == "all there"
    assert not done["contact_attempted_by_phone"]["done"]
    assert done["contact_attempted_by_phone"]["days"] == "Day 1–3"
    steps = {n["trigger"] for n in s["next_steps"]}
    assert {"contact_established", "start_reasonable_checks", "refer_to_mash"} <= steps
    assert "close_untraceable" not in steps
    pending = {t["timer"]: t for t in s["timers"] if t["status"] == "pending"}
    assert pending["reasonable_checks_starts"]["due_date"] == day(5)
    assert "Day 5" in pending["reasonable_checks_starts"]["explanation"]
    # What the case still owes, from every stage it has entered, with each window's last day.
    assert [(o["id"], o["window"], o["due"], o["escalated"]) for o in s["outstanding_checks"]] == [
        ("opened_on_cme_register", "Day 1", "2024-10-21", False),
        ("contact_attempted_by_phone", "Day 1–3", "2024-10-23", False),
        ("contact_attempted_by_email", "Day 1–3", "2024-10-23", False),
    ]
    assert [h["summary"] for h in s["history"]] == [
        "Case opened: Notification received, case opened, establishing contact",
        "Recorded: Core information checked — all there",
    ]
    assert s["process"] == {"id": "untraceable_cme", "version": 2, "title": s["process"]["title"]}
    # The read is logged: who read which case, when, and how.
    with service.store.read() as conn:
        logged = conn.execute(
            select(access_log_table.c.case_id, access_log_table.c.actor, access_log_table.c.action)
        ).all()
    assert ("CME-000001", "sona", "case show") in [tuple(r) for r in logged]


def test_without_a_reader_personal_data_is_withheld(service: CaseService, case_id: str) -> None:
    s = case_summary(service, case_id, on=day(2))
    assert s["personal_data"] == "withheld"
    assert s["child"]["full_name"] is None
    assert s["history"][1]["summary"] == f"Recorded: Core information checked — {WITHHELD}"


def test_day_n_is_none_outside_the_calendar(service: CaseService, case_id: str) -> None:
    # 2027-28 is past the last school year `london` (the case's calendar) covers.
    assert case_summary(service, case_id, on=dt.date(2027, 9, 6))["day"] is None


def test_list_filters_by_state_overdue_and_closed(
    service: CaseService, example_form: NotificationForm, case_id: str
) -> None:
    (placed,) = service.open_case(
        one_child(example_form, full_name="Bea Cole", upn=None),
        on=OPENED,
        at=RECORDED_AT,
        actor=OTHER,
    )
    service.fire(placed, "contact_established", on=day(2), at=RECORDED_AT, actor=OTHER)
    service.set_fact(
        placed, "placement_route", "in_year_admissions", on=day(2), at=RECORDED_AT, actor=OTHER
    )
    service.set_fact(
        placed, "placement_provision", "Argyle", on=day(2), at=RECORDED_AT, actor=OTHER
    )
    service.fire(placed, "child_placed", on=day(2), at=RECORDED_AT, actor=OTHER)
    assert [c["id"] for c in list_cases(service)] == [case_id]
    assert [c["id"] for c in list_cases(service, include_closed=True)] == [case_id, placed]
    assert list_cases(service, state="placed", include_closed=True)[0]["id"] == placed
    assert list_cases(service, overdue=True) == []
    rows = list_cases(service, actor=OFFICER, at=RECORDED_AT)
    assert rows[0]["child"] == "Ana Silva"
    assert list_cases(service)[0]["child"] is None


def test_due_lists_each_officers_work_for_the_day(
    service: CaseService, example_form: NotificationForm, case_id: str
) -> None:
    (other,) = service.open_case(
        one_child(example_form, full_name="Bea Cole", upn=None),
        on=OPENED,
        at=RECORDED_AT,
        actor=OTHER,
    )
    items = due_on(service, on=day(2))
    mine = [i for i in items if i["officer"] == "sona"]
    assert {i["what"].split(":")[0] for i in mine if i["kind"] == "check"} == {
        "contact_attempted_by_phone",
        "contact_attempted_by_email",
    }
    # The Day 1 register check is late on Day 2; the core information check was recorded.
    late = [(i["case_id"], i["what"].split(":")[0]) for i in mine if i["kind"] == "overdue check"]
    assert late == [(case_id, "opened_on_cme_register")]
    assert "Day 2 of the case; window Day 1" in next(
        i["why"] for i in mine if i["kind"] == "overdue check"
    )
    # A check's escalation due today is not a separate "escalate to …" line: the check is
    # listed once, by id and wording.
    assert [i for i in items if i["kind"] == "timer"] == []
    named = [i for i in mine if i["case_id"] == case_id]
    assert [i["check"] for i in named] == [
        "opened_on_cme_register",
        "contact_attempted_by_phone",
        "contact_attempted_by_email",
    ]
    assert named[0]["wording"] == "Open case on CME register/Impulse."
    assert [i["officer"] for i in items] == sorted(i["officer"] for i in items)


def test_an_escalated_case_is_listed_as_overdue_and_due(service: CaseService, case_id: str) -> None:
    result = sweep(service, until=day(2), at=RECORDED_AT)
    assert result.total > 0
    case = service.get(case_id)
    assert case.overdue
    assert [c["id"] for c in list_cases(service, overdue=True)] == [case_id]
    items = [i for i in due_on(service, on=day(2)) if i["case_id"] == case_id]
    escalated = [i["check"] for i in items if i.get("escalated")]
    assert escalated == ["opened_on_cme_register"]
    assert all(i["kind"] != "escalated" for i in items)  # named by its check instead
    history = case_summary(service, case_id, on=day(2))["history"]
    assert any(h["summary"].startswith("Escalated to cme_officer") for h in history)


@pytest.mark.parametrize(
    ("kind", "payload", "line"),
    [
        ("trigger", {"data": {"trigger": "t", "from_state": "a", "to_state": "b"}}, "t: a → b"),
        (
            "fact_changed",
            {"data": {"facts": {"crime_suspected": True}, "previous": None}},
            "crime_suspected = True",
        ),
        (
            "fact_changed",
            {
                "data": {"personal_fact": "safeguarding_concern"},
                "personal": {"facts": {"safeguarding_concern": "x"}},
            },
            "safeguarding_concern = x",
        ),
        (
            "fact_changed",
            {"data": {"personal_fact": "safeguarding_concern"}},
            f"safeguarding_concern = {WITHHELD}",
        ),
        ("note", {"data": {}, "personal": {"last_note": "called"}}, "note: called"),
        ("note", {"data": {}, "personal": "[purged]"}, f"note: {WITHHELD}"),
        (
            "timer_lapsed",
            {"data": {"timer": "t", "key": "k", "because": ["done"]}},
            "timer t lapsed: done",
        ),
        (
            "deadline_moved",
            {
                "data": {
                    "calendar": "london",
                    "from_version": 1,
                    "to_version": 2,
                    "loaded_by": "pat",
                    "loaded_by_role": "policy_owner",
                    "reason": "calendar london version 1 → version 2: no longer school days: "
                    "5 Nov 2024",
                    "moved": [
                        {
                            "timer": "tracing_starts",
                            "key": "k",
                            "from": "2024-11-18",
                            "to": "2024-11-19",
                            "explanation": None,
                        }
                    ],
                }
            },
            "deadlines moved: calendar london version 1 → version 2, loaded by pat "
            "(policy_owner): tracing_starts 18 Nov 2024 → 19 Nov 2024; calendar london version "
            "1 → version 2: no longer school days: 5 Nov 2024",
        ),
        (
            "migration",
            {"data": {"from_version": 1, "to_version": 2, "mapping": "a=a (same name)"}},
            "migrated from version 1 to 2, stage map a=a (same name)",
        ),
        (
            "migration",
            {
                "data": {
                    "from_version": 1,
                    "to_version": 2,
                    "mapping": "a=b",
                    "from_state": "a",
                    "to_state": "b",
                }
            },
            "migrated from version 1 to 2, stage map a=b: a → b",
        ),
        ("check_recorded", {"data": {"check": "c", "outcome": "seen"}}, "check c: seen"),
    ],
)
def test_history_lines(kind: str, payload: dict[str, Any], line: str) -> None:
    assert event_summary(body_of(EventKind(kind), payload), kind) == line
