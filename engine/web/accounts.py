"""Web service accounts: who may sign in, in which role, with an argon2 hash of a local password.

Accounts signed in through the council's identity provider (OpenID Connect) keep no password.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from engine.errors import InputError
from engine.protection.access import RoleTable
from engine.store.database import Store
from engine.store.tables import web_account_table

MIN_PASSWORD_LENGTH = 12
"""NCSC guidance favours length over composition rules; 12 characters is the floor here."""

_hasher = PasswordHasher()


class AccountRefused(InputError):
    """An account that cannot be made as asked (unknown role, short password, name taken)."""

    code = "account_refused"


@dataclass(frozen=True)
class WebUser:
    """A signed-in person: their name (as recorded on every event and read), role and, for a
    school's user, the school whose notifications they may see.
    """

    name: str
    role: str
    school: str | None = None


def _check_length(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountRefused(
            f"the password is {len(password)} characters; use at least {MIN_PASSWORD_LENGTH} "
            "(a passphrase of three or four words is easy to remember)"
        )


def refuse_account(
    store: Store, roles: RoleTable, *, name: str, role: str, school: str | None
) -> None:
    """Refuse (AccountRefused) an account that cannot be made: unknown or internal role, a
    school's without its school, a name taken. Asked before a password is.
    """
    roles.refuse_internal(role)
    if role not in roles.roles:
        known = ", ".join(sorted(r for r, d in roles.roles.items() if not d.internal))
        raise AccountRefused(
            f"there is no role {role!r} in processes/roles.yaml; use one of {known}"
        )
    if role == "school" and not school:
        raise AccountRefused(
            "a school's account needs --school NAME: it sees only that school's cases"
        )
    if not name:
        raise AccountRefused("an account needs a name")
    with store.read() as conn:
        taken = conn.execute(
            select(web_account_table.c.name).where(web_account_table.c.name == name)
        ).first()
    if taken is not None:
        raise AccountRefused(f"there is already an account named {name!r}; nothing was changed")


def add_account(
    store: Store,
    roles: RoleTable,
    *,
    name: str,
    role: str,
    password: str | None,
    by: str,
    at: dt.datetime,
    school: str | None = None,
) -> WebUser:
    """Create an account (a local one when `password` is given); refused with nothing written if
    the role is unknown or internal, the password too short, or the name taken.
    """
    refuse_account(store, roles, name=name, role=role, school=school)
    if password is not None:
        _check_length(password)
    with store.engine.begin() as conn:
        taken = conn.execute(
            select(web_account_table.c.name).where(web_account_table.c.name == name)
        ).first()
        if taken is not None:
            raise AccountRefused(f"there is already an account named {name!r}; nothing was changed")
        conn.execute(
            web_account_table.insert().values(
                name=name,
                role=role,
                password_hash=None if password is None else _hasher.hash(password),
                school=school,
                disabled=False,
                created_at=at,
                created_by=by,
            )
        )
    return WebUser(name=name, role=role, school=school)


def find_account(store: Store, name: str) -> WebUser | None:
    """The enabled account named `name`, if any."""
    with store.read() as conn:
        row = conn.execute(
            select(web_account_table).where(
                web_account_table.c.name == name, web_account_table.c.disabled.is_(False)
            )
        ).first()
    return None if row is None else WebUser(name=row.name, role=row.role, school=row.school)


def check_password(store: Store, name: str, password: str) -> WebUser | None:
    """The account if `password` is its local password; None otherwise (no hint which was wrong).

    An unknown name still costs one hash, so timing does not tell which names exist.
    """
    with store.read() as conn:
        row = conn.execute(
            select(web_account_table).where(web_account_table.c.name == name)
        ).first()
    stored = None if row is None or row.disabled else row.password_hash
    try:
        if stored is None:
            _hasher.hash(password)
            return None
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    assert row is not None
    return WebUser(name=row.name, role=row.role, school=row.school)


@dataclass(frozen=True)
class AccountRow:
    """An account as `cme admin user list` shows it (never its password hash)."""

    name: str
    role: str
    school: str | None
    local: bool
    """Whether it has a local password (otherwise it signs in through the council)."""
    disabled: bool
    created_at: dt.datetime
    created_by: str


def list_accounts(store: Store) -> list[AccountRow]:
    """Every account, by name."""
    with store.read() as conn:
        rows = conn.execute(select(web_account_table).order_by(web_account_table.c.name)).all()
    return [
        AccountRow(
            name=r.name,
            role=r.role,
            school=r.school,
            local=r.password_hash is not None,
            disabled=bool(r.disabled),
            created_at=r.created_at,
            created_by=r.created_by,
        )
        for r in rows
    ]


def disable_account(store: Store, name: str) -> None:
    """Stop `name` signing in (its row stays: events and reads still name it); refused, nothing
    written, if there is no such account or it is disabled already.
    """
    _set_disabled(store, name, disabled=True)


def enable_account(store: Store, name: str) -> None:
    """Let a disabled account sign in again; refused, nothing written, if it is not disabled."""
    _set_disabled(store, name, disabled=False)


def _set_disabled(store: Store, name: str, *, disabled: bool) -> None:
    with store.engine.begin() as conn:
        row = conn.execute(
            select(web_account_table.c.disabled).where(web_account_table.c.name == name)
        ).first()
        if row is None:
            raise AccountRefused(f"there is no account named {name!r}; nothing was changed")
        if bool(row.disabled) == disabled:
            state = "disabled" if disabled else "enabled"
            raise AccountRefused(f"the account {name!r} is {state} already; nothing was changed")
        conn.execute(
            update(web_account_table)
            .where(web_account_table.c.name == name)
            .values(disabled=disabled)
        )


def set_password(store: Store, name: str, password: str) -> None:
    """Give a local account a new password (a forgotten one); refused, nothing written, for no
    such account, a council account (its password is the council's) or a short password.
    """
    _check_length(password)
    with store.engine.begin() as conn:
        row = conn.execute(
            select(web_account_table.c.password_hash).where(web_account_table.c.name == name)
        ).first()
        if row is None:
            raise AccountRefused(f"there is no account named {name!r}; nothing was changed")
        if row.password_hash is None:
            raise AccountRefused(
                f"{name!r} signs in with a council account; its password is the council's, "
                "not set here. Nothing was changed"
            )
        conn.execute(
            update(web_account_table)
            .where(web_account_table.c.name == name)
            .values(password_hash=_hasher.hash(password))
        )
