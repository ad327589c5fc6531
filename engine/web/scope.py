"""What a school's user may see: a school sees only the cases it notified.

A case was notified by a school when one of that school's accounts (web_account.school) opened it
or linked a further notification to it: the `opened` or `notification_linked` event recorded in
the role `school` by that account. Every other role sees what its permissions allow (the engine's
`require` stays that check). Does not own permissions, nor the access log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.sql import Select

from engine.cases.event_bodies import EventKind
from engine.store.tables import case_table, event_table, web_account_table
from engine.web.accounts import WebUser
from engine.web.context import NotAllowed

if TYPE_CHECKING:
    from engine.web.context import Engine

SCHOOL_ROLE = "school"
"""The role whose users are scoped to their own school's notifications."""

Row = TypeVar("Row", bound=Mapping[str, Any])

NOTIFYING = (EventKind.opened.value, EventKind.notification_linked.value)
"""The events by which a school notifies a case."""


def is_scoped(user: WebUser) -> bool:
    """Whether `user` sees only the cases their school notified."""
    return user.role == SCHOOL_ROLE


def notified_by(school: str | None) -> Select[Any]:
    """The ids of the cases `school` notified (none for a school's user without a school)."""
    return (
        select(event_table.c.case_id)
        .join(web_account_table, web_account_table.c.name == event_table.c.actor)
        .where(
            event_table.c.kind.in_(NOTIFYING),
            event_table.c.role == SCHOOL_ROLE,
            web_account_table.c.school == school,
            web_account_table.c.school.is_not(None),
        )
        .distinct()
    )


def case_clause(user: WebUser) -> ColumnElement[bool] | None:
    """A WHERE clause on `cme_case` keeping the cases `user` may see; None when unscoped.

    For a route's own query: `query.where(clause)` when the clause is not None.
    """
    if not is_scoped(user):
        return None
    return and_(case_table.c.id.in_(notified_by(user.school)))


def may_see(engine: Engine, user: WebUser, case_id: str) -> bool:
    """Whether `user` may see case `case_id` (a school: only if it notified it)."""
    if not is_scoped(user):
        return True
    query = notified_by(user.school).where(event_table.c.case_id == case_id)
    with engine.store.read() as conn:
        return conn.execute(query).first() is not None


def refuse_unless_may_see(engine: Engine, user: WebUser, case_id: str) -> None:
    """Refuse (NotAllowed, a 403 page) a case `user` may not see; says nothing of the case."""
    if not may_see(engine, user, case_id):
        raise NotAllowed(
            f"You are signed in for {user.school or 'a school'}, which sees only the cases it "
            "notified. Ask the CME team about any other child."
        )


def visible_case_ids(engine: Engine, user: WebUser) -> frozenset[str] | None:
    """The ids of every case `user` may see, or None when they may see all (not a school)."""
    if not is_scoped(user):
        return None
    with engine.store.read() as conn:
        return frozenset(row[0] for row in conn.execute(notified_by(user.school)))


def visible_rows(
    engine: Engine, user: WebUser, rows: Iterable[Row], *, key: str = "id"
) -> list[Row]:
    """The rows (dicts from list_cases, due_on, a report …) whose `key` names a case `user` may
    see; all of them for an unscoped user.
    """
    visible = visible_case_ids(engine, user)
    if visible is None:
        return list(rows)
    return [row for row in rows if row.get(key) in visible]
