"""Timers are rows, not APScheduler jobs: immune to the three failures its documentation warns of.

APScheduler's own documentation says that sharing a job store between processes runs jobs twice
or not at all, that a job killed mid-run is lost, and that a job missed while the scheduler was
down past its grace time is dropped with a warning. Here: two sweepers on one store fire each
timer exactly once; a sweeper killed mid-batch loses nothing (the batch rolls back and the next
sweep fires it once); and a week of downtime is caught up on the first sweep, each step taking
effect on its own due date, in due order.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.cases.service import Actor, CaseService
from engine.language.registry import ProcessRegistry
from engine.scheduling.sweep import sweep
from engine.store.database import open_store
from engine.store.tables import event_table, timer_table
from tests.reliability.invariants import timer_events, verify_all, verify_timers_fired_once

ROOT = Path(__file__).resolve().parents[2]
RECORDED_AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
OPENED = dt.date(2024, 10, 21)
UNTIL = dt.date(2024, 12, 6)
_REGISTRY: ProcessRegistry | None = None


def _cases(db_url: str, registry: ProcessRegistry, form, count: int) -> None:
    store = open_store(db_url)
    service = CaseService(store, registry)
    for _ in range(count):
        # The same form again and again: opened anyway (one child, one open case otherwise).
        service.open_case(
            form,
            on=OPENED,
            at=RECORDED_AT,
            actor=Actor("sona", "cme_officer"),
            override_reason="load: the same form again",
        )
    store.dispose()


def _pending_due(db_url: str, until: dt.date) -> list[str]:
    store = open_store(db_url, upgrade=False)
    with store.engine.connect() as conn:
        keys = [
            r.key
            for r in conn.execute(
                select(timer_table.c.key).where(
                    timer_table.c.status == "pending", timer_table.c.due_date <= until
                )
            )
        ]
    store.dispose()
    return keys


def _sweeper(db_url: str) -> dict[str, int]:
    store = open_store(db_url, upgrade=False)
    service = CaseService(store, _REGISTRY or ProcessRegistry.from_package())
    counts = sweep(service, until=UNTIL, at=RECORDED_AT, batch_size=2).counts
    store.dispose()
    return counts


def test_two_sweepers_on_one_store_fire_each_timer_exactly_once(
    db_url: str, registry: ProcessRegistry, example_form
) -> None:
    global _REGISTRY
    _cases(db_url, registry, example_form, 6)
    _REGISTRY = registry
    with multiprocessing.get_context("fork").Pool(3) as pool:
        results = pool.map(_sweeper, [db_url] * 3)
    acted = sum(sum(r.values()) for r in results)
    store = open_store(db_url)
    fired = verify_timers_fired_once(store)
    verify_all(store)
    store.dispose()
    assert acted == fired, "each timer was acted on by exactly one sweeper"
    assert fired > 12
    assert _pending_due(db_url, UNTIL) == [], "no due timer was left behind"


def test_a_sweeper_killed_mid_batch_loses_no_timer(
    sqlite_url: str, registry: ProcessRegistry, example_form, tmp_path: Path
) -> None:
    _cases(sqlite_url, registry, example_form, 4)
    due_before = set(_pending_due(sqlite_url, UNTIL))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # Dies just before committing its third batch (of three timers each).
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.reliability.sweep_worker",
            sqlite_url,
            UNTIL.isoformat(),
            "3",
            "commit:3:before",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = open_store(sqlite_url)
    verify_all(store)
    acted_before_crash = len(timer_events(store))
    assert acted_before_crash == 6, "two batches of three committed; the third rolled back"
    # The third batch's timers were rolled back with it: still pending, not lost.
    assert set(_pending_due(sqlite_url, UNTIL)) & due_before
    # The restart: the next sweep fires what the killed one was doing, once.
    result = sweep(CaseService(store, registry), until=UNTIL, at=RECORDED_AT, batch_size=3)
    assert result.total > 0
    verify_all(store)
    assert _pending_due(sqlite_url, UNTIL) == []
    store.dispose()


def test_a_week_of_downtime_is_caught_up_on_each_due_date_in_order(
    db_url: str, registry: ProcessRegistry, example_form
) -> None:
    _cases(db_url, registry, example_form, 2)
    store = open_store(db_url)
    service = CaseService(store, registry)
    sweep(service, until=dt.date(2024, 10, 25), at=RECORDED_AT)
    # Day 16 (18 Nov): the Day 5–15 checks' escalations and the next stage's start.
    missed = _pending_due(db_url, dt.date(2024, 11, 18))
    assert missed, "timers fell due while nothing swept"
    # Down for over three weeks; the first sweep afterwards is recorded on 19 November.
    result = sweep(
        service,
        until=dt.date(2024, 11, 19),
        at=dt.datetime(2024, 11, 19, 7, 0, tzinfo=dt.UTC),
        keep_firings=True,
    )
    assert {f.key for f in result.firings} >= set(missed), "no missed timer was dropped"
    dues = [f.due_date for f in result.firings]
    assert dues == sorted(dues), "caught up in due order"
    with store.engine.connect() as conn:
        rows = conn.execute(select(event_table.c.payload, event_table.c.effective_date)).all()
    effective = {json.loads(p)["data"].get("key"): e for p, e in rows}
    for f in result.firings:
        assert str(effective[f.key])[:10] == f.due_date.isoformat(), (
            f"{f.key} took effect on the sweep's day, not its due date {f.due_date}"
        )
    verify_all(store)
    store.dispose()


def test_a_timer_whose_step_cannot_be_taken_does_not_stall_the_others(
    db_url: str, registry: ProcessRegistry, example_form, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the crash suite: a case near the end of the calendar's last school year entered
    # a state whose next deadline the calendar cannot place, the sweep raised, and every later
    # sweep stalled on the same timer, so no case's timers fired any more.
    # Opening now refuses such a case at once; cases opened by a release before that check (or
    # before a calendar was shortened) still reach the sweep, so open them as that release did,
    # on its fallback calendar london-2024-25, whose last school year is 2024-25.
    monkeypatch.setattr(
        "engine.cases.opening.refuse_unplaceable_case", lambda *args, **kwargs: None
    )
    store = open_store(db_url)
    service = CaseService(store, registry)
    for day in (dt.date(2025, 6, 2), dt.date(2025, 6, 18), dt.date(2025, 6, 27)):
        form = example_form.model_copy(update={"date": day})
        service.open_case(
            form,
            on=day,
            at=RECORDED_AT,
            actor=Actor("sona", "cme_officer"),
            calendar="london-2024-25",
            override_reason="the same children, notified again in June",
        )
    until = dt.date(2025, 7, 18)
    result = sweep(service, until=until, at=RECORDED_AT, batch_size=4)
    assert result.blocked, "some step's deadline falls past the calendar"
    assert all("runs past the end of school year 2024-25" in why for why in result.blocked.values())
    assert result.total > 0, "the other timers fired"
    assert set(_pending_due(db_url, until)) == set(result.blocked), "only those stay pending"
    again = sweep(service, until=until, at=RECORDED_AT)
    assert set(again.blocked) == set(result.blocked)
    assert again.total == 0
    verify_all(store)
    store.dispose()
