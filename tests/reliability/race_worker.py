"""One of N processes hammering the same few cases: what the concurrency test runs in each.

Kept apart from the test module. The pool forks after the parent has loaded the processes
(`REGISTRY`), so each worker starts at once; it opens its own database connections.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

RECORDED_AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
ON = dt.date(2024, 10, 22)
REGISTRY: Any = None
"""The compiled processes, set by the parent before it forks (loaded afresh if not)."""


def hammer(args: tuple[str, list[str], int, int, bool]) -> dict[str, Any]:
    """Do `rounds` commands on random cases; report successes, conflicts and anything else."""
    db_url, case_ids, seed, rounds, expect = args
    from engine.cases.service import Actor, CaseService
    from engine.errors import CMEError, ConcurrentUpdate
    from engine.language.registry import ProcessRegistry
    from engine.store.database import open_store

    rng = random.Random(seed)
    store = open_store(db_url, upgrade=False)
    service = CaseService(store, REGISTRY or ProcessRegistry.from_package())
    actor = Actor(f"officer-{seed}", "cme_officer")
    done: list[tuple[str, int, str]] = []
    conflicts: list[str] = []
    refused: list[str] = []
    for n in range(rounds):
        case_id = rng.choice(case_ids)
        seq = service.get(case_id).seq
        # A pause between reading and writing, as a person would take, so writers overlap.
        time.sleep(rng.uniform(0, 0.004))
        kind = rng.choice(("note", "check", "fire"))
        try:
            if kind == "fire":
                # An interrupt that keeps the case where it is, so every fire is allowed (taken
                # again the same day, so said to be deliberate).
                result = service.fire(
                    case_id,
                    "involve_police",
                    on=ON,
                    at=RECORDED_AT,
                    actor=actor,
                    expected_seq=seq if expect else None,
                    deliberate=True,
                    reason=f"race {seed}/{n}",
                )
            elif kind == "note":
                result = service.add_note(
                    case_id,
                    f"note {seed}/{n}",
                    on=ON,
                    at=RECORDED_AT,
                    actor=actor,
                    expected_seq=seq if expect else None,
                )
            else:
                result = service.record_check(
                    case_id,
                    "contact_attempted_by_phone",
                    on=ON,
                    at=RECORDED_AT,
                    actor=actor,
                    outcome=f"{seed}/{n}",
                    expected_seq=seq if expect else None,
                    amend=True,  # recorded once by the set-up: each record is an amendment
                    reason=f"race {seed}/{n}",
                )
            done.append((case_id, result.event.seq, result.event.hash))
        except ConcurrentUpdate as exc:
            conflicts.append(str(exc))
        except CMEError as exc:  # anything else is a refusal the test will show
            refused.append(f"{type(exc).__name__}: {exc}")
    store.dispose()
    return {"done": done, "conflicts": conflicts, "refused": refused}
