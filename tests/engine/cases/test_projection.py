"""Events and the case they add up to: the canonical text, the hash chain, `apply`, and replay
reproducing the stored case row after every step (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select, update

from engine.cases.notification import NotificationForm, parse_form
from engine.cases.projection import (
    GENESIS_HASH,
    CaseEvent,
    CaseState,
    EventKind,
    apply,
    canonical_json,
    replay,
)
from engine.cases.reading import event_from_row
from engine.cases.service import Actor, CaseService
from engine.store.tables import case_table, event_table
from engine.time.calendars import load_calendar
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
SEN = Actor("priya", "sen_service")
OPENED = dt.date(2024, 10, 21)
CAL = load_calendar("london-2024-25")


def day(n: int) -> dt.date:
    return CAL.school_day_n(OPENED, n)


def event(
    seq: int,
    kind: EventKind,
    data: dict[str, Any],
    *,
    prev: str = GENESIS_HASH,
    on: dt.date = OPENED,
    personal: dict[str, Any] | None = None,
) -> CaseEvent:
    payload: dict[str, Any] = {"data": data}
    if personal is not None:
        payload["personal"] = personal
    return CaseEvent(
        case_id="CME-000001",
        seq=seq,
        effective_date=on,
        recorded_at=RECORDED_AT,
        actor="sona",
        role="cme_officer",
        kind=kind,
        payload=payload,
        process_id="untraceable_cme",
        process_version=1,
        rule=None,
        prev_hash=prev,
    ).sealed()


def opened_event(**data: Any) -> CaseEvent:
    return event(
        1,
        EventKind.opened,
        {
            "state": "establishing_contact",
            "calendar": CAL.name,
            "facts": {"ehc_plan": False},
            **data,
        },
        personal={"child": {"full_name": "Ana Silva"}},
    )


# -- canonical text and hashes ----------------------------------------------------------------


def test_canonical_json_is_one_spelling() -> None:
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})


def test_the_hash_covers_every_field_and_the_previous_hash() -> None:
    ev = opened_event()
    assert ev.hash == ev.compute_hash()
    assert len(ev.hash) == 64
    changes: tuple[dict[str, Any], ...] = (
        {"actor": "kai"},
        {"role": "line_manager"},
        {"seq": 2},
        {"effective_date": day(2)},
        {"payload": {"data": {}}},
        {"rule": "r"},
        {"prev_hash": "1" * 64},
        {"process_version": 2},
        {"recorded_at": RECORDED_AT + dt.timedelta(seconds=1)},
    )
    for change in changes:
        assert replace(ev, **change).compute_hash() != ev.hash, change


def test_a_recorded_time_hashes_the_same_with_or_without_its_zone() -> None:
    """SQLite hands back naive UTC, PostgreSQL an aware time: one instant, one hash."""
    aware = opened_event()
    naive = replace(aware, recorded_at=RECORDED_AT.replace(tzinfo=None))
    other_zone = replace(
        aware, recorded_at=RECORDED_AT.astimezone(dt.timezone(dt.timedelta(hours=1)))
    )
    assert naive.compute_hash() == aware.hash == other_zone.compute_hash()


# -- apply ------------------------------------------------------------------------------------


def test_opened_starts_the_case_on_day_1() -> None:
    ev = opened_event(sibling_group="CME-000001", assigned_officer="sona")
    case = apply(None, ev)
    assert (case.state, case.opened_on, case.state_entered_on, case.seq, case.head_hash) == (
        "establishing_contact",
        OPENED,
        OPENED,
        1,
        ev.hash,
    )
    assert case.facts == {"ehc_plan": False}
    assert case.personal == {"child": {"full_name": "Ana Silva"}}
    assert (case.sibling_group, case.assigned_officer, case.terminal) == (
        "CME-000001",
        "sona",
        False,
    )


def test_personal_facts_and_outcomes_merge_and_a_note_replaces() -> None:
    case = apply(None, opened_event())
    steps: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"personal_fact": "safeguarding_concern"}, {"facts": {"safeguarding_concern": "a"}}),
        (
            {"personal_fact": "left_the_country_evidence"},
            {"facts": {"left_the_country_evidence": "b"}},
        ),
        ({"check": "mash_check", "wording": "w"}, {"check_outcomes": {"mash_check": "known"}}),
        ({}, {"last_note": "first"}),
        ({}, {"last_note": "second"}),
    ]
    kinds = [
        EventKind.fact_changed,
        EventKind.fact_changed,
        EventKind.check_recorded,
        EventKind.note,
        EventKind.note,
    ]
    for seq, (kind, (data, personal)) in enumerate(zip(kinds, steps, strict=True), start=2):
        case = apply(
            case, event(seq, kind, data, prev=case.head_hash, on=day(2), personal=personal)
        )
    assert case.personal["facts"] == {"safeguarding_concern": "a", "left_the_country_evidence": "b"}
    assert case.personal["last_note"] == "second"
    assert case.checks == {"mash_check": {"on": "2024-10-22"}}
    assert case.check_outcome("mash_check") == "known"
    assert case.all_facts() == {
        "ehc_plan": False,
        "safeguarding_concern": "a",
        "left_the_country_evidence": "b",
    }
    assert case.facts == {"ehc_plan": False}


def test_an_older_check_event_keeps_its_outcome_in_the_data() -> None:
    case = apply(None, opened_event())
    case = apply(
        case,
        event(
            2,
            EventKind.check_recorded,
            {"check": "mash_check", "outcome": "not known"},
            prev=case.head_hash,
        ),
    )
    assert case.check_outcome("mash_check") == "not known"


def test_moving_pauses_and_restarts_the_clock() -> None:
    case = apply(None, opened_event())
    move = {
        "trigger": "refer_to_sen_service",
        "from_state": "supporting_to_school_place",
        "to_state": "sen_service_leading",
        "stops_clock": True,
    }
    case = apply(case, event(2, EventKind.trigger, move, prev=case.head_hash, on=day(3)))
    assert case.pauses == [["2024-10-23", None]]
    back = {
        "trigger": "placed_by_sen_service",
        "from_state": "sen_service_leading",
        "to_state": "placed",
        "terminal": True,
    }
    case = apply(case, event(3, EventKind.trigger, back, prev=case.head_hash, on=day(8)))
    assert case.pauses == [["2024-10-23", "2024-11-06"]]  # Day 3 to Day 8
    assert (case.terminal, case.closed_on, case.state_entered_on) == (True, day(8), day(8))
    # The days strictly between entering and leaving do not count.
    assert case.paused_ranges() == [(dt.date(2024, 10, 24), dt.date(2024, 11, 5))]


def test_an_interrupt_stays_and_an_escalation_marks_overdue_until_the_case_moves() -> None:
    case = apply(None, opened_event())
    told = {
        "timer": "day_10",
        "key": "CME-1:2:day_10",
        "to_role": "line_manager",
        "message": "Day 10 passed",
    }
    case = apply(case, event(2, EventKind.escalation, told, prev=case.head_hash, on=day(3)))
    assert case.overdue
    stay = {
        "trigger": "refer_to_mash",
        "from_state": "establishing_contact",
        "to_state": "establishing_contact",
        "stays": True,
    }
    case = apply(case, event(3, EventKind.trigger, stay, prev=case.head_hash, on=day(4)))
    assert (case.state_entered_on, case.overdue, case.last_effective) == (OPENED, True, day(4))
    move = {
        "trigger": "start_reasonable_checks",
        "from_state": "establishing_contact",
        "to_state": "reasonable_checks",
    }
    case = apply(case, event(4, EventKind.trigger, move, prev=case.head_hash, on=day(5)))
    assert (case.state, case.state_entered_on, case.overdue) == ("reasonable_checks", day(5), False)


def test_a_purge_empties_the_personal_part_and_a_migration_repins() -> None:
    case = apply(None, opened_event())
    repin = {"from_version": 1, "to_version": 2, "mapping": "establishing_contact (same name)"}
    case = apply(case, event(2, EventKind.migration, repin, prev=case.head_hash))
    assert case.process_version == 2
    purge = {
        "rule": "closed_cme_cases",
        "reason": "kept 6 years",
        "source": "IRMS",
        "closed_more_than_years": 6,
        "documents_emptied": 0,
    }
    case = apply(case, event(3, EventKind.purge, purge, prev=case.head_hash))
    assert case.personal == {}


def test_replay_needs_an_opened_event() -> None:
    with pytest.raises(ValueError, match="at least its opened event"):
        replay([])


def test_a_row_round_trips() -> None:
    case = apply(None, opened_event(sibling_group="CME-000001"))
    assert CaseState.from_row(case.as_row()) == case


# -- the real thing, on both databases ---------------------------------------------------------


def _one_child(form: NotificationForm, **child: Any) -> NotificationForm:
    data = form.model_dump(mode="json")
    data["children"] = [{**data["children"][0], **child}]
    return parse_form(data)


def _stored(service: CaseService, case_id: str) -> CaseState:
    with service.store.read() as conn:
        row = conn.execute(select(case_table).where(case_table.c.id == case_id)).one()
    return CaseState.from_row(row)


def _chain_ok(events: list[CaseEvent]) -> None:
    prev = GENESIS_HASH
    for ev in events:
        assert ev.prev_hash == prev, f"event {ev.seq} does not link to event {ev.seq - 1}"
        assert ev.compute_hash() == ev.hash, f"event {ev.seq} does not match its hash"
        prev = ev.hash


def test_every_step_replays_to_the_stored_row_and_the_chain_verifies(
    service: CaseService, example_form: NotificationForm
) -> None:
    (case_id,) = service.open_case(
        _one_child(example_form, ehc_plan=True), on=OPENED, at=RECORDED_AT, actor=OFFICER
    )
    steps = [
        lambda: service.record_check(
            case_id,
            "contact_attempted_by_phone",
            on=day(2),
            at=RECORDED_AT,
            actor=OFFICER,
            outcome="no answer",
        ),
        lambda: service.set_fact(
            case_id,
            "safeguarding_concern",
            "child not seen",
            on=day(2),
            at=RECORDED_AT,
            actor=OFFICER,
        ),
        lambda: service.fire(
            case_id,
            "refer_to_mash",
            on=day(2),
            at=RECORDED_AT,
            actor=OFFICER,
            note="seen by neighbour",
        ),
        lambda: service.add_note(
            case_id, "called school", on=day(3), at=RECORDED_AT, actor=OFFICER
        ),
        lambda: service.fire(
            case_id, "contact_established", on=day(3), at=RECORDED_AT, actor=OFFICER
        ),
        lambda: service.fire(
            case_id, "refer_to_sen_service", on=day(4), at=RECORDED_AT, actor=OFFICER
        ),
        lambda: service.set_fact(
            case_id,
            "placement_provision",
            "Argyle Primary School",
            on=day(9),
            at=RECORDED_AT,
            actor=SEN,
        ),
        lambda: service.fire(
            case_id, "placed_by_sen_service", on=day(9), at=RECORDED_AT, actor=SEN
        ),
    ]
    for step in steps:
        step()
        events = service.events(case_id)
        _chain_ok(events)
        assert replay(events) == _stored(service, case_id)
    case = _stored(service, case_id)
    assert (case.state, case.terminal, case.seq) == ("placed", True, len(steps) + 1)
    assert case.pauses == [[day(4).isoformat(), day(9).isoformat()]]


def test_an_altered_event_no_longer_verifies(
    service: CaseService, example_form: NotificationForm
) -> None:
    (case_id,) = service.open_case(
        _one_child(example_form), on=OPENED, at=RECORDED_AT, actor=OFFICER
    )
    service.set_fact(case_id, "crime_suspected", "false", on=day(2), at=RECORDED_AT, actor=OFFICER)
    service.set_fact(case_id, "destination_la", "Barnet", on=day(2), at=RECORDED_AT, actor=OFFICER)
    with service.store.engine.begin() as conn:
        conn.execute(
            update(event_table)
            .where(event_table.c.seq == 2)
            .values(payload='{"data":{"facts":{"crime_suspected":true}}}')
        )
        rows = conn.execute(
            select(event_table).where(event_table.c.case_id == case_id).order_by(event_table.c.seq)
        ).all()
    events = [event_from_row(r) for r in rows]
    with pytest.raises(AssertionError, match="event 2 does not match its hash"):
        _chain_ok(events)
    # Recomputing that event's hash to hide the change breaks the link to the next one.
    events[1] = events[1].sealed()
    with pytest.raises(AssertionError, match="event 3 does not link to event 2"):
        _chain_ok(events)
