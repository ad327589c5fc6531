"""Issue 14's review of the removal grounds against the law, walked on the shipped `london`
calendar's real dates: the 2006 regulations as amended (removal_grounds version 5) for cases
opened before 19 August 2024, and the 2024 regulations (version 6) from that day. Each walk
below was refused, or wrongly accepted, by versions 3 and 4:

- (f)/Ground H: any leave of absence granted counts (SI 2013/756 took out "exceeding ten school
  days for the purpose of a holiday" from 1 September 2013);
- (k)/Ground L: the pupil ceases to be of compulsory school age before the school next meets,
  the school leaving date counted from the date of birth on the notification;
- Ground C: all four of regulation 9(1)(c)'s conditions; (c) asks that the pupil has ceased to
  attend;
- (o)/Ground M: the CME notification, not the CME Officer's confirmation;
- (m)/Ground O: the governing board reconsidered and did not reinstate;
- the Connexions referral is expected, not a condition, unless the LA switches its choice on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from engine.cases.service import CaseService
from engine.errors import GuardFailed
from engine.language.loader import load_process_text
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from tests.scenarios.helpers import SCHOOL, calendars
from tests.scenarios.removal import Ground, Timeline, propose, walk_to_refusal, walk_to_removal

D = dt.date

# 2006 grounds: proposed Monday 1 July 2024, confirmations Monday 8 July, removed Friday 19 July
# 2024, the last day of the 2023-24 summer term on the `london` calendar.
JULY_2024 = Timeline(
    proposed=D(2024, 7, 1), confirmed=D(2024, 7, 8), removed=D(2024, 7, 19), calendar="london"
)
# 2024 grounds: proposed Monday 9 September 2024, confirmed 16 September, removed 23 September.
SEPTEMBER_2024 = Timeline(
    proposed=D(2024, 9, 9), confirmed=D(2024, 9, 16), removed=D(2024, 9, 23), calendar="london"
)
# A Year 11 leaver in 2025: proposed Monday 30 June 2025, confirmations Monday 7 July, removed
# Tuesday 22 July 2025, the last day of the 2024-25 summer term; the school next meets on
# Monday 1 September 2025.
JULY_2025 = Timeline(
    proposed=D(2025, 6, 30), confirmed=D(2025, 7, 7), removed=D(2025, 7, 22), calendar="london"
)
UNTRACED = {"reasonable_grounds_sickness_or_unavoidable": False, "joint_enquiries_failed": True}


def _removed(walk: Any, version: int, regulation: str) -> None:
    case = walk.case
    assert (case.state, case.terminal) == ("removed_from_roll", True)
    assert case.process_version == version
    assert regulation in walk.events()[-1].rule


# --- (f) and Ground H: any leave of absence ------------------------------------------------------

LEAVE_2006 = Ground(
    "8(1)(f)",
    "make_cme_notification",
    "remove_under_8_1_f",
    # Three school days' leave for a family funeral, Monday 10 to Wednesday 12 June 2024: not a
    # holiday and not more than ten school days. The tenth school day after it is Wednesday 26
    # June; the pupil has not been back by Friday 19 July.
    facts={
        "leave_of_absence_granted": True,
        "leave_expired_on": D(2024, 6, 12),
        "attended_after_leave_expired": False,
        **UNTRACED,
    },
    before_notice=("evidence_of_checks_completed",),
    confirmations=("cme_officer_confirmed_receipt",),
)


def test_2006_f_a_short_leave_not_for_a_holiday_is_a_ground(sqlite_service) -> None:
    walk = walk_to_removal(sqlite_service, LEAVE_2006, JULY_2024)
    _removed(walk, 5, "Regulation 8(1)(f)")
    assert "SI 2013/756" in walk.events()[-1].rule


def test_2006_f_is_refused_within_the_ten_school_days_after_the_leave(sqlite_service) -> None:
    # Leave to Friday 5 July 2024: the tenth school day after it is Friday 19 July, not yet past.
    late = replace(LEAVE_2006, facts={**LEAVE_2006.facts, "leave_expired_on": D(2024, 7, 5)})
    _, error = walk_to_refusal(sqlite_service, late, JULY_2024)
    assert error.failed == [
        "the pupil has failed to attend the school within the ten school days immediately "
        "following the expiry of the period for which such leave was granted"
    ]


# --- (k) and Ground L: before the school next meets, counted from the date of birth --------------

LEAVER_2006 = Ground(
    "8(1)(k)",
    "notify_la_of_removal",
    "remove_under_8_1_k",
    facts={
        "school_next_meets_on": D(2024, 9, 2),
        "relevant_person_indicated_leaving": True,
        "meets_sixth_form_entry_requirements": True,
        "at_risk_of_neet": False,
    },
    dob=D(2007, 10, 14),  # 16 on 14 October 2023: compulsory school age ends Friday 28 June 2024
)


def test_2006_k_the_school_leaving_date_is_counted_from_the_date_of_birth(sqlite_service) -> None:
    walk = walk_to_removal(sqlite_service, LEAVER_2006, JULY_2024)
    _removed(walk, 5, "Regulation 8(1)(k)")
    # The date of birth came from the notification, kept as personal data, never typed.
    assert "date_of_birth" not in walk.case.facts


def test_2006_k_the_sixth_form_route(sqlite_service) -> None:
    """The pupil has not said they will leave, but does not meet the sixth form's entry
    requirements (8(1)(k)(ii))."""
    route = replace(
        LEAVER_2006,
        facts={
            **LEAVER_2006.facts,
            "relevant_person_indicated_leaving": False,
            "meets_sixth_form_entry_requirements": False,
        },
    )
    _removed(walk_to_removal(sqlite_service, route, JULY_2024), 5, "Regulation 8(1)(k)")


def test_2006_k_a_pupil_still_of_compulsory_school_age_in_september_is_refused(
    sqlite_service,
) -> None:
    # 16 on 1 September 2024: the 2024-25 school year, so of compulsory school age until Friday
    # 27 June 2025, long after the school next meets.
    young = replace(LEAVER_2006, dob=D(2008, 9, 1))
    _, error = walk_to_refusal(sqlite_service, young, JULY_2024)
    assert error.failed == [
        "the pupil will cease to be of compulsory school age (the last Friday in June of the "
        "school year in which they turn 16) before the school next meets"
    ]
    assert "27 Jun 2025" in str(error)


LEAVER_2024 = Ground(
    "Ground L",
    "notify_la_of_removal",
    "remove_under_ground_l",
    facts={
        "school_next_meets_on": D(2025, 9, 1),
        "continuing_into_sixth_form": False,
        "at_risk_of_neet": False,
    },
    dob=D(2009, 3, 10),  # 16 on 10 March 2025: compulsory school age ends Friday 27 June 2025
)


def test_2024_ground_l_the_school_leaving_date_is_counted_from_the_date_of_birth(
    sqlite_service,
) -> None:
    _removed(walk_to_removal(sqlite_service, LEAVER_2024, JULY_2025), 6, "Regulation 9(1)(l)")


def test_2024_ground_l_a_year_10_pupil_is_refused(sqlite_service) -> None:
    # 16 on 5 September 2025: of compulsory school age until Friday 26 June 2026.
    _, error = walk_to_refusal(sqlite_service, replace(LEAVER_2024, dob=D(2009, 9, 5)), JULY_2025)
    assert error.failed == [
        "the pupil will be over compulsory school age (past the last Friday in June of the "
        "school year in which they turn 16) before the school next meets"
    ]
    assert "26 Jun 2026" in str(error)


# --- the Connexions referral: expected, and the LA's choice to enforce ---------------------------

AT_RISK_2024 = replace(LEAVER_2024, facts={**LEAVER_2024.facts, "at_risk_of_neet": True})


def test_a_leaver_at_risk_of_neet_is_removed_without_waiting_for_connexions(
    sqlite_service, registry: ProcessRegistry
) -> None:
    """The policy says such leavers "should be referred to Connexions": the referral is on the
    checklist, and removal does not wait for it while the LA's choice is switched off."""
    choice = registry.get("removal_grounds", 6).definition.la_choices
    assert choice["connexions_referral_before_removal"].applies is False
    walk = walk_to_removal(sqlite_service, AT_RISK_2024, JULY_2025)
    _removed(walk, 6, "Regulation 9(1)(l)")
    assert not walk.case.checks.get("connexions_referral_made")


