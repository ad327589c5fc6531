"""The case index: the blind-index tokens of a case's personal data, written with the case.

Owns which tokens a case has (the child's name parts and their prefixes, the name with the date
of birth, the date of birth, UPN, school, previous school and the family's postcode), writing
their digests in the transaction that writes the case, filling the index from decrypted data
the first time a search key meets a database (an upgraded one, or a rotated search key), and
refusing a search key other than the one the index was made with. The digest itself is
`engine/protection/blind_index.py`'s; finding cases is `finding.py`'s, the one-child rule
`duplicates.py`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.engine import Connection

from engine.errors import IntegrityFailure
from engine.protection.blind_index import SearchKey, compact, fold, name_parts, prefixes
from engine.protection.crypto import PURGED, CaseKeys
from engine.store.database import Store
from engine.store.tables import case_index_key_table, case_index_table, case_table

# Token kinds (the text before the colon keeps a UPN from ever matching a name part).
NAME_PART = "n:"
NAME_PREFIX = "p:"
NAME_AND_BIRTH = "nd:"
BIRTH = "d:"
UPN = "u:"
SCHOOL = "s:"
POSTCODE = "pc:"

_INDEXED: set[tuple[str, str]] = set()  # (database URL, search key id) found ready, per process
_SELECT_TOKENS = select(case_index_table.c.token).where(
    case_index_table.c.case_id == bindparam("case_id")
)


class SearchKeyMismatch(IntegrityFailure):
    """The search key in use is not the one the database's index was made with: a digest made
    with it would find nothing, so nothing is found or written with it.
    """

    code = "search_key_mismatch"


def child_tokens(
    name: str | None, dob: str | dt.date | None, upn: str | None = None
) -> tuple[set[str], str | None]:
    """The tokens of a child's name, date of birth and UPN, and their name-and-birth token."""
    out: set[str] = set()
    born = dob.isoformat() if isinstance(dob, dt.date) else dob
    both = None
    if name:
        parts = name_parts(name)
        for part in parts:
            out.add(NAME_PART + part)
            out.update(NAME_PREFIX + p for p in prefixes(part))
        if born and parts:
            both = f"{NAME_AND_BIRTH}{' '.join(parts)}|{born}"
            out.add(both)
    if born:
        out.add(BIRTH + born)
    if upn:
        out.add(UPN + compact(upn))
    return out, both


def tokens_of(personal: Mapping[str, Any]) -> set[str]:
    """Every token of a case's (or a linked notification's) personal data, in the clear."""
    child = personal.get("child") or {}
    out, _ = child_tokens(child.get("full_name"), child.get("date_of_birth"), child.get("upn"))
    for school in (child.get("school"), child.get("previous_school")):
        if school and fold(school):
            out.add(SCHOOL + fold(school))
    postcode = (personal.get("parent_carer") or {}).get("postcode")
    if postcode and compact(postcode):
        out.add(POSTCODE + compact(postcode))
    linked = personal.get("linked_notification")
    if isinstance(linked, Mapping):
        out |= tokens_of(linked)
    return out


def search_key(conn: Connection, keys: CaseKeys, *, at: dt.datetime) -> SearchKey:
    """The search key the database's index was made with, the index filled first if no key has
    made it yet (inside the caller's write transaction); SearchKeyMismatch if none of the keys
    found is that one.
    """
    url = str(conn.engine.url)
    for key in keys.search_keys:
        if (url, key.id) in _INDEXED:
            return key
    recorded = [r[0] for r in conn.execute(select(case_index_key_table.c.key_id))]
    if not recorded:
        key = keys.search_keys[0]
        fill_index(conn, keys, key)
        conn.execute(insert(case_index_key_table).values(key_id=key.id, made_at=at))
    else:
        found = next((k for k in keys.search_keys if k.id in recorded), None)
        if found is None:
            keys.vouch(conn)  # a stray master key is named as such first
            tried = ", ".join(k.id for k in keys.search_keys)
            raise SearchKeyMismatch(
                f"this database's case index was made with search key {recorded[0]}, and the "
                f"search keys found ({tried}) are not it; nothing was found or written. Copy "
                "the search.key the index was made with into the master key's folder (after a "
                "master key rotation into a new folder it is in the old key's folder), or set "
                "CME_SEARCH_KEY"
            )
        key = found
    _INDEXED.add((url, key.id))
    return key


def index_ready(store: Store, keys: CaseKeys, *, at: dt.datetime) -> SearchKey:
    """`search_key` for a reader: the index is filled in a write transaction of its own if it
    must be (once per database and key), else only looked at.
    """
    url = str(store.engine.url)
    for key in keys.search_keys:
        if (url, key.id) in _INDEXED:
            return key
    with store.read() as conn:
        recorded = [r[0] for r in conn.execute(select(case_index_key_table.c.key_id))]
    if recorded and any(k.id in recorded for k in keys.search_keys):
        key = next(k for k in keys.search_keys if k.id in recorded)
        _INDEXED.add((url, key.id))
        return key
    with store.engine.begin() as conn:
        return search_key(conn, keys, at=at)


def write_tokens(
    conn: Connection, key: SearchKey, case_id: str, tokens: Iterable[str], *, new: bool = False
) -> None:
    """Add a case's tokens' digests (those it has already are kept once; a `new` case has none)."""
    have = set() if new else {r[0] for r in conn.execute(_SELECT_TOKENS, {"case_id": case_id})}
    rows = [
        {"token": d, "case_id": case_id}
        for d in sorted({key.digest(t) for t in tokens})
        if d not in have
    ]
    if rows:
        conn.execute(insert(case_index_table), rows)


def forget_case(conn: Connection, case_id: str) -> None:
    """Remove a case from the index (its personal data was purged: nothing may find it by it)."""
    conn.execute(delete(case_index_table).where(case_index_table.c.case_id == case_id))


def fill_index(conn: Connection, keys: CaseKeys, key: SearchKey) -> int:
    """Index every case from its decrypted personal data under `key`, replacing what was there
    (an upgraded database, or a new search key); returns how many cases were indexed.
    """
    conn.execute(delete(case_index_table))
    conn.execute(delete(case_index_key_table))
    import json

    count = 0
    for case_id, personal in conn.execute(select(case_table.c.id, case_table.c.personal)):
        stored = json.loads(personal or "{}")
        if not stored:
            continue
        clear = keys.reveal(conn, case_id, stored)
        if clear == PURGED or not isinstance(clear, dict):
            continue
        write_tokens(conn, key, case_id, tokens_of(clear))
        count += 1
    return count


__all__ = [
    "SearchKeyMismatch",
    "child_tokens",
    "fill_index",
    "forget_case",
    "index_ready",
    "search_key",
    "tokens_of",
    "write_tokens",
]
