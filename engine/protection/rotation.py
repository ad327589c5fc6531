"""Rotating the master key: re-wrapping every case key under a new one, in batches, resumably.

Each `case_key` row records which master key wrapped it (`master_key_id`), and a batch rewrites
its rows' wrapped key and that id together, in one transaction. A rotation killed at any moment
leaves every row wrapped by either the old key or the new one, never neither and never both: a
re-run picks up the rows still under an old key. Who rotated, when, and from which key to which
is written to the access log as the rotation starts and as it ends. Does not own where keys come
from (`masterkeys.py`) nor what they protect (`crypto.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from engine.errors import IntegrityFailure
from engine.protection.access import ActorLike, Permission, RoleTable, log_read, require
from engine.protection.crypto import MasterKey, rewrap
from engine.store.database import Store
from engine.store.tables import case_key_table

DEFAULT_BATCH = 500
"""Case keys re-wrapped per transaction: short enough not to hold the write lock for long."""


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did: from which keys to which, how many case keys it re-wrapped."""

    from_ids: tuple[str, ...]
    to_id: str
    rewrapped: int
    batches: int

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready data."""
        return {
            "from": list(self.from_ids),
            "to": self.to_id,
            "rewrapped": self.rewrapped,
            "batches": self.batches,
        }


def pending(conn: Connection, new: MasterKey) -> dict[str, int]:
    """Live case keys not yet wrapped by `new`, counted by the master key that wraps them."""
    rows = conn.execute(
        select(case_key_table.c.master_key_id, case_key_table.c.case_id).where(
            case_key_table.c.wrapped.is_not(None), case_key_table.c.master_key_id != new.id
        )
    )
    counts: dict[str, int] = {}
    for master_id, _ in rows:
        counts[master_id] = counts.get(master_id, 0) + 1
    return counts


def rotate_master_key(
    store: Store,
    *,
    old: Iterable[MasterKey],
    new: MasterKey,
    actor: ActorLike,
    at: dt.datetime,
    roles: RoleTable | None = None,
    batch_size: int = DEFAULT_BATCH,
    after_batch: Callable[[int], None] | None = None,
    before_commit: Callable[[int], None] | None = None,
) -> RotationReport:
    """Re-wrap every live case key under `new`, `batch_size` per transaction; audited.

    `old` are the master keys the rows may be wrapped by now (the one in use, previous ones);
    a row wrapped by a key not among them stops the rotation, naming it, with every batch
    before it kept. `after_batch` / `before_commit` are called with the batch number (tests
    kill the process there).
    """
    require(actor, Permission.admin, table=roles, doing="rotate the master key")
    ring = {key.id: key for key in (*old, new)}
    with store.read() as conn:
        waiting = pending(conn, new)
    unknown = sorted(set(waiting) - set(ring))
    if unknown:
        raise IntegrityFailure(
            f"{sum(waiting[u] for u in unknown)} case keys are wrapped by master key "
            f"{' and '.join(unknown)}, which is neither the key in use nor one given with "
            "--old-key; nothing was re-wrapped. Give that key with --old-key FILE"
        )
    from_ids = tuple(sorted(waiting))
    what = f"{', '.join(from_ids) or new.id} -> {new.id}"
    with store.engine.begin() as conn:
        log_read(
            conn,
            actor,
            case_id=None,
            at=at,
            action=f"master key rotation started: {what} ({sum(waiting.values())} keys)",
        )
    rewrapped = batches = 0
    while True:
        with store.engine.begin() as conn:
            fetched, done = _rewrap_batch(conn, ring, new, batch_size)
            if fetched == 0:
                break
            batches += 1
            if before_commit is not None:
                before_commit(batches)
        rewrapped += done
        if after_batch is not None:
            after_batch(batches)
    with store.engine.begin() as conn:
        log_read(
            conn,
            actor,
            case_id=None,
            at=at,
            action=f"master key rotation finished: {what} ({rewrapped} keys re-wrapped)",
        )
    return RotationReport(from_ids=from_ids, to_id=new.id, rewrapped=rewrapped, batches=batches)


def _rewrap_batch(
    conn: Connection, ring: dict[str, MasterKey], new: MasterKey, batch_size: int
) -> tuple[int, int]:
    t = case_key_table
    rows = conn.execute(
        select(t.c.case_id, t.c.key_id, t.c.wrapped, t.c.master_key_id)
        .where(t.c.wrapped.is_not(None), t.c.master_key_id != new.id)
        .order_by(t.c.case_id)
        .limit(batch_size)
    ).all()
    done = 0
    for case_id, key_id, wrapped, master_id in rows:
        master = ring.get(master_id)
        if master is None:
            raise IntegrityFailure(
                f"case {case_id}'s key is wrapped by master key {master_id}, which was not "
                "given; give it with --old-key FILE and run the rotation again"
            )
        # Compare-and-set on the wrapped text: a purge (or another rotation) that changed the
        # row since it was read wins, and this row is left to it.
        result = conn.execute(
            update(t)
            .where(t.c.case_id == case_id, t.c.wrapped == wrapped)
            .values(
                wrapped=rewrap(master, new, case_id=case_id, key_id=key_id, wrapped=wrapped),
                master_key_id=new.id,
            )
        )
        done += result.rowcount
    return len(rows), done


__all__ = ["DEFAULT_BATCH", "RotationReport", "pending", "rotate_master_key"]
