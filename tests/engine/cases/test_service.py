"""The case service on SQLite and PostgreSQL: opening, advancing, every refusal writing nothing,
roles, the expected-sequence guard between two sessions, and the one shared machine."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, text

from engine.cases.notification import NotificationForm, parse_form
from engine.cases.projection import GENESIS_HASH, EventKind
from engine.cases.service import Actor, CaseService
from engine.cases.unit_of_work import UnitOfWork
from engine.errors import (
    BackdatingRefused,
    CaseNotFound,
    ConcurrentUpdate,
    GuardFailed,
    InputError,
    MissingChecks,
    RoleNotPermitted,
    TransitionNotAllowed,
    UnknownCheck,
    UnknownFact,
    UnknownTrigger,
)
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from engine.store.tables import (
    case_table,
    event_table,
    outbox_table,
    process_version_table,
    timer_table,
)
from engine.time.calendars import load_calendar
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
MANAGER = Actor("dylan", "line_manager")
CAL = load_calendar("london-2024-25")
OPENED = dt.date(2024, 10, 21)
"""A Monday in the autumn term: Day 1 of the cases below."""


def day(n: int) -> dt.date:
    """Day N of a case opened on OPENED (school days; half term 28 Oct-1 Nov skipped)."""
    return CAL.school_day_n(OPENED, n)


def one_child(example_form: NotificationForm, **child: Any) -> NotificationForm:
    data = example_form.model_dump(mode="json")
    data["children"] = [{**data["children"][0], **child}]
    return parse_form(data)


def written(service: CaseService) -> dict[str, Any]:
    """Everything a command could have written, to compare before and after a refusal."""
    with service.store.read() as conn:
        counts = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (case_table, event_table, timer_table, outbox_table, process_version_table)
        }
        rows = [tuple(r) for r in conn.execute(select(case_table).order_by(case_table.c.id))]
        timers = [tuple(r) for r in conn.execute(select(timer_table).order_by(timer_table.c.id))]
    return {"counts": counts, "cases": rows, "timers": timers}


@pytest.fixture
def opened(service: CaseService, example_form: NotificationForm) -> str:
    """One case for Ana (primary aged), opened on OPENED."""
    (case_id,) = service.open_case(
        one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER
    )
    return case_id


# -- opening ----------------------------------------------------------------------------------


def test_a_form_with_two_children_opens_two_linked_cases_on_day_1(
    service: CaseService, example_form: NotificationForm
) -> None:
    ids = service.open_case(example_form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    assert ids == ["CME-000001", "CME-000002"]
    ana, tiago = (service.get(i) for i in ids)
    assert ana.sibling_group == tiago.sibling_group == ids[0]
    assert (ana.state, ana.opened_on, ana.seq, ana.process_id) == (
        "establishing_contact",
        OPENED,
        1,
        "untraceable_cme",
    )
    assert ana.facts["age_phase"] == "primary"
    assert tiago.facts["age_phase"] == "secondary"
    (event,) = service.events(ids[1])
    assert event.kind == EventKind.opened
    assert event.prev_hash == GENESIS_HASH
    assert event.payload["data"]["siblings"] == [ids[0]]
    assert event.rule is not None
    assert event.rule.startswith("open case: ")
    # The version the case is pinned to is stored with its text and hash.
    with service.store.read() as conn:
        stored = conn.execute(select(process_version_table)).all()
    compiled = service.registry.get("untraceable_cme", ana.process_version)
    assert [(r.process_id, r.version, r.content_hash) for r in stored] == [
        ("untraceable_cme", compiled.definition.version, compiled.content_hash)
    ]
    # Day 1 is the notification day: the Day 5 step falls on Friday 25 October.
    with service.store.read() as conn:
        due: dict[str, dt.date] = dict(
            conn.execute(
                select(timer_table.c.timer_id, timer_table.c.due_date).where(
                    timer_table.c.case_id == ids[0]
                )
            ).all()
        )
    assert due["reasonable_checks_starts"] == dt.date(2024, 10, 25) == day(5)


def test_a_second_notification_numbers_on(
    service: CaseService, example_form: NotificationForm
) -> None:
    service.open_case(one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    other = one_child(example_form, full_name="Bea Cole", upn=None)
    assert service.open_case(other, on=OPENED, at=RECORDED_AT, actor=OFFICER) == ["CME-000002"]


# -- bad input: a clear refusal, and nothing written -------------------------------------------


E = TypeVar("E", bound=Exception)


def refuse(service: CaseService, error: type[E], call: Any, *args: Any, **kwargs: Any) -> E:
    """The `error` the call raises (its type checked here), after checking nothing was written."""
    before = written(service)
    with pytest.raises(error) as info:
        call(*args, **kwargs)
    assert written(service) == before, "a refused command wrote something"
    return info.value


def test_unknown_case(service: CaseService, opened: str) -> None:
    err = refuse(
        service,
        CaseNotFound,
        service.fire,
        "CME-999999",
        "contact_established",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "no case with id 'CME-999999'" in str(err)
    assert "cme case list" in str(err)


def test_unknown_trigger_suggests_the_nearest(service: CaseService, opened: str) -> None:
    err = refuse(
        service,
        UnknownTrigger,
        service.fire,
        opened,
        "contact_establish",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "has no step 'contact_establish'" in str(err)
    assert "did you mean 'contact_established'" in str(err)
    assert (err.name, err.suggestions[0]) == ("contact_establish", "contact_established")
    assert (err.kind, err.name, err.process) == ("step", "contact_establish", "untraceable_cme")
    assert err.suggestions[0] == "contact_established"
    assert err.to_json()["error"] == "unknown_name"


def test_trigger_not_allowed_from_the_current_state(service: CaseService, opened: str) -> None:
    err = refuse(
        service,
        TransitionNotAllowed,
        service.fire,
        opened,
        "close_untraceable",
        on=day(2),
        at=RECORDED_AT,
        actor=MANAGER,
    )
    assert "cannot be taken from establishing_contact" in str(err)
    assert "contact_established" in str(err)  # what may be done from here


def test_wrong_role_names_who_may(service: CaseService, opened: str) -> None:
    walk_to_closure_decision(service, opened)
    err = refuse(
        service,
        RoleNotPermitted,
        service.fire,
        opened,
        "close_untraceable",
        on=day(26),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "School Inclusion Team Manager (line_manager)" in str(err)
    assert (
        "you are acting as School Inclusion and Children Missing Education Officer (cme_officer)"
        in str(err)
    )


def test_a_role_the_process_does_not_know_may_not_act(service: CaseService, opened: str) -> None:
    school = Actor("head", "school")  # in the role table, but not a role of untraceable_cme
    refuse(
        service,
        RoleNotPermitted,
        service.add_note,
        opened,
        "hello",
        on=day(2),
        at=RECORDED_AT,
        actor=school,
    )


def test_guard_false_says_which_condition_and_the_values(service: CaseService, opened: str) -> None:
    err = refuse(
        service,
        GuardFailed,
        service.fire,
        opened,
        "start_reasonable_checks",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "condition not met: the Day 1–3 window for establishing contact has passed" in str(err)
    assert "(it is Day 2 of the case)" in str(err)
    assert (err.step, err.facts["case_day"]) == ("start_reasonable_checks", 2)
    assert err.facts == {"case_day": 2}
    service.set_fact(opened, "crime_suspected", "false", on=day(2), at=RECORDED_AT, actor=OFFICER)
    err = refuse(
        service,
        GuardFailed,
        service.fire,
        opened,
        "involve_police",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "(crime_suspected: no)" in str(err)
    assert "False" not in str(err)


def test_a_fact_the_step_needs_is_named(service: CaseService, opened: str) -> None:
    err = refuse(
        service,
        GuardFailed,
        service.fire,
        opened,
        "refer_to_mash",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "needs these facts recorded first: safeguarding_concern" in str(err)


def test_missing_required_checks_are_listed_with_their_wording(
    service: CaseService, opened: str
) -> None:
    walk_to_closure_decision(service, opened)
    service.record_check(
        opened, "mash_check", on=day(26), at=RECORDED_AT, actor=OFFICER, outcome="not known to MASH"
    )
    err = refuse(
        service,
        MissingChecks,
        service.fire,
        opened,
        "close_untraceable",
        on=day(26),
        at=RECORDED_AT,
        actor=MANAGER,
    )
    assert err.step == "close_untraceable"
    assert "core_information_checked" in err.missing
    assert "mash_check" not in err.missing
    assert "needs these checks recorded first: core_information_checked (" in str(err)


def test_backdated_effective_date_is_refused(service: CaseService, opened: str) -> None:
    service.add_note(opened, "visited", on=day(3), at=RECORDED_AT, actor=OFFICER)
    err = refuse(
        service,
        BackdatingRefused,
        service.record_check,
        opened,
        "contact_attempted_by_phone",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="no answer",
    )
    assert "latest event took effect on 23 Oct 2024" in str(err)
    assert "cannot take effect earlier (22 Oct 2024)" in str(err)


def test_a_date_after_the_recording_day_is_refused(service: CaseService, opened: str) -> None:
    err = refuse(
        service,
        InputError,
        service.add_note,
        opened,
        "later",
        on=dt.date(2025, 9, 2),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "after the day this is recorded (1 Sep 2025)" in str(err)


def test_an_off_roll_date_may_not_be_backdated(
    service: CaseService, example_form: NotificationForm
) -> None:
    # The school proposes the removal and gives its off roll date (both reserved to it).
    school = Actor("attendance-lead", "school")
    form = one_child(example_form, ground="Ground A", school="Kentish Town Primary School")
    on = dt.date(2024, 10, 21)
    (case_id,) = service.open_case(
        form, on=on, at=RECORDED_AT, actor=school, process="removal_grounds"
    )
    err = refuse(
        service,
        BackdatingRefused,
        service.set_fact,
        case_id,
        "off_roll_date",
        "2024-10-18",
        on=on,
        at=RECORDED_AT,
        actor=school,
    )
    assert "off_roll_date 2024-10-18 is earlier than 2024-10-21" in str(err)
    assert "must not be backdated" in str(err)
    service.set_fact(case_id, "off_roll_date", "2024-10-21", on=on, at=RECORDED_AT, actor=school)
    assert service.get(case_id).facts["off_roll_date"] == "2024-10-21"


def test_bad_fact_values_and_unknown_facts(service: CaseService, opened: str) -> None:
    err = refuse(
        service,
        InputError,
        service.set_fact,
        opened,
        "crime_suspected",
        "perhaps",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "write true or false" in str(err)
    unknown = refuse(
        service,
        UnknownFact,
        service.set_fact,
        opened,
        "crime_suspect",
        "true",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "untraceable_cme has no fact 'crime_suspect'; did you mean 'crime_suspected'" in str(
        unknown
    )
    err = refuse(
        service,
        InputError,
        service.set_fact,
        opened,
        "placement_route",
        "fap",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "must be one of in_year_admissions" in str(err)


def test_unknown_check_and_blank_outcome(service: CaseService, opened: str) -> None:
    err = refuse(
        service,
        UnknownCheck,
        service.record_check,
        opened,
        "mash_chek",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="x",
    )
    assert "has no check 'mash_chek'; did you mean 'mash_check'" in str(err)
    assert (err.name, err.suggestions[0]) == ("mash_chek", "mash_check")
    assert (err.kind, err.name, err.suggestions[0]) == ("check", "mash_chek", "mash_check")
    refuse(
        service,
        InputError,
        service.record_check,
        opened,
        "mash_check",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="  ",
    )


def test_malformed_upn_is_refused_with_the_reason(example_form: NotificationForm) -> None:
    data = example_form.model_dump(mode="json")
    data["children"][0]["upn"] = "A801200005001"  # wrong check letter
    with pytest.raises(InputError) as info:
        parse_form(data, source="form.yaml")
    assert "form.yaml is not a valid CME notification" in str(info.value)
    assert "children.0.upn" in str(info.value)
    assert "check letter" in str(info.value)


def test_a_child_outside_compulsory_school_age_opens_nothing(
    service: CaseService, example_form: NotificationForm
) -> None:
    form = one_child(example_form, date_of_birth="2020-06-01")  # four on the notification date
    err = refuse(
        service, InputError, service.open_case, form, on=OPENED, at=RECORDED_AT, actor=OFFICER
    )
    assert "of compulsory school age from 2025-08-31" in str(err)
    # The first child of a sibling form being too young refuses the whole form.
    data = example_form.model_dump(mode="json")
    data["children"][1]["date_of_birth"] = "2008-01-10"  # left school in June 2024
    refuse(
        service,
        InputError,
        service.open_case,
        parse_form(data),
        on=OPENED,
        at=RECORDED_AT,
        actor=OFFICER,
    )


def test_form_dates_after_the_notification_day_are_refused(
    service: CaseService, example_form: NotificationForm
) -> None:
    err = refuse(
        service,
        InputError,
        service.open_case,
        example_form,
        on=dt.date(2024, 10, 18),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "the form is dated 2024-10-21, after 2024-10-18" in str(err)


def test_a_notification_day_outside_the_calendar_is_refused(
    service: CaseService, example_form: NotificationForm
) -> None:
    from engine.errors import CalendarError

    form = parse_form(
        {
            **example_form.model_dump(mode="json"),
            "date": "2023-05-02",
            "date_of_last_attendance": None,
            "date_of_last_contact": None,
        }
    )
    refuse(
        service,
        CalendarError,
        service.open_case,
        form,
        on=dt.date(2023, 5, 2),
        at=RECORDED_AT,
        actor=OFFICER,
    )


def test_a_closed_case_takes_no_more_steps(service: CaseService, opened: str) -> None:
    service.fire(opened, "contact_established", on=day(2), at=RECORDED_AT, actor=OFFICER)
    service.set_fact(
        opened, "placement_route", "in_year_admissions", on=day(3), at=RECORDED_AT, actor=OFFICER
    )
    service.set_fact(
        opened,
        "placement_provision",
        "Kentish Town Primary School",
        on=day(3),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    service.fire(opened, "child_placed", on=day(3), at=RECORDED_AT, actor=OFFICER)
    assert service.get(opened).terminal
    err = refuse(
        service,
        TransitionNotAllowed,
        service.set_fact,
        opened,
        "crime_suspected",
        "true",
        on=day(4),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "is closed (placed on 23 Oct 2024)" in str(err)


# -- advancing --------------------------------------------------------------------------------


def walk_to_closure_decision(service: CaseService, case_id: str) -> None:
    service.fire(case_id, "start_reasonable_checks", on=day(4), at=RECORDED_AT, actor=OFFICER)
    service.fire(case_id, "start_further_checks", on=day(16), at=RECORDED_AT, actor=OFFICER)
    service.fire(case_id, "start_closure_decision", on=day(26), at=RECORDED_AT, actor=OFFICER)
    assert service.get(case_id).state == "closure_decision"


def test_a_step_moves_the_case_rearms_timers_and_queues_letters(
    service: CaseService, opened: str
) -> None:
    result = service.fire(
        opened, "start_reasonable_checks", on=day(4), at=RECORDED_AT, actor=OFFICER
    )
    case = result.case
    assert (case.state, case.state_entered_on, case.seq) == ("reasonable_checks", day(4), 2)
    assert result.event.rule is not None
    assert result.event.rule.startswith("start_reasonable_checks: Appendix 7")
    with service.store.read() as conn:
        timers = conn.execute(
            select(timer_table.c.timer_id, timer_table.c.status, timer_table.c.armed_seq).where(
                timer_table.c.case_id == opened
            )
        ).all()
        letters = (
            conn.execute(select(outbox_table.c.template).where(outbox_table.c.event_seq == 2))
            .scalars()
            .all()
        )
    # The stage's start timer is cancelled; its checks' escalations outlive it (still owed).
    first = {t.timer_id: t.status for t in timers if t.armed_seq == 1}
    assert first.pop("reasonable_checks_starts") == "cancelled"
    assert set(first.values()) == {"pending"}
    assert all(t.endswith("_outstanding") for t in first)
    assert {t.status for t in timers if t.armed_seq == 2} == {"pending"}
    assert "first_formal_cme_letter" in letters


def test_a_check_or_fact_keeps_the_stage_and_its_timers(service: CaseService, opened: str) -> None:
    before = written(service)["timers"]
    service.record_check(
        opened,
        "contact_attempted_by_phone",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="no answer",
    )
    service.set_fact(opened, "crime_suspected", True, on=day(2), at=RECORDED_AT, actor=OFFICER)
    # Only the recorded check's escalation is withdrawn: recorded in time, it is not needed.
    after = written(service)["timers"]
    changed = [(b[3], b[9], a[9]) for b, a in zip(before, after, strict=True) if a != b]
    assert changed == [("contact_attempted_by_phone_outstanding", "pending", "cancelled")]
    case = service.get(opened)
    assert case.checks["contact_attempted_by_phone"] == {"on": "2024-10-22"}
    assert case.facts["crime_suspected"] is True


def test_an_interrupt_keeps_the_stage_clock_and_timers(service: CaseService, opened: str) -> None:
    service.fire(opened, "start_reasonable_checks", on=day(4), at=RECORDED_AT, actor=OFFICER)
    timers = written(service)["timers"]
    service.set_fact(
        opened,
        "safeguarding_concern",
        "neighbour heard shouting",
        on=day(7),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    result = service.fire(opened, "refer_to_mash", on=day(7), at=RECORDED_AT, actor=OFFICER)
    case = result.case
    assert (case.state, case.state_entered_on) == ("reasonable_checks", day(4))
    assert result.event.payload["data"]["stays"] is True
    assert written(service)["timers"] == timers
    with service.store.read() as conn:
        queued = (
            conn.execute(
                select(outbox_table.c.recipient).where(outbox_table.c.event_seq == case.seq)
            )
            .scalars()
            .all()
        )
    assert queued == ["mash"]  # the referral only; the stage's own letters are not re-sent


def test_roles_decide_who_closes(service: CaseService, opened: str) -> None:
    walk_to_closure_decision(service, opened)
    pinned = service.get(opened).process_version  # the version the case opened under
    close = service.registry.get("untraceable_cme", pinned).definition.trigger("close_untraceable")
    assert close is not None
    for check in close.requires_checks:
        service.record_check(
            opened, check, on=day(26), at=RECORDED_AT, actor=OFFICER, outcome="done"
        )
    with pytest.raises(RoleNotPermitted):
        service.fire(opened, "close_untraceable", on=day(26), at=RECORDED_AT, actor=OFFICER)
    case = service.fire(opened, "close_untraceable", on=day(26), at=RECORDED_AT, actor=MANAGER).case
    assert (case.state, case.terminal, case.closed_on) == ("closed_untraceable", True, day(26))
    assert service.events(opened)[-1].role == "line_manager"


# -- personal data stays in the personal part -------------------------------------------------


def test_personal_data_never_reaches_the_plain_columns(service: CaseService, opened: str) -> None:
    service.set_fact(
        opened, "safeguarding_concern", "SECRET-CONCERN", on=day(2), at=RECORDED_AT, actor=OFFICER
    )
    service.record_check(
        opened,
        "contact_attempted_by_phone",
        on=day(2),
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="SECRET-OUTCOME",
    )
    service.add_note(opened, "SECRET-NOTE", on=day(2), at=RECORDED_AT, actor=OFFICER)
    service.fire(
        opened, "refer_to_mash", on=day(2), at=RECORDED_AT, actor=OFFICER, note="SECRET-REASON"
    )
    with service.store.read() as conn:
        dump = repr(conn.execute(select(case_table)).all()) + repr(
            conn.execute(select(event_table)).all()
        )
    for secret in ("SECRET-", "Ana Silva", "H801200001001", "Maria Silva"):
        assert secret not in dump
    case = service.get(opened)
    assert "safeguarding_concern" not in case.facts
    events = service.events(opened)
    assert events[1].payload["data"] == {"personal_fact": "safeguarding_concern"}
    assert set(events[1].payload["personal"]) == {"enc", "key"}  # sealed before hashing
    # Guards and views see the personal facts once revealed.
    revealed = service.revealed(case)
    assert revealed.all_facts()["safeguarding_concern"] == "SECRET-CONCERN"
    assert revealed.check_outcome("contact_attempted_by_phone") == "SECRET-OUTCOME"
    assert revealed.personal["last_note"] == "SECRET-REASON"
    assert revealed.personal["child"]["full_name"] == "Ana Silva"


# -- two officers on one case -----------------------------------------------------------------


def test_two_sessions_expecting_the_same_event_one_wins(
    db_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    first = CaseService(open_store(db_url), registry)
    second = CaseService(open_store(db_url), registry)
    try:
        (case_id,) = first.open_case(
            one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER
        )
        seen_by_first, seen_by_second = first.get(case_id), second.get(case_id)
        assert seen_by_first.seq == seen_by_second.seq == 1
        first.set_fact(
            case_id,
            "crime_suspected",
            "true",
            on=day(2),
            at=RECORDED_AT,
            actor=OFFICER,
            expected_seq=seen_by_first.seq,
        )
        before = written(second)
        with pytest.raises(ConcurrentUpdate) as info:
            second.set_fact(
                case_id,
                "crime_suspected",
                "false",
                on=day(2),
                at=RECORDED_AT,
                actor=Actor("kai", "cme_officer"),
                expected_seq=seen_by_second.seq,
            )
        assert "is at event 2, not 1" in str(info.value)
        assert "nothing was written" in str(info.value)
        assert written(second) == before
        assert second.get(case_id).facts["crime_suspected"] is True
    finally:
        first.store.dispose()
        second.store.dispose()


def test_two_officers_at_the_same_moment_one_gets_the_conflict(
    db_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    services = [CaseService(open_store(db_url), registry) for _ in range(2)]
    try:
        (case_id,) = services[0].open_case(
            one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER
        )
        start = threading.Barrier(2)
        outcomes: list[str] = []

        def act(service: CaseService, outcome: str) -> None:
            start.wait()
            try:
                service.record_check(
                    case_id,
                    "contact_attempted_by_phone",
                    on=day(2),
                    at=RECORDED_AT,
                    actor=OFFICER,
                    outcome=outcome,
                    expected_seq=1,
                )
                outcomes.append("written")
            except ConcurrentUpdate:
                outcomes.append("conflict")

        threads = [
            threading.Thread(target=act, args=(s, f"call {i}")) for i, s in enumerate(services)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["conflict", "written"]
        assert [e.seq for e in services[1].events(case_id)] == [1, 2]
    finally:
        for s in services:
            s.store.dispose()


def test_a_stale_read_past_the_lock_still_cannot_overwrite(
    db_url: str,
    registry: ProcessRegistry,
    example_form: NotificationForm,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last line of defence: the case row is updated only WHERE seq = the seq read."""
    first = CaseService(open_store(db_url), registry)
    second = CaseService(open_store(db_url), registry)
    try:
        (case_id,) = first.open_case(
            one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER
        )
        stale = second.get(case_id)
        first.add_note(case_id, "first", on=day(2), at=RECORDED_AT, actor=OFFICER)
        # The second session acts on what it read before the first committed.
        monkeypatch.setattr(UnitOfWork, "load_for_update", lambda self, cid, expected: stale)
        before = written(second)
        with pytest.raises(ConcurrentUpdate) as info:
            second.add_note(case_id, "second", on=day(2), at=RECORDED_AT, actor=OFFICER)
        assert "changed while you were working on it" in str(info.value)
        assert written(second) == before
        assert [e.seq for e in first.events(case_id)] == [1, 2]
    finally:
        first.store.dispose()
        second.store.dispose()


