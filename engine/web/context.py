"""What a request works with: the signed-in user, the engine's service and readers over the
configured database, and the recorded time. Routes take these as FastAPI dependencies.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from engine.cli import wiring
from engine.protection.access import Actor, Permission, RoleTable
from engine.web.accounts import WebUser, find_account
from engine.web.settings import WebSettings

if TYPE_CHECKING:
    from engine.cases.reading import CaseReader
    from engine.cases.service import CaseService
    from engine.store.database import Store

SESSION_USER = "user"
SESSION_SEEN = "seen"


class SignInNeeded(Exception):
    """No one is signed in (or the session went idle): the app redirects to the sign-in page."""

    def __init__(self, next_url: str, *, timed_out: bool = False) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.timed_out = timed_out


class NotAllowed(Exception):
    """The signed-in user's role may not do this: the app shows a 403 page saying who may."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Engine:
    """The engine as the web service uses it: one service and one reader per app, over the
    database the settings name (as the CLI's composition root builds them).
    """

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings

    @functools.cached_property
    def service(self) -> CaseService:
        """Commands (open, record, advance …) over the configured database."""
        return wiring.service(self.settings.db_url)

    @functools.cached_property
    def reader(self) -> CaseReader:
        """Reads of cases that build no process machine (case pages, lists)."""
        return wiring.reader(self.settings.db_url)

    @property
    def store(self) -> Store:
        """The open database."""
        return self.reader.store

    @property
    def roles(self) -> RoleTable:
        """The role table (processes/roles.yaml or CME_ROLES_FILE)."""
        return wiring.roles()

    def now(self) -> dt.datetime:
        """The recorded time of a request (the one wall-clock read, as in the CLI)."""
        return wiring.now()

    @functools.cached_property
    def zone(self) -> ZoneInfo:
        """The LA's time zone (cme.toml `[scheduler] timezone`, else Europe/London)."""
        return ZoneInfo(wiring.config(self.settings.db_url).scheduler.timezone)

    def today(self) -> dt.date:
        """Today's date in the LA's time zone: from 23:00 UTC in British Summer Time it is
        already tomorrow in London, and a school day is the LA's day, not UTC's.
        """
        return self.now().astimezone(self.zone).date()


def engine_of(request: Request) -> Engine:
    """The app's engine."""
    engine: Engine = request.app.state.engine
    return engine


def user_of(request: Request) -> WebUser | None:
    """The signed-in user, or None (no idle check: for templates)."""
    raw = request.session.get(SESSION_USER)
    if not isinstance(raw, dict):
        return None
    return WebUser(name=raw["name"], role=raw["role"], school=raw.get("school"))


def signed_in(request: Request) -> WebUser:
    """Dependency: the signed-in user; otherwise (or after the idle timeout) to the sign-in page."""
    user = user_of(request)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if user is None:
        raise SignInNeeded(target)
    engine = engine_of(request)
    now = engine.now().timestamp()
    seen = request.session.get(SESSION_SEEN)
    if not isinstance(seen, (int, float)) or now - seen > engine.settings.idle_minutes * 60:
        request.session.clear()
        raise SignInNeeded(target, timed_out=True)
    if find_account(engine.store, user.name) != user:
        # Disabled (`cme admin user disable`) or given another role or school since signing in:
        # out at once, not at the timeout.
        request.session.clear()
        raise SignInNeeded(target)
    request.session[SESSION_SEEN] = now
    return user


def requires(permission: Permission) -> Callable[[Request], Awaitable[WebUser]]:
    """Dependency factory: the signed-in user, if their role has `permission` (else 403)."""

    async def dependency(request: Request) -> WebUser:
        # signed_in reads the account: in the threadpool, never blocking the event loop.
        user = await run_in_threadpool(signed_in, request)
        table = engine_of(request).roles
        if not table.allows(user.role, permission):
            who = [
                r for r, d in table.roles.items() if permission in d.permissions and not d.internal
            ]
            raise NotAllowed(
                f"You are signed in as {user.name} ({user.role}), which may not do this. "
                f"Roles that may: {', '.join(who) or 'none'}."
            )
        return user

    return dependency


def actor_of(user: WebUser) -> Actor:
    """The user as the engine records them on every event and logged read."""
    return Actor(user.name, user.role)
