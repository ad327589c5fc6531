"""Finding a case: by any part of the child's name, UPN, date of birth, school or postcode.

Owns reading what an officer types (a UPN, a date, a postcode, else name parts or a school) into
blind-index tokens, the look-up (every name part must match: "ana sil" finds Ana Silva), and the
rows shown: the case, its child and officer, each read logged. The index is `case_index.py`'s.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from engine.cases.case_index import (
    BIRTH,
    NAME_PART,
    NAME_PREFIX,
    POSTCODE,
    SCHOOL,
    UPN,
    index_ready,
)
from engine.cases.projection import CaseState
from engine.errors import InputError
from engine.protection.access import ActorLike, Permission, log_read, require
from engine.protection.blind_index import PREFIX_MIN, SearchKey, compact, fold, name_parts
from engine.protection.crypto import PURGED, CaseKeys
from engine.store.database import Store
from engine.store.tables import case_index_table, case_table

LIMIT = 100
"""The most cases one search shows (a name part shared by more asks for a longer one)."""

_UPN = re.compile(r"^[A-Z][0-9]{11}[0-9A-Z]$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
_UK_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


class Reads(Protocol):
    """What finding needs of a reader (a `CaseReader` or `CaseService`)."""

    @property
    def store(self) -> Store: ...
    @property
    def keys(self) -> CaseKeys: ...
    @property
    def roles(self) -> Any: ...


@dataclass(frozen=True)
class Query:
    """What a search looks for: every one of `all_of`, or else any one of `any_of`."""

    words: str
    """The search in words, for the officer ("name starting ana and sil")."""
    all_of: tuple[str, ...]
    any_of: tuple[str, ...] = ()


def read_query(text: str) -> Query:
    """The tokens of what an officer typed; InputError for a blank search."""
    folded = fold(text)
    if not folded:
        raise InputError(
            "say what to find: part of a name, a UPN, a date of birth, a school or a postcode"
        )
    code = compact(text)
    if _UPN.match(code):
        return Query(f"UPN {code}", (UPN + code,))
    born = _date(text.strip())
    if born is not None:
        return Query(f"date of birth {born.isoformat()}", (BIRTH + born.isoformat(),))
    if _POSTCODE.match(code):
        return Query(f"postcode {code}", (POSTCODE + code,))
    parts = name_parts(text)
    tokens = tuple(
        (NAME_PREFIX if len(p) >= PREFIX_MIN else NAME_PART) + p for p in dict.fromkeys(parts)
    )
    return Query(
        f"name with parts starting {' and '.join(parts)}, or school {folded}",
        tokens,
        any_of=(SCHOOL + folded,),
    )


def find_case_ids(
    conn: Connection,
    key: SearchKey,
    query: Query,
    *,
    limit: int = LIMIT,
    officer: str | None = None,
) -> list[str]:
    """The ids of cases matching `query` (each of `all_of`, else any of `any_of`), in order;
    only `officer`'s cases if given.
    """
    digests = sorted({key.digest(t) for t in query.all_of})
    token = case_index_table.c.token
    case_id = case_index_table.c.case_id
    theirs = (
        None
        if officer is None
        else case_id.in_(select(case_table.c.id).where(case_table.c.assigned_officer == officer))
    )
    if len(digests) == 1:
        found = select(case_id).where(token == digests[0])
    else:
        found = (
            select(case_id)
            .where(token.in_(digests))
            .group_by(case_id)
            .having(func.count() == len(digests))
        )
    if theirs is not None:
        found = found.where(theirs)
    ids = [r[0] for r in conn.execute(found.order_by(case_id).limit(limit))]
    if query.any_of and len(ids) < limit:
        more = select(case_id).where(token.in_(sorted({key.digest(t) for t in query.any_of})))
        if theirs is not None:
            more = more.where(theirs)
        ids = sorted({*ids, *(r[0] for r in conn.execute(more.limit(limit)))})[:limit]
    return ids


def find_cases(
    reader: Reads,
    text: str,
    *,
    actor: ActorLike,
    at: dt.datetime,
    officer: str | None = None,
    limit: int = LIMIT,
) -> dict[str, Any]:
    """The cases matching `text` (any, open or closed; only `officer`'s if given), with the
    child's name, date of birth and UPN for a reader whose every read is logged.
    """
    require(actor, Permission.read_case, table=reader.roles)
    query = read_query(text)
    key = index_ready(reader.store, reader.keys, at=at)
    with reader.store.read() as conn:
        ids = find_case_ids(conn, key, query, limit=limit + 1, officer=officer)
        more = len(ids) > limit
        ids = ids[:limit]
        rows = (
            conn.execute(
                select(case_table).where(case_table.c.id.in_(ids)).order_by(case_table.c.id)
            ).all()
            if ids
            else []
        )
        cases = [CaseState.from_row(r) for r in rows]
        shown = [(c, _child(reader.keys.reveal(conn, c.id, c.personal))) for c in cases]
    with reader.store.engine.begin() as log:
        for case, _ in shown:
            log_read(log, actor, case_id=case.id, action="case find", at=at)
    return {
        "query": query.words,
        "more": more,
        "cases": [
            {
                "id": case.id,
                "child": child.get("full_name"),
                "date_of_birth": child.get("date_of_birth"),
                "upn": child.get("upn"),
                "process": case.process_id,
                "state": case.state,
                "closed": case.terminal,
                "opened_on": case.opened_on,
                "assigned_officer": case.assigned_officer,
            }
            for case, child in shown
        ],
    }


def _child(personal: Any) -> dict[str, Any]:
    if personal == PURGED or not isinstance(personal, dict):
        return {"full_name": PURGED}
    return dict(personal.get("child") or {})


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    m = _UK_DATE.match(text)
    if m is None:
        return None
    try:
        return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None


__all__ = ["LIMIT", "Query", "find_case_ids", "find_cases", "read_query"]