@pytest.fixture
def connexions_enforced(sqlite_url: str, registry: ProcessRegistry) -> Any:
    """The shipped processes with the 2024 grounds' Connexions choice switched on, as version 8
    (what a policy owner who wants it enforced would publish; 7 is the pending one)."""
    loaded = registry.get("removal_grounds", 6).loaded
    text = loaded.text.replace("\nversion: 6\n", "\nversion: 8\n")
    on = text.replace(
        "connexions_referral_before_removal:\n    says: A school-leaver at risk of NEET is "
        "referred to Connexions before their name is removed under Ground L.\n    applies: false",
        "connexions_referral_before_removal:\n    says: A school-leaver at risk of NEET is "
        "referred to Connexions before their name is removed under Ground L.\n    applies: true",
    )
    assert on != text
    store = open_store(sqlite_url)
    yield CaseService(
        store,
        ProcessRegistry(
            [*(c.loaded for c in registry), load_process_text(on, "removal_grounds_2024.yaml")]
        ),
        calendars=calendars,
    )
    store.dispose()


def test_switched_on_the_choice_holds_removal_until_the_referral(connexions_enforced) -> None:
    walk = propose(connexions_enforced, AT_RISK_2024, JULY_2025)
    assert walk.case.process_version == 8
    walk.facts({"off_roll_date": JULY_2025.removed}, on=JULY_2025.removed, actor=SCHOOL)
    error = walk.refused(
        GuardFailed, "fire", AT_RISK_2024.remove, on=JULY_2025.removed, actor=SCHOOL
    )
    assert error.failed == [
        "a school-leaver at risk of NEET has been referred to Connexions (Camden's choice to "
        "hold removal until then)"
    ]
    assert "LA choice: connexions_referral_before_removal" in str(error)
    walk.check("connexions_referral_made", on=JULY_2025.removed, actor=SCHOOL)
    walk.fire(AT_RISK_2024.remove, on=JULY_2025.removed, actor=SCHOOL)
    assert walk.state == "removed_from_roll"


