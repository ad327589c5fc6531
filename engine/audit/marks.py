"""Marking cases whose history failed verification, and an auditor clearing a mark.

Owns turning a verification report into integrity marks (`engine/store/integrity.py` keeps them;
the unit of work refuses any new event on a marked case) and the audited clearing of a mark.
Does not verify anything (`verify.py`).
"""

from __future__ import annotations

import datetime as dt

from engine.audit.access import authorise, record_access
from engine.audit.verify import VerifyReport
from engine.errors import AccessDenied, InputError
from engine.protection.access import ActorLike, Permission, RoleTable, shipped_role_table
from engine.store.database import Store
from engine.store.integrity import Mark, add_mark, clear_marks, open_marks


def mark_problems(store: Store, report: VerifyReport, *, at: dt.datetime, by: str) -> list[str]:
    """Mark every case a problem names (unless that problem was marked before); the cases newly
    marked. Problems of the ledger itself name no case and mark none.
    """
    marked: list[str] = []
    if report.ok:
        return marked
    with store.engine.begin() as conn:
        for problem in report.problems:
            if problem.case_id and add_mark(
                conn, problem.case_id, problem.seq, problem.what, at=at, by=by
            ):
                marked.append(problem.case_id)
    return sorted(set(marked))


def clear(
    store: Store,
    case_id: str,
    *,
    actor: ActorLike,
    reason: str,
    at: dt.datetime,
    roles: RoleTable | None = None,
) -> list[Mark]:
    """An auditor clears a case's integrity marks, saying why; recorded in the access log.

    Only a role that audits and does not change cases may (the officers whose work the history
    holds are not the ones to wave it through). The marks cleared are returned. The case takes
    new events again; what was found stays in the marks table with who cleared it, when, why.
    """
    authorise(actor, "clear an integrity mark", table=roles)
    table = roles or shipped_role_table()
    if table.allows(actor.role, Permission.change_case):
        # The people whose work the broken history holds are not the ones to wave it through.
        raise AccessDenied(
            f"{actor.name} ({actor.role}) may not clear an integrity mark: only a role that "
            "audits (read_audit) and does not change cases may, e.g. auditor",
            actor=actor.name,
            role=actor.role,
            permission="read_audit without change_case",
            allowed=[
                r
                for r in table.roles
                if table.allows(r, Permission.read_audit)
                and not table.allows(r, Permission.change_case)
            ],
        )
    if not reason.strip():
        raise InputError("say why the mark is cleared (--reason): it is kept with the mark")
    with store.engine.begin() as conn:
        marks = open_marks(conn, case_id)
        if not marks:
            raise InputError(f"case {case_id} has no integrity mark to clear")
        clear_marks(conn, case_id, at=at, by=f"{actor.name} ({actor.role})", reason=reason)
        record_access(
            conn,
            actor,
            case_id=case_id,
            action=f"cleared integrity mark: {reason.strip()[:200]}",
            at=at,
        )
    return marks


__all__ = ["clear", "mark_problems"]
