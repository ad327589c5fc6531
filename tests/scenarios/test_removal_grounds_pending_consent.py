"""removal_grounds version 7, pending commencement of section 37 of the Children's Wellbeing and
Schools Act 2026 (Education Act 1996 s.434A): until a policy owner gives its date it applies to
no case and version 6 stays in force; commenced (here on Monday 4 January 2027, the first day of
the spring term on the `london` calendar), cases opened from that day ask the LA's consent before
a Ground F removal of a "relevant child"."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from engine.cases.commencement import commence_version
from engine.cases.service import Actor, CaseService
from engine.errors import GuardFailed
from engine.language.registry import ProcessRegistry
from tests.scenarios.helpers import SCHOOL
from tests.scenarios.removal import Ground, Timeline, propose, walk_to_removal

D = dt.date
COMMENCED = D(2027, 1, 4)
POLICY_OWNER = Actor("pat", "policy_owner")
RECORDED_AT = dt.datetime(2027, 8, 31, 17, 0, tzinfo=dt.UTC)
"""When the walks are recorded: after every date they use."""
SPRING_2027 = Timeline(
    proposed=COMMENCED, confirmed=D(2027, 1, 11), removed=D(2027, 1, 18), calendar="london"
)
HOME_EDUCATION = Ground(
    "Ground F",
    "make_ehe_notification",
    "remove_under_ground_f",
    facts={"school_attendance_order": False, "withdrawal_consent": "awaiting_decision"},
    confirmations=("parent_written_ehe_notification_received",),
    notice=("notify", "ehe_team"),
)


@pytest.fixture(autouse=True)
def _recorded_after_the_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.scenarios.helpers import Walk

    monkeypatch.setattr(Walk, "recorded_at", RECORDED_AT)


def test_pending_it_applies_to_no_case(
    sqlite_service: CaseService, registry: ProcessRegistry
) -> None:
    pending = registry.get("removal_grounds", 7).definition
    assert pending.pending
    assert "section 78(5)" in (pending.commencement or "")
    assert registry.in_force("removal_grounds", D(2027, 1, 4)).definition.version == 6
    # Without the date, a Ground F removal goes ahead as today, with no consent recorded.
    as_today = replace(HOME_EDUCATION, facts={"school_attendance_order": False})
    walk = walk_to_removal(sqlite_service, as_today, SPRING_2027)
    assert (walk.state, walk.case.process_version) == ("removed_from_roll", 6)


def test_commenced_ground_f_waits_for_the_las_consent(sqlite_service: CaseService) -> None:
    commence_version(
        sqlite_service, "removal_grounds", 7, on=COMMENCED, at=RECORDED_AT, actor=POLICY_OWNER
    )
    walk = propose(sqlite_service, HOME_EDUCATION, SPRING_2027)
    assert walk.case.process_version == 7
    walk.check("parent_written_ehe_notification_received", on=SPRING_2027.confirmed, actor=SCHOOL)
    walk.facts({"off_roll_date": SPRING_2027.removed}, on=SPRING_2027.removed, actor=SCHOOL)
    error = walk.refused(
        GuardFailed, "fire", HOME_EDUCATION.remove, on=SPRING_2027.removed, actor=SCHOOL
    )
    assert error.failed == [
        "the local authority has consented to the pupil's withdrawal to be educated at home, or "
        "the pupil is not a child who needs its consent"
    ]
    walk.facts(
        {"withdrawal_consent": "given", "withdrawal_consent_case": "CME-2027-0003"},
        on=SPRING_2027.removed,
        actor=SCHOOL,
    )
    walk.fire(HOME_EDUCATION.remove, on=SPRING_2027.removed, actor=SCHOOL)
    assert walk.state == "removed_from_roll"
    assert "434A" in walk.events()[-1].rule


def test_commenced_a_case_opened_before_the_date_keeps_version_6(
    sqlite_service: CaseService,
) -> None:
    commence_version(
        sqlite_service, "removal_grounds", 7, on=COMMENCED, at=RECORDED_AT, actor=POLICY_OWNER
    )
    before = replace(SPRING_2027, proposed=D(2026, 12, 14))
    walk = walk_to_removal(
        sqlite_service, replace(HOME_EDUCATION, facts={"school_attendance_order": False}), before
    )
    assert (walk.state, walk.case.process_version) == ("removed_from_roll", 6)