def test_without_an_expectation_the_second_officer_waits_and_loses_nothing(
    db_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    first = CaseService(open_store(db_url), registry)
    second = CaseService(open_store(db_url), registry)
    try:
        (case_id,) = first.open_case(
            one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER
        )
        done = threading.Event()

        def second_officer() -> None:
            second.set_fact(
                case_id, "destination_la", "Barnet", on=day(2), at=RECORDED_AT, actor=OFFICER
            )
            done.set()

        with first.batch():
            first.set_fact(
                case_id, "crime_suspected", "true", on=day(2), at=RECORDED_AT, actor=OFFICER
            )
            waiting = threading.Thread(target=second_officer)
            waiting.start()
            # The first transaction holds the case (FOR UPDATE / SQLite's write lock).
            assert not done.wait(timeout=0.5)
        waiting.join(timeout=30)
        assert done.is_set()
        case = first.get(case_id)
        assert case.seq == 3
        assert case.facts["crime_suspected"] is True
        assert case.facts["destination_la"] == "Barnet"
    finally:
        first.store.dispose()
        second.store.dispose()


# -- one machine per process version, never a model attached ----------------------------------


def test_cases_share_one_machine_and_never_attach_to_it(
    sqlite_url: str,
    registry: ProcessRegistry,
    example_form: NotificationForm,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Thousands of commands on many cases: one compiled process and machine, no model added."""
    from transitions import Machine

    def refuse_add_model(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a case was attached to the shared machine")

    monkeypatch.setattr(Machine, "add_model", refuse_add_model)
    service = CaseService(open_store(sqlite_url), registry)
    ids: list[str] = []
    with service.batch():  # one transaction: the point here is the machine, not durability
        for n in range(20):
            # Twenty families: one child, one open case (engine/cases/duplicates.py).
            form = example_form.model_dump(mode="json")
            form["children"] = [
                {**c, "date_of_birth": f"2014-01-{n + 1:02d}", "upn": None}
                for c in form["children"]
            ]
            ids += service.open_case(parse_form(form), on=OPENED, at=RECORDED_AT, actor=OFFICER)
        for case_id in ids:
            service.fire(
                case_id, "start_reasonable_checks", on=day(4), at=RECORDED_AT, actor=OFFICER
            )
        for n in range(2_000):
            case_id = ids[(n // 2) % len(ids)]  # a fact, then a MASH referral, case after case
            if n % 2:
                service.fire(
                    case_id,
                    "refer_to_mash",
                    on=day(5),
                    at=RECORDED_AT,
                    actor=OFFICER,
                    deliberate=True,  # the same day again and again (issue 15: said so)
                    reason="a referral for each new concern",
                )
            else:
                service.set_fact(
                    case_id,
                    "safeguarding_concern",
                    f"concern {n}",
                    on=day(5),
                    at=RECORDED_AT,
                    actor=OFFICER,
                )
    cases = [service.get(i) for i in ids]
    assert {c.state for c in cases} == {"reasonable_checks"}
    assert sum(c.seq for c in cases) == len(ids) * 2 + 2_000
    compiled = {id(service.process_for(c)) for c in cases}
    machines = {id(service.process_for(c).machine) for c in cases}
    assert len(compiled) == len(machines) == 1
    assert list(service.process_for(cases[0]).machine.models) == []
    service.store.dispose()


# -- the pinned version, read from the database -----------------------------------------------


def test_a_database_made_elsewhere_works_from_its_stored_process_text(
    db_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    maker = CaseService(open_store(db_url), registry)
    (case_id,) = maker.open_case(one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    maker.store.dispose()

    def no_registry() -> ProcessRegistry:
        raise AssertionError("the shipped processes were loaded")

    reader = CaseService(open_store(db_url), no_registry)
    try:
        case = reader.get(case_id)
        definition = reader.definition_for(case)
        assert definition.id == "untraceable_cme"
        assert "establishing_contact" in definition.states
        result = reader.fire(
            case_id, "contact_established", on=day(2), at=RECORDED_AT, actor=OFFICER
        )
        assert result.case.state == "supporting_to_school_place"
    finally:
        reader.store.dispose()


def test_an_edited_file_does_not_change_a_running_case(
    sqlite_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    """If the registry's text differs from the stored one, the stored text decides."""
    service = CaseService(open_store(sqlite_url), registry)
    (case_id,) = service.open_case(
        one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER
    )
    with service.store.engine.begin() as conn:
        stored = conn.execute(select(process_version_table.c.yaml_text)).scalar_one()
        edited = stored.replace(
            "title: Children Missing Education — tracing", "title: STORED TITLE — tracing"
        )
        conn.execute(
            text("UPDATE process_version SET yaml_text = :t, content_hash = 'x'"), {"t": edited}
        )
    fresh = CaseService(open_store(sqlite_url), registry)
    assert fresh.definition_for(fresh.get(case_id)).title.startswith("STORED TITLE")
    assert fresh.process_for(fresh.get(case_id)).definition.title.startswith("STORED TITLE")


def test_a_database_held_by_another_process_is_a_clear_conflict(
    sqlite_url: str, registry: ProcessRegistry, example_form: NotificationForm
) -> None:
    import sqlite3

    from sqlalchemy import event

    service = CaseService(open_store(sqlite_url), registry)
    (case_id,) = service.open_case(
        one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER
    )
    # Wait 50 ms for the lock instead of the usual 10 s.
    event.listen(
        service.store.engine,
        "connect",
        lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=50"),
    )
    service.store.engine.dispose()
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(
            ConcurrentUpdate, match="stayed busy with another command; nothing was written"
        ):
            service.add_note(case_id, "while locked", on=day(2), at=RECORDED_AT, actor=OFFICER)
        assert service.get(case_id).seq == 1  # reading does not wait for the writer
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    service.add_note(case_id, "after", on=day(2), at=RECORDED_AT, actor=OFFICER)
    assert service.get(case_id).seq == 2
    service.store.dispose()
