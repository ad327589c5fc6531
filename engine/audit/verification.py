"""One verification as an auditor runs it, from the CLI or the web: authorised, checked (against
a signed checkpoint when there is one), the read recorded, and each case found broken marked.

Owns the order of those steps only; finding the checkpoint file and the pinned key is the face's
(`engine.cli.trust`), checking is `verify` and `checkpoint`'s, marking is `marks`'.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.audit.access import authorise, record_access
from engine.audit.checkpoint import Checkpoint, verify_against
from engine.audit.marks import mark_problems
from engine.audit.verify import VerifyReport, verify_store
from engine.errors import CaseNotFound
from engine.protection.access import ActorLike, RoleTable
from engine.store.database import Store


@dataclass(frozen=True)
class Verified:
    """One verification's report, the cases it marked, how long it took and when it was recorded."""

    report: VerifyReport
    checkpoint: Path | None
    """The checkpoint file checked against, as the face found it (None: none)."""
    marked: list[str]
    seconds: float
    at: dt.datetime


def verify_and_mark(
    store: Store,
    actor: ActorLike,
    *,
    roles: RoleTable,
    clock: Callable[[], dt.datetime],
    case_id: str | None = None,
    checkpoint: Checkpoint | None = None,
    checkpoint_file: Path | None = None,
    trusted_key: str | None = None,
    jobs: int = 1,
) -> Verified:
    """Verify every history (or `case_id`'s), against `checkpoint` signed by `trusted_key` when
    given; record the read at `clock()` and mark each case found broken.
    """
    authorise(actor, "verify", table=roles)
    started = time.perf_counter()
    if checkpoint is not None:
        if trusted_key is None:
            raise ValueError("a checkpoint is verified against a pinned key")
        report = verify_against(
            store, checkpoint, case_id=case_id, trusted_key=trusted_key, jobs=jobs
        )
    else:
        report = verify_store(store, case_id=case_id, jobs=jobs)
    seconds = time.perf_counter() - started
    if case_id is not None and report.cases == 0 and report.ok:
        raise CaseNotFound(case_id)
    at = clock()
    with store.engine.begin() as conn:
        record_access(conn, actor, case_id=case_id, action="verify", at=at)
    marked = mark_problems(store, report, at=at, by=f"{actor.name} ({actor.role})")
    return Verified(report, checkpoint_file, marked, seconds, at)


__all__ = ["Verified", "verify_and_mark"]
