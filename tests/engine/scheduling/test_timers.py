"""The sweep: due order, the due date as effective date, once only, late sweeps, cancelled timers,
escalations through the outbox, batches, and two sweepers at once on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from engine.cases.notification import NotificationForm, parse_form
from engine.cases.projection import EventKind, replay
from engine.cases.service import Actor, CaseService
from engine.errors import ConcurrentUpdate, InputError
from engine.scheduling.sweep import sweep
from engine.store.database import open_store
from engine.store.tables import event_table, outbox_table, timer_table
from tests.conftest import RECORDED_AT

D = dt.date
OFFICER = Actor("sona", "cme_officer")
OPENED = D(2024, 10, 21)
"""A Monday: Day 5 is Fri 25 Oct, half term 28 Oct – 1 Nov, Day 16 is 18 Nov, Day 26 2 Dec."""
TIMER_KINDS = (EventKind.timer_fired, EventKind.escalation, EventKind.timer_lapsed)


_BORN: dict[str, dt.date] = {"Ana Silva": dt.date(2015, 3, 14)}
"""Each child's birth date: a day of its own for each name this session."""


def form(on: dt.date, name: str = "Ana Silva") -> NotificationForm:
    """A one-child CME notification dated `on` (invented names). Another name is another child,
    born on a day of its own: one child has one open case (engine/cases/duplicates.py).
    """
    born = _BORN.setdefault(name, dt.date(2015, 3, 14) - dt.timedelta(days=len(_BORN)))
    return parse_form(
        {
            "date": on.isoformat(),
            "notifier": {"name": "Jo Adeyemi", "school_or_service": "Kentish Town Primary School"},
            "parent_carer": {"names": "Maria Silva", "contact_numbers": ["07700 900123"]},
            "children": [
                {
                    "full_name": name,
                    "date_of_birth": born.isoformat(),
                    "school": "Kentish Town Primary School",
                }
            ],
        }
    )


def timer_events(service: CaseService, case_id: str) -> list[tuple[str, str, dt.date]]:
    """(kind, timer id, effective date) of the case's timer events, in sequence order."""
    return [
        (str(e.kind), e.payload["data"]["timer"], e.effective_date)
        for e in service.events(case_id)
        if e.kind in TIMER_KINDS
    ]


def keys_fired(service: CaseService) -> Counter[str]:
    """How many events each timer key produced, over every case."""
    import json

    with service.store.read() as conn:
        rows = (
            conn.execute(
                select(event_table.c.payload).where(
                    event_table.c.kind.in_([str(k) for k in TIMER_KINDS])
                )
            )
            .scalars()
            .all()
        )
    return Counter(json.loads(p)["data"]["key"] for p in rows)


def pending_due(service: CaseService, until: dt.date) -> int:
    with service.store.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(timer_table)
                .where(timer_table.c.status == "pending", timer_table.c.due_date <= until)
            ).scalar_one()
        )


def test_an_untouched_case_reaches_day_26_with_each_step_on_its_due_date(service) -> None:
    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    result = sweep(service, until=D(2024, 12, 2), at=RECORDED_AT, keep_firings=True)
    steps = [(t, on) for kind, t, on in timer_events(service, case_id) if kind == "timer_fired"]
    assert steps == [
        ("reasonable_checks_starts", D(2024, 10, 25)),
        ("further_checks_starts", D(2024, 11, 18)),
        ("closure_decision_starts", D(2024, 12, 2)),
    ]
    case = service.get(case_id)
    # Nobody recorded a check, so the fifteen escalated checks keep the case overdue through
    # the scheduler's stage changes (they are still owed).
    assert (case.state, case.state_entered_on, case.overdue) == (
        "closure_decision",
        D(2024, 12, 2),
        True,
    )
    assert result.counts == {"fired": 3, "escalated": 4 + 7 + 4, "lapsed": 0, "cancelled": 0}
    assert (result.first_due, result.last_due) == (D(2024, 10, 22), D(2024, 12, 2))
    assert replay(service.events(case_id)).as_row() == case.as_row()


