"""Concurrency: N processes firing steps and recording checks and notes on the same few cases.

With `expected_seq` (an officer acting on what they last saw) every overlap must come back as a
ConcurrentUpdate to the one who lost, never as a lost or doubled write; without it, the row lock
serialises the writers and every command lands. Either way each case's events are exactly the
commands that succeeded, and every chain verifies.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections import Counter

import pytest
from sqlalchemy import func, select

from engine.cases.service import Actor, CaseService
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from engine.store.tables import event_table
from tests.reliability import race_worker
from tests.reliability.invariants import verify_all
from tests.reliability.race_worker import RECORDED_AT, hammer

WORKERS = 4
ROUNDS = 25


def _setup(db_url: str, registry: ProcessRegistry, example_form) -> list[str]:
    store = open_store(db_url)
    service = CaseService(store, registry)
    ids = service.open_case(
        example_form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=Actor("sona", "cme_officer")
    )
    ids += service.open_case(
        example_form,
        on=dt.date(2024, 10, 21),
        at=RECORDED_AT,
        actor=Actor("sona", "cme_officer"),
        override_reason="a third case for the writers to race on",
    )[:1]
    for case_id in ids:  # so involve_police, an interrupt that stays in the state, is allowed
        service.set_fact(
            case_id,
            "crime_suspected",
            True,
            on=dt.date(2024, 10, 21),
            at=RECORDED_AT,
            actor=Actor("sona", "cme_officer"),
        )
        # Recorded once here, so the writers' records of it are amendments (issue 15).
        service.record_check(
            case_id,
            "contact_attempted_by_phone",
            on=dt.date(2024, 10, 21),
            at=RECORDED_AT,
            actor=Actor("sona", "cme_officer"),
            outcome="no answer",
        )
    store.dispose()
    return ids


@pytest.mark.parametrize("expect", [True, False], ids=["expected-seq", "no-expectation"])
def test_racing_writers_lose_nothing_and_hear_of_every_conflict(
    db_url: str, registry, example_form, expect: bool
) -> None:
    case_ids = _setup(db_url, registry, example_form)
    race_worker.REGISTRY = registry
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(WORKERS) as pool:
        results = pool.map(
            hammer, [(db_url, case_ids, seed, ROUNDS, expect) for seed in range(WORKERS)]
        )
    done = [d for r in results for d in r["done"]]
    conflicts = [c for r in results for c in r["conflicts"]]
    refused = [f for r in results for f in r["refused"]]
    print(f"\n{WORKERS} writers x {ROUNDS}: {len(done)} written, {len(conflicts)} conflicts")
    assert refused == [], refused[:3]
    assert len(done) + len(conflicts) == WORKERS * ROUNDS, "every attempt has an answer"
    if expect:
        assert conflicts, "overlapping writers with expected_seq met no conflict at all"
        assert all("nothing was written" in c for c in conflicts)
    else:
        assert conflicts == [], "the row lock serialises writers that expect nothing"
    # Nothing lost, nothing doubled: each success is its own event, one per (case, seq).
    assert len({(c, s) for c, s, _ in done}) == len(done)
    store = open_store(db_url)
    with store.engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                select(event_table.c.case_id, func.count()).group_by(event_table.c.case_id)
            ).all()
        )
        hashes = {
            (r.case_id, r.seq): r.hash
            for r in conn.execute(
                select(event_table.c.case_id, event_table.c.seq, event_table.c.hash)
            )
        }
    per_case = Counter(c for c, _, _ in done)
    for case_id in case_ids:
        assert counts[case_id] == 3 + per_case[case_id], case_id  # opened, fact, check, ours
    assert all(hashes[(c, s)] == h for c, s, h in done), "a reported event is not the stored one"
    assert verify_all(store) == 4  # the three raced cases and the fourth sibling
    store.dispose()
