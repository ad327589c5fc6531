"""What the auditor's pages show of the store's integrity: the last checkpoint's age (as
`cme doctor` judges it), the cases marked broken, the last verification, and verifying now as
`cme audit verify` does (against the deployment's newest checkpoint when it has one).

Owns only gathering these for a page; verifying is `engine.audit`'s, the checkpoint judgement
`engine.deployment.upkeep`'s, the checkpoint file and pinned key the CLI's (`engine.cli.trust`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.audit.checkpoint import load_checkpoint
from engine.audit.verification import Verified, verify_and_mark
from engine.cli import wiring
from engine.cli.trust import _checkpoint_file, _trusted_key
from engine.deployment.daily import doctor_inputs
from engine.deployment.health import Finding
from engine.deployment.upkeep import check_checkpoint
from engine.protection.access import Actor
from engine.store.integrity import Mark, open_marks
from engine.store.tables import access_log_table
from engine.web.context import Engine


def checkpoint_finding(engine: Engine) -> Finding:
    """The age of the last signed checkpoint, judged as `cme doctor` judges it."""
    url = wiring.database(engine.settings.db_url)
    inputs = doctor_inputs(
        engine.store,
        wiring.config(engine.settings.db_url),
        db_url=url,
        on=engine.today(),
        now=engine.now(),
    )
    with engine.store.read() as conn:
        return check_checkpoint(conn, inputs)


def marks(engine: Engine) -> list[Mark]:
    """Every case's integrity mark not yet cleared."""
    with engine.store.read() as conn:
        return open_marks(conn)


def last_verified(engine: Engine) -> dict[str, Any] | None:
    """The last verification of every history recorded in the access log (who, when)."""
    t = access_log_table
    with engine.store.read() as conn:
        row = conn.execute(
            select(t.c.at, t.c.actor, t.c.role)
            .where(t.c.action == "verify", t.c.case_id.is_(None))
            .order_by(t.c.at.desc(), t.c.id.desc())
            .limit(1)
        ).first()
    return None if row is None else {"at": row.at, "actor": row.actor, "role": row.role}


def verify_now(engine: Engine, actor: Actor, *, case_id: str | None = None) -> Verified:
    """Verify every history (or one case's) as `cme audit verify` does: against the newest
    checkpoint in the deployment's folder when there is one, recording the read and marking
    each case found broken.
    """
    db_url = engine.settings.db_url
    found = _checkpoint_file(None, db_url)
    return verify_and_mark(
        engine.store,
        actor,
        roles=engine.roles,
        clock=engine.now,
        case_id=case_id,
        checkpoint=None if found is None else load_checkpoint(found),
        checkpoint_file=found,
        trusted_key=None if found is None else _trusted_key(None, db_url),
    )


__all__ = ["Verified", "checkpoint_finding", "last_verified", "marks", "verify_now"]