def test_a_sweep_a_week_late_fires_the_missed_steps_on_their_due_dates_in_order_once(
    service,
) -> None:
    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    week_late = dt.datetime(2024, 12, 9, 7, 0, tzinfo=dt.UTC)
    first = sweep(service, until=D(2024, 12, 9), at=week_late)
    events = [e for e in service.events(case_id) if e.kind in TIMER_KINDS]
    dates = [e.effective_date for e in events]
    assert dates == sorted(dates)  # in due order
    assert dates[0] == D(2024, 10, 22)
    assert dates[-1] == D(2024, 12, 3)
    assert all(e.recorded_at == week_late for e in events)  # recorded when the sweep ran
    # Timers armed by a firing and already due fired in the same sweep (Day 16 and 26 steps).
    assert [t for k, t, _ in timer_events(service, case_id) if k == "timer_fired"] == [
        "reasonable_checks_starts",
        "further_checks_starts",
        "closure_decision_starts",
    ]
    assert set(keys_fired(service).values()) == {1}
    assert first.total == len(events) == 3 + 15 + 2
    again = sweep(service, until=D(2024, 12, 9), at=week_late)
    assert again.total == 0
    assert again.batches == 0
    assert len(service.events(case_id)) == 1 + first.total


def test_cancelled_timers_do_not_fire_after_a_change_of_state(service) -> None:
    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.fire(case_id, "contact_established", on=D(2024, 10, 22), at=RECORDED_AT, actor=OFFICER)
    result = sweep(service, until=D(2024, 12, 13), at=RECORDED_AT)
    assert result.total == 0
    with service.store.read() as conn:
        rows = conn.execute(
            select(timer_table.c.timer_id, timer_table.c.status, timer_table.c.closed_seq).where(
                timer_table.c.case_id == case_id
            )
        ).all()
    cancelled = {r.timer_id for r in rows if r.status == "cancelled"}
    assert cancelled == {
        "core_information_checked_outstanding",
        "opened_on_cme_register_outstanding",
        "contact_attempted_by_phone_outstanding",
        "contact_attempted_by_email_outstanding",
        "reasonable_checks_starts",
    }
    assert {r.closed_seq for r in rows if r.status == "cancelled"} == {2}  # kept as records
    # The 8-week target (16 Dec) is still pending and fires on its day.
    assert sweep(service, until=D(2024, 12, 16), at=RECORDED_AT).counts["escalated"] == 1


def test_an_escalation_marks_the_case_overdue_and_notifies_the_role_through_the_outbox(
    service,
) -> None:
    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.record_check(
        case_id,
        "core_information_checked",
        on=OPENED,
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="all core information present",
    )
    sweep(service, until=D(2024, 10, 22), at=RECORDED_AT)
    # The check recorded on Day 1 withdrew its reminder; the other is escalated.
    assert timer_events(service, case_id) == [
        ("escalation", "opened_on_cme_register_outstanding", D(2024, 10, 22)),
    ]
    assert service.get(case_id).overdue
    escalation = service.events(case_id)[-1]
    assert escalation.payload["data"]["explanation"].startswith("Day 2 = 22 Oct 2024")
    with service.store.read() as conn:
        notes = conn.execute(
            select(outbox_table).where(
                outbox_table.c.case_id == case_id, outbox_table.c.template == "escalation"
            )
        ).all()
    assert [(n.recipient, n.event_seq, n.created_on, n.status) for n in notes] == [
        ("cme_officer", escalation.seq, D(2024, 10, 22), "pending")
    ]


def test_a_late_sweep_judges_outstanding_steps_on_the_checks_recorded_by_their_due_date(
    service,
) -> None:
    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    # Day 2's check recorded on time; Day 1's register entry only on Day 3, after its reminder
    # was due: the sweep, run on Day 4, escalates what was outstanding on Day 2.
    service.record_check(
        case_id,
        "core_information_checked",
        on=D(2024, 10, 22),
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="complete",
    )
    service.record_check(
        case_id,
        "opened_on_cme_register",
        on=D(2024, 10, 23),
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="on Impulse",
    )
    sweep(service, until=D(2024, 10, 22), at=dt.datetime(2024, 10, 24, 7, tzinfo=dt.UTC))
    # Recorded by its due date, the first reminder was withdrawn; the second was not.
    assert timer_events(service, case_id) == [
        ("escalation", "opened_on_cme_register_outstanding", D(2024, 10, 22)),
    ]