# --- Ground C: all four conditions; (c): ceased to attend ----------------------------------------

DUAL_2024 = Ground(
    "Ground C",
    "notify_la_of_removal",
    "remove_under_ground_c",
    facts={
        "dual_registered": True,
        "reasonable_grounds_will_attend_again": False,
        "sao_names_this_school": False,
        "mobile_child_main_school": False,
    },
    confirmations=("other_schools_consent_confirmed",),
)


@pytest.mark.parametrize(
    ("breaks", "says", "basis"),
    [
        (
            {"reasonable_grounds_will_attend_again": True},
            "the school does not have reasonable grounds to believe that the pupil will attend "
            "the school again",
            "(law: Regulation 9(1)(c)(i))",
        ),
        (
            {"sao_names_this_school": True},
            "there is no school attendance order naming this school in force for the pupil",
            "(law: Regulation 9(1)(c)(iii))",
        ),
        (
            {"mobile_child_main_school": True},
            "the pupil is not a mobile child, or if they are, this school is not their main school",
            "(law: Regulation 9(1)(c)(iv))",
        ),
    ],
    ids=["will attend again", "SAO names this school", "mobile child's main school"],
)
def test_2024_ground_c_is_refused_when_any_of_its_conditions_fails(
    sqlite_service, breaks: dict[str, bool], says: str, basis: str
) -> None:
    _, error = walk_to_refusal(sqlite_service, replace(DUAL_2024, breaks=breaks), SEPTEMBER_2024)
    assert error.failed == [says]
    # The refusal says why the rule binds: the regulation's paragraph.
    assert basis in str(error)


def test_2024_ground_c_with_all_four_conditions(sqlite_service) -> None:
    _removed(walk_to_removal(sqlite_service, DUAL_2024, SEPTEMBER_2024), 6, "Regulation 9(1)(c)")


def test_2006_c_is_refused_while_the_pupil_still_attends(sqlite_service) -> None:
    dual = Ground(
        "8(1)(c)",
        "notify_la_of_removal",
        "remove_under_8_1_c",
        facts={
            "dual_registered": True,
            "ceased_to_attend": True,
            "no_fixed_abode_dual_registration": False,
        },
        confirmations=("other_school_agreement_confirmed",),
        breaks={"ceased_to_attend": False},
    )
    _, error = walk_to_refusal(sqlite_service, dual, JULY_2024)
    assert error.failed == ["the pupil has ceased to attend this school"]


# --- (o) and Ground M: the CME notification, not the Officer's confirmation ----------------------


