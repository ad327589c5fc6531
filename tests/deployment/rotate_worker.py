"""A master-key rotation that SIGKILLs itself at a chosen point: the subject of the rotation tests.

Run as `python -m tests.deployment.rotate_worker DB_URL OLD_KEY NEW_KEY BATCH KILL_AT` (keys in
base64). KILL_AT `after:N` dies just after batch N commits; `before:N` just before batch N
commits (its rows re-wrapped in the transaction, not yet committed); `never` runs to the end.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from collections.abc import Callable

from engine.protection.access import Actor
from engine.protection.crypto import MasterKey
from engine.protection.rotation import rotate_master_key
from engine.store.database import open_store

AT = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def main(argv: list[str]) -> None:
    """Rotate from OLD_KEY to NEW_KEY, dying where KILL_AT says."""
    url, old, new, batch, kill_at = argv
    when, _, number = kill_at.partition(":")

    def die_at(point: str) -> Callable[[int], None]:
        def hook(batch_number: int) -> None:
            if when == point and batch_number == int(number):
                os.kill(os.getpid(), signal.SIGKILL)

        return hook

    report = rotate_master_key(
        open_store(url),
        old=[MasterKey.from_text(old, source="old")],
        new=MasterKey.from_text(new, source="new"),
        actor=Actor("rita", "records_manager"),
        at=AT,
        batch_size=int(batch),
        after_batch=die_at("after"),
        before_commit=die_at("before"),
    )
    print(report.rewrapped)


if __name__ == "__main__":
    main(sys.argv[1:])