def test_a_step_due_before_an_officers_later_entry_still_takes_effect_on_its_due_date(
    service,
) -> None:
    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.add_note(
        case_id,
        "Neighbour says the family may be in Leeds",
        on=D(2024, 11, 5),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    sweep(service, until=D(2024, 11, 5), at=RECORDED_AT)
    case = service.get(case_id)
    assert (case.state, case.state_entered_on, case.last_effective) == (
        "reasonable_checks",
        D(2024, 10, 25),
        D(2024, 11, 5),
    )
    (fired,) = [e for e in service.events(case_id) if e.kind == EventKind.timer_fired]
    assert fired.effective_date == D(2024, 10, 25)


def test_max_firings_stops_between_batches_and_the_next_sweep_goes_on(service) -> None:
    for n in range(3):
        service.open_case(form(OPENED, f"Child {n}"), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    part = sweep(service, until=D(2024, 10, 23), at=RECORDED_AT, batch_size=2, max_firings=5)
    assert (part.total, part.stopped_early) == (5, True)
    rest = sweep(service, until=D(2024, 10, 23), at=RECORDED_AT, batch_size=2)
    # Two Day 1 escalations per case are due by Day 3 (the Day 1–3 ones fall on Day 4).
    assert (rest.total, rest.stopped_early) == (3 * 2 - 5, False)
    assert pending_due(service, D(2024, 10, 23)) == 0


def test_progress_is_reported_after_each_committed_batch(service) -> None:
    for n in range(3):
        service.open_case(form(OPENED, f"Child {n}"), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    seen: list[int] = []
    sweep(
        service,
        until=D(2024, 10, 22),
        at=RECORDED_AT,
        batch_size=4,
        progress=lambda r: seen.append(r.total),
    )
    assert seen == [4, 6]


def test_a_sweep_for_a_future_date_is_refused_before_anything_is_written(service) -> None:
    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    with pytest.raises(InputError, match="after the time this sweep is recorded"):
        sweep(service, until=D(2024, 10, 25), at=dt.datetime(2024, 10, 23, 7, tzinfo=dt.UTC))
    assert len(service.events(case_id)) == 1


def test_a_timer_already_dealt_with_is_skipped_and_nothing_is_written(service) -> None:
    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    with service.store.read() as conn:
        row = dict(
            conn.execute(
                select(timer_table).where(
                    timer_table.c.timer_id == "opened_on_cme_register_outstanding"
                )
            )
            .one()
            ._mapping
        )
    with service.batch() as conn:
        assert service.fire_timer_in(conn, row, at=RECORDED_AT) == "fired"
    with service.batch() as conn:
        assert service.fire_timer_in(conn, row, at=RECORDED_AT) == "skipped"
    assert len(service.events(case_id)) == 2


def test_a_queued_write_that_touches_no_row_rolls_the_batch_back(service) -> None:
    from engine.scheduling.sweep import _WriteBehind

    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    with service.store.read() as conn:
        row = dict(
            conn.execute(
                select(timer_table).where(
                    timer_table.c.timer_id == "opened_on_cme_register_outstanding"
                )
            )
            .one()
            ._mapping
        )

    def fire_while_someone_settles_it() -> None:
        with service.batch() as conn:
            writer = _WriteBehind(conn)
            service.fire_timer_in(writer, row, at=RECORDED_AT)
            # Someone settles the same timer before the queue is sent: its claim touches no row.
            conn.execute(
                timer_table.update()
                .where(timer_table.c.key == row["key"])
                .values(status="cancelled")
            )
            writer.flush()

    with pytest.raises(ConcurrentUpdate, match="rolled back"):
        fire_while_someone_settles_it()
    assert len(service.events(case_id)) == 1
    assert service.get(case_id).seq == 1


@pytest.mark.postgres
def test_two_sweepers_at_once_on_postgresql_fire_each_timer_exactly_once(pg_url, registry) -> None:
    setup = CaseService(open_store(pg_url), registry)
    with setup.batch():
        for n in range(40):
            setup.open_case(form(OPENED, f"Child {n}"), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    results = []
    barrier = threading.Barrier(2)

    def sweeper() -> None:
        svc = CaseService(open_store(pg_url), registry)
        barrier.wait()
        results.append(sweep(svc, until=D(2024, 12, 3), at=RECORDED_AT, batch_size=25))
        svc.store.dispose()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fired = keys_fired(setup)
    assert len(fired) == 40 * 20
    assert set(fired.values()) == {1}
    assert sum(r.total for r in results) == 40 * 20
    assert all(r.total > 0 for r in results)  # the work was shared
    assert pending_due(setup, D(2024, 12, 3)) == 0
    for n in (1, 17, 40):
        case_id = f"CME-{n:06d}"
        assert replay(setup.events(case_id)).as_row() == setup.get(case_id).as_row()
    setup.store.dispose()
