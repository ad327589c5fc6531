"""A sweep killed (SIGKILL) part-way through a large batch loses nothing and doubles nothing: after
a restart every due timer has fired exactly once and every hash chain verifies."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.cases.projection import GENESIS_HASH, replay
from engine.cases.service import Actor, CaseService
from engine.scheduling.sweep import sweep
from engine.store.database import open_store
from engine.store.tables import event_table, timer_table
from tests.conftest import RECORDED_AT
from tests.engine.scheduling.test_timers import OPENED, TIMER_KINDS, form, pending_due

UNTIL = dt.date(2024, 12, 3)  # Day 27: every case has 20 timers due
CASES = 150
SWEEPER = """
import datetime as dt, sys
from engine.language.registry import ProcessRegistry
from engine.cases.service import CaseService
from engine.store.database import open_store
from engine.scheduling.sweep import sweep
service = CaseService(open_store(sys.argv[1]), ProcessRegistry.from_package())
sweep(service, until=dt.date(2024, 12, 3), at=dt.datetime(2025, 9, 1, 9, tzinfo=dt.UTC),
      batch_size=500, progress=lambda r: print("committed", r.total, flush=True))
print("finished", flush=True)
"""


def _timer_events(service: CaseService) -> list[tuple[str, str]]:
    with service.store.read() as conn:
        rows = conn.execute(
            select(event_table.c.case_id, event_table.c.payload).where(
                event_table.c.kind.in_([str(k) for k in TIMER_KINDS])
            )
        ).all()
    return [(r.case_id, json.loads(r.payload)["data"]["key"]) for r in rows]


def _timer_rows(service: CaseService) -> dict[str, str]:
    with service.store.read() as conn:
        return {
            r.key: r.status for r in conn.execute(select(timer_table.c.key, timer_table.c.status))
        }


def test_a_sweep_killed_mid_batch_fires_every_due_timer_exactly_once_after_a_restart(
    tmp_path: Path, registry
) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    service = CaseService(open_store(url), registry)
    with service.batch():
        for n in range(CASES):
            service.open_case(
                form(OPENED, f"Child {n}"),
                on=OPENED,
                at=RECORDED_AT,
                actor=Actor("sona", "cme_officer"),
            )
    out = tmp_path / "sweeper.out"
    with out.open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-c", SWEEPER, url],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
        deadline = time.monotonic() + 120
        while "committed" not in out.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the sweeper ended before its first batch:\n{out.read_text()}")
            time.sleep(0.01)
        time.sleep(0.05)  # into the next batch of 500
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    printed = out.read_text()
    assert proc.returncode == -signal.SIGKILL
    assert "finished" not in printed, "the sweep finished before it could be killed"

    # After the kill: nothing half-fired. Every settled timer has its one event, every pending
    # timer has none, and what was kept is whole batches (the killed one rolled back).
    kept = _timer_events(service)
    statuses = _timer_rows(service)
    by_key = Counter(key for _, key in kept)
    assert set(by_key.values()) <= {1}
    assert {k for k, s in statuses.items() if s in ("fired", "lapsed")} == set(by_key)
    committed = [
        int(line.split()[1]) for line in printed.splitlines() if line.startswith("committed")
    ]
    assert len(kept) >= committed[-1]
    assert len(kept) < CASES * 20, "the kill came after the last batch"

    result = sweep(service, until=UNTIL, at=RECORDED_AT, batch_size=500)
    assert result.total == CASES * 20 - len(kept)
    everything = Counter(key for _, key in _timer_events(service))
    assert len(everything) == CASES * 20
    assert set(everything.values()) == {1}
    assert pending_due(service, UNTIL) == 0
    for n in range(1, CASES + 1):
        case_id = f"CME-{n:06d}"
        events = service.events(case_id)
        previous = GENESIS_HASH
        for seq, ev in enumerate(events, start=1):
            assert (ev.seq, ev.prev_hash) == (seq, previous)
            assert ev.compute_hash() == ev.hash
            previous = ev.hash
        assert replay(events).as_row() == service.get(case_id).as_row()
    service.store.dispose()
