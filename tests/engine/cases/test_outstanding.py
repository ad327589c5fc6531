"""Outstanding checks (issue 15), pure: the rule over a case row, its process's outline and its
calendar, and the case row's `progress` and `overdue` as events add them up (`apply`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.cases.events import (
    GENESIS_HASH,
    CaseEvent,
    Escalation,
    EventKind,
    body_of,
    check_body,
)
from engine.cases.outstanding import outstanding_checks
from engine.cases.projection import CaseState, replay
from engine.language.registry import ProcessRegistry
from engine.time.calendars import load_calendar

OPENED = dt.date(2024, 10, 7)  # Monday, Day 1, on the real london calendar
CAL = load_calendar("london")
OUTLINE = ProcessRegistry.from_package().in_force("untraceable_cme", OPENED).definition.outline()


def day(n: int) -> dt.date:
    return CAL.school_day_n(OPENED, n)


class History:
    """A case's events, built one by one, each chained to the last."""

    def __init__(self) -> None:
        self.events: list[CaseEvent] = []

    def add(self, kind: EventKind, data: dict[str, Any], on: dt.date, **extra: Any) -> CaseState:
        payload: dict[str, Any] = {"v": 2, "data": data, **extra}
        prev = self.events[-1].hash if self.events else GENESIS_HASH
        self.events.append(
            CaseEvent(
                case_id="CME-000001",
                seq=len(self.events) + 1,
                effective_date=on,
                recorded_at=dt.datetime(2025, 9, 1, tzinfo=dt.UTC),
                actor="dylan" if kind == EventKind.check_waived else "sona",
                role="line_manager" if kind == EventKind.check_waived else "cme_officer",
                kind=kind,
                payload=payload,
                process_id="untraceable_cme",
                process_version=2,
                rule=None,
                prev_hash=prev,
            ).sealed()
        )
        return replay(self.events)

    def opened(self, *, tracks: bool = True) -> CaseState:
        data: dict[str, Any] = {"state": "establishing_contact", "calendar": "london"}
        if tracks:
            data["tracks_stages"] = True
        return self.add(EventKind.opened, data, OPENED)

    def step(self, trigger: str, frm: str, to: str, on: dt.date, **more: Any) -> CaseState:
        data = {"trigger": trigger, "from_state": frm, "to_state": to, **more}
        return self.add(EventKind.trigger, data, on)

    def check(self, check: str, on: dt.date) -> CaseState:
        return self.add(EventKind.check_recorded, {"check": check}, on)

    def escalate(self, check: str | None, stage: str | None, on: dt.date) -> CaseState:
        data: dict[str, Any] = {
            "timer": f"{check}_outstanding",
            "key": "k",
            "to_role": "cme_officer",
        }
        data["message"] = "outstanding"
        if check is not None:
            data.update(check=check, stage=stage)
        return self.add(EventKind.escalation, data, on)


def owed(case: CaseState, on: dt.date) -> dict[str, tuple[str | None, bool]]:
    return {
        o.id: (o.due.isoformat() if o.due else None, o.escalated)
        for o in outstanding_checks(OUTLINE, case, on=on, calendar=CAL)
    }


def test_a_missed_check_stays_owed_and_overdue_across_plain_stage_changes() -> None:
    h = History()
    h.opened()
    for c in ("core_information_checked", "opened_on_cme_register", "contact_attempted_by_phone"):
        h.check(c, OPENED)
    # All four recorded by Day 3, the window's last day: nothing is owed.
    case = h.check("contact_attempted_by_email", day(3))
    assert owed(case, day(3)) == {}
    h = History()
    h.opened()
    assert set(owed(replay(h.events), day(1))) == {
        "core_information_checked",
        "opened_on_cme_register",
        "contact_attempted_by_phone",
        "contact_attempted_by_email",
    }
    case = h.escalate("contact_attempted_by_email", "establishing_contact", day(4))
    assert case.overdue
    case = h.step("start_reasonable_checks", "establishing_contact", "reasonable_checks", day(5))
    assert case.overdue  # a plain change of stage does not clear it
    assert case.progress["entered"] == {
        "establishing_contact": OPENED.isoformat(),
        "reasonable_checks": day(5).isoformat(),
    }
    late = owed(case, day(5))
    assert late["contact_attempted_by_email"] == (day(3).isoformat(), True)
    assert late["mash_check"] == (day(15).isoformat(), False)  # Day 5–15 has started
    # Day 15 is Friday 25 October; half term follows.
    assert day(15) == dt.date(2024, 10, 25)
    assert day(16) == dt.date(2024, 11, 4)
    case = h.check("contact_attempted_by_email", day(6))
    assert not case.overdue
    assert "contact_attempted_by_email" not in owed(case, day(6))


