"""Sign-ins on the record: each success and failure in the access log (so an auditor sees them
with `cme audit access-log`), and the throttle that makes a name wait after too many failures.

The throttle counts the log's own rows, so it holds across restarts and several server
processes. Does not own checking passwords (`accounts.py`) nor the session (`routes/signin.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from engine.protection.access import Actor, log_read
from engine.store.database import Store
from engine.store.tables import access_log_table
from engine.web.accounts import WebUser
from engine.web.context import SESSION_SEEN, SESSION_USER, engine_of

if TYPE_CHECKING:
    from fastapi import Request

SIGNED_IN = "sign-in"
SIGNED_IN_COUNCIL = "sign-in (council account)"
SIGNED_OUT = "sign-out"
FAILED = "sign-in failed"
"""A wrong name or password (the only action the throttle counts)."""
REFUSED_WAIT = "sign-in refused: too many failed attempts"
REFUSED_COUNCIL = "sign-in refused (council account)"
NAME_LENGTH = 120
"""Longer names typed into the form are cut to this in the log."""
UNKNOWN_ROLE = "-"
"""The role recorded for a failed sign-in whose name is no account's."""


@dataclass(frozen=True)
class Throttle:
    """At most `failures` failed sign-ins for one name within `window`."""

    failures: int = 5
    window: dt.timedelta = dt.timedelta(minutes=15)


def record(store: Store, *, name: str, role: str | None, action: str, at: dt.datetime) -> None:
    """Log a sign-in event for `name` (as typed, cut to NAME_LENGTH) in the access log."""
    actor = Actor(_clean(name), role or UNKNOWN_ROLE)
    with store.engine.begin() as conn:
        log_read(conn, actor, case_id=None, action=action, at=at)


def start_session(request: Request, user: WebUser, *, action: str = SIGNED_IN) -> None:
    """Sign `user` in: a fresh session (a new CSRF token too), and the sign-in on the record."""
    engine = engine_of(request)
    at = engine.now()
    request.session.clear()
    request.session[SESSION_USER] = {"name": user.name, "role": user.role, "school": user.school}
    request.session[SESSION_SEEN] = at.timestamp()
    record(engine.store, name=user.name, role=user.role, action=action, at=at)


def throttle_of(request: Request) -> Throttle:
    """The app's sign-in throttle, from its settings."""
    settings = engine_of(request).settings
    return Throttle(
        failures=settings.sign_in_failures,
        window=dt.timedelta(minutes=settings.sign_in_window_minutes),
    )


def wait_until(
    store: Store, name: str, *, at: dt.datetime, throttle: Throttle
) -> dt.datetime | None:
    """When `name` may try again, if the throttle stops them now; None if they may try.

    Failures before the name's last successful sign-in do not count.
    """
    log = access_log_table.c
    who = _clean(name)
    with store.read() as conn:
        # Rows in the order written: a failure the same second as a success is still after it.
        last_in = conn.execute(
            select(log.id)
            .where(log.actor == who, log.action.in_((SIGNED_IN, SIGNED_IN_COUNCIL)))
            .order_by(log.id.desc())
            .limit(1)
        ).scalar()
        failed = [
            _utc(row)
            for row in conn.execute(
                select(log.at)
                .where(
                    log.actor == who,
                    log.action == FAILED,
                    log.at > at - throttle.window,
                    log.id > (last_in or 0),
                )
                .order_by(log.id.desc())
                .limit(throttle.failures)
            ).scalars()
        ]
    if len(failed) < throttle.failures:
        return None
    # The oldest of the last N failures leaves the window first.
    return failed[-1] + throttle.window


def wait_message(until: dt.datetime, *, at: dt.datetime, throttle: Throttle) -> str:
    """What a throttled person is told: how long to wait, and whom to ask."""
    minutes = max(1, -(-int((until - at).total_seconds()) // 60))
    return (
        f"There have been {throttle.failures} failed sign-ins for this user name in "
        f"{int(throttle.window.total_seconds() // 60)} minutes. Wait {minutes} "
        f"minute{'s' if minutes != 1 else ''} and try again, or ask your administrator to "
        "check your account."
    )


def _clean(name: str) -> str:
    return "".join(ch for ch in name.strip() if ch.isprintable())[:NAME_LENGTH]


def _utc(at: dt.datetime) -> dt.datetime:
    # SQLite hands back naive UTC datetimes.
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
