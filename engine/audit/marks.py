"""Marking cases whose history failed verification, and an auditor clearing a mark.

Owns turning a verification report into integrity marks (`engine/store/integrity.py` keeps them;
the unit of work refuses any new event on a marked case) and the audited clearing of a mark.
Does not verify anything (`verify.py`).
"""

from __future__ import annotations

import datetime as dt

from engine.audit.access import authorise, record_access
from engine.audit.verify import VerifyReport
from engine.errors import InputError
from engine.protection.access import ActorLike, RoleTable
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

    The marks cleared are returned. The case takes new events again; what was found stays in
    the marks table with who cleared it, when and why.
    """
    authorise(actor, "clear an integrity mark", table=roles)
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