def test_a_waived_check_is_satisfied_and_clears_the_overdue_flag() -> None:
    h = History()
    h.opened()
    h.escalate("opened_on_cme_register", "establishing_contact", day(2))
    case = h.add(
        EventKind.check_waived,
        {"check": "opened_on_cme_register", "wording": "Open case on CME register/Impulse."},
        day(2),
        personal={"waiver_reasons": {"opened_on_cme_register": "Impulse down; on paper"}},
    )
    assert not case.overdue
    assert case.waived["opened_on_cme_register"] == {
        "on": day(2).isoformat(),
        "by": "dylan",
        "role": "line_manager",
    }
    assert case.waiver_reason("opened_on_cme_register") == "Impulse down; on paper"
    assert "opened_on_cme_register" in case.satisfied_checks()
    assert "opened_on_cme_register" not in case.satisfied_checks(on=day(1))
    assert "opened_on_cme_register" not in owed(case, day(2))


def test_clearing_and_terminal_stages_end_what_is_owed() -> None:
    h = History()
    h.opened()
    h.escalate("contact_attempted_by_phone", "establishing_contact", day(4))
    case = h.step(
        "contact_established",
        "establishing_contact",
        "supporting_to_school_place",
        day(4),
        clears=["establishing_contact", "reasonable_checks"],
    )
    assert not case.overdue
    assert owed(case, day(4)) == {}
    assert case.progress["cleared"] == ["establishing_contact", "reasonable_checks"]
    h = History()
    h.opened()
    h.escalate("contact_attempted_by_phone", "establishing_contact", day(4))
    case = h.step(
        "child_left_the_country", "establishing_contact", "left_the_country", day(4), terminal=True
    )
    assert not case.overdue
    assert owed(case, day(4)) == {}


def test_an_escalation_not_about_a_check_ends_with_its_stage() -> None:
    h = History()
    h.opened()
    case = h.escalate(None, None, day(2))
    assert case.overdue
    assert case.progress.get("alert") == "establishing_contact"
    case = h.step("start_reasonable_checks", "establishing_contact", "reasonable_checks", day(4))
    assert not case.overdue


def test_a_case_opened_before_stages_were_kept_replays_as_it_did() -> None:
    """Histories written before `tracks_stages` keep no progress; their escalations name no
    check and end with the stage, as they always did."""
    h = History()
    case = h.opened(tracks=False)
    assert case.progress == {}
    case = h.escalate(None, None, day(2))
    assert (case.overdue, case.progress) == (True, {})
    case = h.check("opened_on_cme_register", day(2))
    assert case.overdue  # recording a check never ended an old escalation
    case = h.step("start_reasonable_checks", "establishing_contact", "reasonable_checks", day(4))
    assert (case.overdue, case.progress) == (False, {})
    # What is owed is read from the stage it is in and the stages its recorded checks belong to.
    assert "contact_attempted_by_phone" in owed(case, day(4))


def test_an_old_escalation_payload_still_reads_and_a_new_one_names_its_check() -> None:
    old = body_of(
        EventKind.escalation,
        {"data": {"timer": "t", "key": "k", "to_role": "cme_officer", "message": "m"}},
    )
    assert isinstance(old, Escalation)
    assert (old.check, old.stage) == (None, None)
    new = Escalation(
        timer="giap_check_outstanding",
        key="k",
        to_role="cme_officer",
        message="m",
        check="giap_check",
        stage="further_checks",
    )
    assert new.data()["check"] == "giap_check"
    assert check_body(EventKind.escalation, new.payload()) == new
    assert "check" not in Escalation(timer="t", key="k", to_role="r", message="m").data()


def test_an_escalation_not_about_a_check_and_an_escalated_check_each_keep_the_flag() -> None:
    h = History()
    h.opened()
    h.escalate("opened_on_cme_register", "establishing_contact", day(2))
    case = h.escalate(None, None, day(2))
    assert (case.overdue, case.alerted) == (True, True)
    case = h.check("opened_on_cme_register", day(3))
    assert (case.overdue, case.alerted) == (True, True)  # the other escalation stands
    h = History()
    h.opened()
    h.escalate("opened_on_cme_register", "establishing_contact", day(2))
    h.escalate(None, None, day(2))
    case = h.step("start_reasonable_checks", "establishing_contact", "reasonable_checks", day(4))
    assert (case.overdue, case.alerted) == (True, False)  # the check is still owed
