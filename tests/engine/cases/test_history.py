"""A history in the policy's words (issue 15): reminders not needed said as such and marked to
fold, in the guard form earlier releases stored (`!checks.x`) and the words the windows generate
("x is not recorded"); other conditions and kinds without an expression in sight."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from engine.cases.events import CaseEvent, EventKind
from engine.cases.history import HistoryReader, PolicyWords, condition_words
from engine.cases.views import WITHHELD, event_summary

WORDS = PolicyWords(
    checks={
        "core_information_checked": "CME notification received. Ensure core information …",
        "mash_check": "Start checks – MASH.",
        "nhs_spine_check": "Start checks – Health/NHS Spine Database.",
    },
    steps={"start_reasonable_checks": "Unable to establish contact — start reasonable checks"},
    states={"reasonable_checks": "First formal letter and reasonable checks"},
)


def event(seq: int, on: dt.date, kind: str, data: dict[str, Any], **extra: Any) -> CaseEvent:
    return CaseEvent(
        case_id="CME-000001",
        seq=seq,
        effective_date=on,
        recorded_at=dt.datetime(2024, 10, 21, 9, tzinfo=dt.UTC),
        actor="sona",
        role="cme_officer",
        kind=EventKind(kind),
        payload={"v": 2, "data": data, **extra},
        process_id="untraceable_cme",
        process_version=1,
        rule=None,
        prev_hash="0" * 64,
    )


def read(events: list[CaseEvent]) -> list[tuple[str, bool]]:
    reader = HistoryReader.start(WORDS)
    return [
        (reader.line(e, event_summary(e.body, str(e.kind))), reader.not_needed(e)) for e in events
    ]


@pytest.mark.parametrize(
    "because",
    [["!checks.core_information_checked"], ["core_information_checked is not recorded"]],
)
def test_a_reminder_whose_check_was_done_reads_so_and_folds(because: list[str]) -> None:
    rows = read(
        [
            event(2, dt.date(2024, 10, 9), "check_recorded", {"check": "core_information_checked"}),
            event(
                3,
                dt.date(2024, 10, 10),
                "timer_lapsed",
                {"timer": "core_information_checked_outstanding", "key": "k", "because": because},
            ),
        ]
    )
    assert rows[1] == (
        "Reminder not needed: Core information checked was recorded on 9 Oct 2024",
        True,
    )


def test_a_lapse_for_another_reason_is_said_in_words_and_shown() -> None:
    (row,) = read(
        [
            event(
                4,
                dt.date(2024, 10, 25),
                "timer_lapsed",
                {
                    "timer": "reasonable_checks_starts",
                    "key": "k",
                    "because": ["!checks.mash_check && case_day >= 5"],
                },
            )
        ]
    )
    text, folded = row
    assert not folded
    assert "!" not in text
    assert "&&" not in text
    assert "checks." not in text
    assert text == (
        "Scheduled reasonable checks starts not acted on: no longer so: "
        "not “MASH check” and the day of the case at least 5"
    )


def test_steps_checks_and_facts_read_as_the_policy_says_them() -> None:
    rows = read(
        [
            event(
                2,
                dt.date(2024, 10, 24),
                "trigger",
                {
                    "trigger": "start_reasonable_checks",
                    "from_state": "establishing_contact",
                    "to_state": "reasonable_checks",
                },
            ),
            event(3, dt.date(2024, 10, 25), "check_recorded", {"check": "nhs_spine_check"}),
            event(4, dt.date(2024, 10, 25), "fact_changed", {"facts": {"crime_suspected": False}}),
        ]
    )
    assert [text for text, _ in rows] == [
        "Unable to establish contact — start reasonable checks — now: First formal letter and "
        "reasonable checks",
        f"Recorded: NHS spine check — {WITHHELD}",
        "Recorded crime_suspected: no",
    ]


def test_a_reason_already_in_words_is_kept() -> None:
    assert condition_words("the case is closed", WORDS) == "the case is closed"
    assert condition_words("checks.mash_check", WORDS) == "MASH check was not recorded"


def test_waivers_holds_links_and_assignments_read_in_words() -> None:
    rows = read(
        [
            event(
                5,
                dt.date(2024, 11, 4),
                "check_waived",
                {"check": "mash_check", "wording": "Start checks – MASH."},
                personal={"waiver_reasons": {"mash_check": "MASH already involved"}},
            ),
            event(6, dt.date(2024, 11, 4), "legal_hold", {"hold": True, "reason": "court order"}),
            event(
                7,
                dt.date(2024, 11, 5),
                "notification_linked",
                {"form_date": "2024-11-05", "how": "the same UPN"},
            ),
            event(
                8,
                dt.date(2024, 11, 6),
                "assigned",
                {"assigned_officer": "kai", "from_officer": "sona"},
            ),
        ]
    )
    assert [text for text, _ in rows] == [
        "Waived: MASH check — MASH already involved",
        "Legal hold placed: court order",
        "Notification dated 2024-11-05 linked to this case (the same UPN)",
        "Case given to kai (was sona)",
    ]
