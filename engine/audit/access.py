"""Which permission each audit action needs, and reading back the access log.

Owns the map from an audit action (replay, verify, export …) to the role table's permission
(`engine.protection.access`, which owns the table, the one `require` check and writing the log); and
`access_entries`, the log read back for `cme audit access-log`. Reading a child's history is
itself recorded: who, in which role, which case, what they did, and when.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.protection.access import ActorLike, Permission, RoleTable, log_read, require
from engine.store.database import Store
from engine.store.tables import access_log_table

_PERMISSION: dict[str, Permission] = {
    "replay": Permission.read_audit,
    "verify": Permission.read_audit,
    "checkpoint": Permission.read_audit,
    "export": Permission.read_audit,
    "read the access log": Permission.read_audit,
    "clear an integrity mark": Permission.read_audit,
}

record_access = log_read
"""Record, in the caller's transaction, that an actor read a case (None: every case)."""


def authorise(actor: ActorLike, action: str, *, table: RoleTable | None = None) -> None:
    """Refuse (AccessDenied) unless the actor's role may take this audit action."""
    require(actor, _PERMISSION[action], table=table, doing=action)


def access_entries(store: Store, *, case_id: str | None = None) -> list[dict[str, Any]]:
    """The access log, oldest first; only one case's reads if `case_id` is given."""
    query = select(access_log_table).order_by(access_log_table.c.at, access_log_table.c.id)
    if case_id is not None:
        query = query.where(access_log_table.c.case_id == case_id)
    with store.read() as conn:
        rows = conn.execute(query).all()
    return [
        {"at": r.at, "case_id": r.case_id, "actor": r.actor, "role": r.role, "action": r.action}
        for r in rows
    ]
