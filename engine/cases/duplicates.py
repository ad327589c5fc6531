"""One child, one open case: finding the open cases a notified child may already have.

Owns the rule (policy 4.4: a child is one case, however many notifications arrive): a child
matches an open case with the same UPN, or the same name (case, accents and spacing aside) and
date of birth; a similar name with the same date of birth is a near match, shown for the officer
to decide. Matches are found through the blind index (`case_index.py`): only a near match's
candidates, the open cases with the same date of birth, are decrypted, to compare names. Does
not own what the officer decides (linking, or opening anyway: `service.py`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, select, text
from sqlalchemy.engine import Connection

from engine.cases.case_index import BIRTH, UPN, child_tokens
from engine.errors import CommandRefused
from engine.protection.blind_index import SearchKey, fold, name_parts
from engine.protection.crypto import PURGED, CaseKeys
from engine.store.tables import case_index_table, case_table

if TYPE_CHECKING:
    from engine.cases.notification import Child

SAME_UPN = "the same UPN"
SAME_NAME_AND_BIRTH = "the same name and date of birth"
NEAR = "a similar name and the same date of birth"

NEAR_RATIO = 0.8
"""How alike two folded full names must be (difflib's ratio) to be a near match, when they share
no name part: "Jon Smyth" and "John Smith" are; "Amy Lee" and "Ben Lee" share "lee"."""


@dataclass(frozen=True)
class Match:
    """An open case a notified child may be the child of."""

    case_id: str
    how: str
    """`SAME_UPN`, `SAME_NAME_AND_BIRTH` or `NEAR`."""
    opened_on: str
    state: str
    officer: str | None
    their_name: str | None = None
    """For a near match: the open case's child, as its record spells the name."""

    @property
    def exact(self) -> bool:
        """Whether the child is the same (not just possibly)."""
        return self.how != NEAR

    def described(self) -> str:
        """The case in words, as a refusal names it."""
        who = f" ({self.their_name})" if self.their_name else ""
        officer = f", officer {self.officer}" if self.officer else ""
        return (
            f"{self.case_id}{who}: {self.how}; opened {self.opened_on}, at stage "
            f"{self.state}{officer}"
        )


class DuplicateChild(CommandRefused):
    """A notified child matches an open case: nothing is written until the officer links the
    notification to it or opens a case anyway with a reason.
    """

    code = "duplicate_child"

    def __init__(self, refused: Sequence[tuple[str, str, Sequence[Match]]]) -> None:
        self._found = {name: list(found) for name, _, found in refused}
        self.matches = {
            name: [{"case_id": m.case_id, "how": m.how} for m in found]
            for name, _, found in refused
        }
        lines = []
        for name, born, found in refused:
            exact = [m for m in found if m.exact]
            head = (
                f"{name} (born {born}) already has an open case"
                if exact
                else f"{name} (born {born}) may be the child of an open case"
            )
            lines.append(head + ": " + "; ".join(m.described() for m in found))
        first = refused[0][2][0].case_id
        super().__init__(
            "; ".join(lines) + ". Nothing was written. If the notification is about that child, "
            f"link it to the case (--link {first}); if it is a different child, open a case "
            "anyway and say why (--override-duplicate --reason TEXT)"
        )

    def found(self, name: str) -> list[Match]:
        """The open cases the child of that name matched."""
        return self._found.get(name, [])


# Built once: building the statement per opening cost more than running it.
_MATCHES = (
    select(
        case_index_table.c.token,
        case_table.c.id,
        case_table.c.opened_on,
        case_table.c.state,
        case_table.c.assigned_officer,
        case_table.c.personal,
    )
    .join(case_table, case_table.c.id == case_index_table.c.case_id)
    .where(
        and_(
            case_index_table.c.token.in_(bindparam("digests", expanding=True)),
            case_table.c.terminal.is_(False),
            case_table.c.process_id == bindparam("process"),
        )
    )
    .order_by(case_table.c.id)
)


def open_matches(
    conn: Connection, keys: CaseKeys, key: SearchKey, child: Child, *, process: str
) -> list[Match]:
    """The open cases of `process` that `child` matches (exact first), read in the caller's
    transaction.
    """
    born = child.date_of_birth.isoformat()
    tokens, both = child_tokens(child.full_name, born, child.upn)
    wanted = {UPN + t[len(UPN) :] for t in tokens if t.startswith(UPN)}
    if both:
        wanted.add(both)
    wanted.add(BIRTH + born)
    by_digest = {key.digest(t): t for t in wanted}
    rows = conn.execute(_MATCHES, {"digests": list(by_digest), "process": process}).all()
    hits: dict[str, set[str]] = {}
    info: dict[str, tuple[str, str, str | None, str]] = {}
    for row in rows:
        hits.setdefault(row.id, set()).add(by_digest[row.token])
        info[row.id] = (str(row.opened_on)[:10], row.state, row.assigned_officer, row.personal)
    out: list[Match] = []
    for case_id, found in hits.items():
        opened, state, officer, personal = info[case_id]
        if any(t.startswith(UPN) for t in found):
            out.append(Match(case_id, SAME_UPN, opened, state, officer))
        elif both in found:
            out.append(Match(case_id, SAME_NAME_AND_BIRTH, opened, state, officer))
        else:
            theirs = _their_name(conn, keys, case_id, personal)
            if theirs is not None and similar(child.full_name, theirs):
                out.append(Match(case_id, NEAR, opened, state, officer, their_name=theirs))
    return sorted(out, key=lambda m: (not m.exact, m.case_id))


@dataclass(frozen=True)
class ChildDecision:
    """What opening does for one child: link the notification to an open case, or open one
    (recording the matches it was opened despite, and why).
    """

    link: Match | None = None
    duplicate_of: list[str] | None = None
    override_reason: str | None = None


def decide_children(
    conn: Connection,
    keys: CaseKeys,
    key: SearchKey,
    children: Sequence[Child],
    *,
    link: Collection[str],
    override_reason: str | None,
    process: str,
) -> list[ChildDecision]:
    """For each child on a notification: link to a case in `link` if the child matches it, open a
    case despite its matches if the officer gave `override_reason`, else open one; every child
    with a match and neither is refused at once (DuplicateChild), and a case in `link` no child
    matches is refused.
    """
    decisions: list[ChildDecision] = []
    refused: list[tuple[str, str, list[Match]]] = []
    linked: set[str] = set()
    for child in children:
        _lock_child(conn, key, child)
        found = open_matches(conn, keys, key, child, process=process)
        target = next((m for m in found if m.case_id in link), None)
        if target is not None:
            decisions.append(ChildDecision(link=target))
            linked.add(target.case_id)
        elif found and override_reason:
            decisions.append(
                ChildDecision(
                    duplicate_of=[m.case_id for m in found], override_reason=override_reason
                )
            )
        elif found:
            refused.append((child.full_name, child.date_of_birth.isoformat(), found))
        else:
            decisions.append(ChildDecision())
    if refused:
        raise DuplicateChild(refused)
    unmatched = sorted(set(link) - linked)
    if unmatched:
        raise CommandRefused(
            f"no child on the notification matches open case {', '.join(unmatched)} (the same "
            "UPN, the same "
            "name and date of birth, or a similar name and the same date of birth); nothing was "
            "written. Check the case number (`cme case find NAME`), or open a case without --link"
        )
    return decisions


def _lock_child(conn: Connection, key: SearchKey, child: Child) -> None:
    """On PostgreSQL, hold a lock on the child (by UPN, and by name and date of birth) until the
    transaction ends, so two officers opening the same child at once are taken one after the
    other and the second is refused. SQLite's writers are one at a time already.
    """
    if conn.dialect.name != "postgresql":
        return
    tokens, both = child_tokens(child.full_name, child.date_of_birth.isoformat(), child.upn)
    for token in sorted(t for t in tokens if t.startswith(UPN) or t == both):
        # A 63-bit number from the token's digest: the lock names no one.
        number = int(key.digest("lock:" + token)[:15], 16)
        conn.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": number})


def similar(one: str, other: str) -> bool:
    """Whether two names are alike enough to ask the officer: a name part in common (one a
    prefix of the other: "Jon" and "Jonathan"), or spelled nearly alike.
    """
    mine, theirs = name_parts(one), name_parts(other)
    for a in mine:
        for b in theirs:
            if a == b or (min(len(a), len(b)) >= 3 and (a.startswith(b) or b.startswith(a))):
                return True
    return difflib.SequenceMatcher(None, fold(one), fold(other)).ratio() >= NEAR_RATIO


def _their_name(conn: Connection, keys: CaseKeys, case_id: str, personal: str) -> str | None:
    clear = keys.reveal(conn, case_id, json.loads(personal or "{}"))
    if clear == PURGED or not isinstance(clear, dict):
        return None
    name = (clear.get("child") or {}).get("full_name")
    return str(name) if name else None


__all__ = [
    "NEAR",
    "SAME_NAME_AND_BIRTH",
    "SAME_UPN",
    "ChildDecision",
    "DuplicateChild",
    "Match",
    "decide_children",
    "open_matches",
    "similar",
]
