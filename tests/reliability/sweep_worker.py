"""A sweeper process for the timer-store tests: sweep up to a date, optionally dying mid-way.

Run as `python -m tests.reliability.sweep_worker DB_URL UNTIL BATCH [KILL_AT]` (KILL_AT as in
`crash_worker`). Prints the sweep's counts as JSON when it finishes.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

RECORDED_AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)


def main(argv: list[str]) -> None:
    from engine.cases.service import CaseService
    from engine.language.registry import ProcessRegistry
    from engine.scheduling.sweep import sweep
    from engine.store.database import open_store
    from tests.reliability.crash_worker import arm_kill

    db_url, until, batch = argv[0], dt.date.fromisoformat(argv[1]), int(argv[2])
    store = open_store(db_url, upgrade=False)
    service = CaseService(store, ProcessRegistry.from_package())
    arm_kill(store.engine, argv[3] if len(argv) > 3 else None)
    result = sweep(service, until=until, at=RECORDED_AT, batch_size=batch)
    print(json.dumps(result.counts), flush=True)
    store.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
