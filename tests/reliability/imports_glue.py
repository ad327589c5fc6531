"""The crash worker's import step: a small out-of-school CSV of new children, imported at once.

Each file is unique (its children's names come from the worker's random source), so the test
can count the ledger rows of each file: all of them after a finished import, none or all after
one that was killed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import tempfile
from collections.abc import Callable
from typing import Any

RECORDED_AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
HEADER = "child_name,date_of_birth,marked_by,marked_on,parent_carer,last_school\n"


def import_step(
    service: Any, today: dt.date, rng: random.Random, note: Callable[[str], None]
) -> None:
    """Write and import 1-4 rows; `note` records the file's sha256 and row count first."""
    from adapters.imports.out_of_school import import_out_of_school
    from engine.cases.service import Actor

    rows = [
        f"Child {rng.randrange(10**9)},2014-0{rng.randint(1, 9)}-1{rng.randint(0, 9)},"
        f"Health visitor,{(today - dt.timedelta(days=1)).isoformat()},Parent,Some School\n"
        for _ in range(rng.randint(1, 4))
    ]
    data = (HEADER + "".join(rows)).encode()
    fd, path = tempfile.mkstemp(suffix=".csv")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    note(f"IMPORTFILE {hashlib.sha256(data).hexdigest()} {len(rows)}")
    try:
        import_out_of_school(
            service, path, on=today, at=RECORDED_AT, actor=Actor("sona", "cme_officer")
        )
    finally:
        os.unlink(path)
