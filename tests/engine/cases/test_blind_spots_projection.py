"""The officer a case is assigned to, as the projection keeps it: set on opening, changed by any
event that carries `assigned_officer` (a reassignment), and kept by every event that does not.

No command reassigns a case today (only `opened` writes the field), but `apply` honours the key
on any event, so a history holding one must replay to the same officer the row shows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from engine.cases.projection import (
    GENESIS_HASH,
    CaseEvent,
    CaseState,
    EventKind,
    apply,
    replay,
)
from engine.cases.service import Actor, CaseService
from engine.cases.views import case_summary
from engine.time.calendars import load_calendar
from tests.conftest import RECORDED_AT
from tests.engine.scheduling.test_timers import form

D = dt.date
CAL = load_calendar("london-2024-25")
OPENED = D(2024, 10, 21)

# Each later event kind with the data its writers give it, none naming an officer.
LATER: list[tuple[EventKind, dict[str, Any]]] = [
    (EventKind.check_recorded, {"check": "mash_check", "wording": "MASH checked"}),
    (EventKind.fact_changed, {"facts": {"destination_la": "Barnet"}, "previous": None}),
    (
        EventKind.trigger,
        {
            "trigger": "start_reasonable_checks",
            "from_state": "establishing_contact",
            "to_state": "reasonable_checks",
            "terminal": False,
            "stops_clock": False,
            "actions": [],
        },
    ),
    (
        EventKind.escalation,
        {"timer": "t", "key": "CME-000001:4:t", "to_role": "line_manager", "message": "overdue"},
    ),
    (EventKind.note, {}),
    (EventKind.timer_lapsed, {"timer": "t", "key": "CME-000001:4:t", "because": ["x"]}),
    (EventKind.legal_hold, {"hold": True, "reason": "court order"}),
    (
        EventKind.migration,
        {"from_version": 1, "to_version": 2, "mapping": "same stages", "actions": []},
    ),
]


def _events(
    opening: dict[str, Any], later: list[tuple[EventKind, dict[str, Any]]]
) -> list[CaseEvent]:
    out: list[CaseEvent] = []
    steps = [
        (EventKind.opened, {"state": "establishing_contact", "calendar": CAL.name, **opening}),
        *later,
    ]
    for seq, (kind, data) in enumerate(steps, start=1):
        out.append(
            CaseEvent(
                case_id="CME-000001",
                seq=seq,
                effective_date=OPENED + dt.timedelta(days=seq // 3),
                recorded_at=RECORDED_AT,
                actor="sona",
                role="cme_officer",
                kind=kind,
                payload={"data": data},
                process_id="untraceable_cme",
                process_version=1,
                rule=None,
                prev_hash=out[-1].hash if out else GENESIS_HASH,
            ).sealed()
        )
    return out


def _officers(events: list[CaseEvent]) -> list[str | None]:
    """The assigned officer after each event."""
    case: CaseState | None = None
    seen = []
    for ev in events:
        case = apply(case, ev)
        seen.append(case.assigned_officer)
    return seen


def test_the_officer_set_on_opening_survives_every_later_kind_of_event() -> None:
    events = _events({"assigned_officer": "sona"}, LATER)
    assert _officers(events) == ["sona"] * len(events)
    case = replay(events)
    assert (case.overdue, case.legal_hold, case.process_version) == (True, True, 2)
    # The stored row gives back the same case, officer and hold included.
    assert CaseState.from_row(case.as_row()) == case
    with pytest.raises(dataclasses.FrozenInstanceError):
        case.assigned_officer = "kai"  # type: ignore[misc]


def test_a_case_opened_without_an_officer_has_none_until_one_is_assigned() -> None:
    events = _events({}, [*LATER[:2], (EventKind.note, {"assigned_officer": "kai"}), *LATER[2:]])
    assert _officers(events) == [None, None, None] + ["kai"] * (len(events) - 3)


def test_a_reassignment_on_any_event_changes_the_officer_and_later_events_keep_it() -> None:
    step_and_reassign = dict(LATER[2][1], assigned_officer="kai")
    later = [
        LATER[0],
        (EventKind.trigger, step_and_reassign),
        LATER[3],
        (EventKind.fact_changed, {"facts": {"x": 1}, "previous": None, "assigned_officer": "lee"}),
        LATER[4],
        LATER[6],
    ]
    events = _events({"assigned_officer": "sona"}, later)
    assert _officers(events) == ["sona", "sona", "kai", "kai", "lee", "lee", "lee"]
    case = replay(events)
    assert case.state == "reasonable_checks"  # the step that reassigned was still taken
    assert case.facts == {"x": 1}
    assert case.as_row()["assigned_officer"] == "lee"


def test_the_officer_through_the_commands(service: CaseService) -> None:
    sona = Actor("sona", "cme_officer")
    (own,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=sona)
    (given,) = service.open_case(
        form(OPENED, name="Ben Silva"),
        on=OPENED,
        at=RECORDED_AT,
        actor=sona,
        assigned_officer="kai",
    )
    assert service.get(own).assigned_officer == "sona"
    assert service.get(given).assigned_officer == "kai"
    # Another officer's steps on the case do not take it over.
    service.record_check(
        given,
        "contact_attempted_by_phone",
        on=D(2024, 10, 22),
        at=RECORDED_AT,
        actor=sona,
        outcome="no answer",
    )
    service.add_note(given, "called school", on=D(2024, 10, 22), at=RECORDED_AT, actor=sona)
    service.fire(given, "start_reasonable_checks", on=D(2024, 10, 25), at=RECORDED_AT, actor=sona)
    assert service.get(given).assigned_officer == "kai"
    assert replay(service.events(given)).assigned_officer == "kai"
    assert case_summary(service, given, on=D(2024, 10, 25))["assigned_officer"] == "kai"


def test_a_newly_opened_case_is_neither_overdue_nor_held_nor_closed() -> None:
    (opened,) = _events({"assigned_officer": "sona"}, [])
    case = apply(None, opened)
    assert (case.overdue, case.legal_hold, case.terminal, case.closed_on) == (
        False,
        False,
        False,
        None,
    )
    assert (case.checks, case.pauses, case.personal) == ({}, [], {})