def both_regulations(letter_2006: str, letter_2024: str) -> pytest.MarkDecorator:
    """The same rule under the 2006 ground (version 5, July 2024) and its 2024 ground (version
    6, September 2024): (ground, step, timeline, version, regulation)."""
    upper = letter_2024.upper()
    return pytest.mark.parametrize(
        ("ground", "step", "timeline", "version", "regulation"),
        [
            (
                f"8(1)({letter_2006})",
                f"remove_under_8_1_{letter_2006}",
                JULY_2024,
                5,
                f"Regulation 8(1)({letter_2006})",
            ),
            (
                f"Ground {upper}",
                f"remove_under_ground_{letter_2024}",
                SEPTEMBER_2024,
                6,
                f"Regulation 9(1)({letter_2024})",
            ),
        ],
        ids=[f"2006 ({letter_2006})", f"2024 Ground {upper}"],
    )


@both_regulations("o", "m")
def test_unpaid_boarding_fees_need_the_cme_notification_not_the_officers_confirmation(
    sqlite_service, ground: str, step: str, timeline: Timeline, version: int, regulation: str
) -> None:
    boarder = Ground(
        ground,
        "make_cme_notification",
        step,
        facts={"boarder": True, "boarding_fees_unpaid": True},
        notice=("notify", "cme_officer"),
    )
    walk = walk_to_removal(sqlite_service, boarder, timeline)
    _removed(walk, version, regulation)
    assert walk.outbox()[0][2] == "cme_notification_form"
    assert not walk.case.checks.get("cme_officer_confirmed_receipt")


# --- (m) and Ground O: the governing board reconsidered and did not reinstate --------------------


@both_regulations("m", "o")
def test_an_exclusion_stands_once_the_governing_board_reconsidered_and_did_not_reinstate(
    sqlite_service, ground: str, step: str, timeline: Timeline, version: int, regulation: str
) -> None:
    excluded = Ground(
        ground,
        "notify_la_of_removal",
        step,
        facts={
            "exclusion_review_status": "governing_board_reconsidered_not_reinstated",
            "exclusion_decision_given_on": timeline.proposed - dt.timedelta(days=42),
        },
        confirmations=("exclusion_notified_to_school_inclusion",),
        breaks={"exclusion_review_status": "irp_reconsideration_pending"},
    )
    _removed(walk_to_removal(sqlite_service, excluded, timeline), version, regulation)
    _, error = walk_to_refusal(sqlite_service, replace(excluded, dob=D(2015, 3, 13)), timeline)
    assert len(error.failed) == 1
    assert "reconsideration by the governing board" in error.failed[0]


# --- versions ------------------------------------------------------------------------------------


def test_the_restated_versions_apply_to_the_cases_the_old_ones_did(
    registry: ProcessRegistry,
) -> None:
    """Version 5 (2006 as amended) takes cases opened from 1 April 2023, version 6 (2024) those
    opened from 19 August 2024; versions 3 and 4 still load, superseded, for the cases opened on
    them."""
    assert registry.versions("removal_grounds") == [3, 4, 5, 6, 7]
    assert registry.in_force("removal_grounds", D(2023, 9, 4)).definition.version == 5
    assert registry.in_force("removal_grounds", D(2024, 8, 18)).definition.version == 5
    assert registry.in_force("removal_grounds", D(2024, 8, 19)).definition.version == 6
    assert registry.in_force("removal_grounds", D(2026, 12, 4)).definition.version == 6
    old = registry.get("removal_grounds", 3).definition
    assert "leave_for_holiday" in old.facts
    assert "leave_for_holiday" not in registry.get("removal_grounds", 5).definition.facts


def test_every_rule_of_the_restated_grounds_says_its_basis(registry: ProcessRegistry) -> None:
    for version in (5, 6):
        defn = registry.get("removal_grounds", version).definition
        for trig in defn.triggers:
            assert trig.ref.basis is not None, trig.id
            for cond in trig.guards:
                assert cond.source is not None, cond.says
                assert cond.source.basis is not None, cond.says
                if cond.la_choice:
                    assert cond.la_choice in defn.la_choices
                    assert cond.source.basis.value == "la_choice"
        for name, fact in defn.facts.items():
            assert fact.source is not None, name
            assert fact.source.basis is not None, name
        for check_id, check in defn.checks().items():
            assert check.source is not None, check_id
            assert check.source.basis is not None, check_id
