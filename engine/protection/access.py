"""Who may do what: the role table (`processes/roles.yaml`), `require`, and the log of reads.

Owns the one check every command and read goes through (`require(actor, permission)`) and the
record that a person read a case (`log_read`). Does not own which steps a role may take within a
process: the process YAML's `roles:` on each trigger stays that gate (`service.py`).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert
from sqlalchemy.engine import Connection

from engine.errors import AccessDenied, DefinitionError, Issue, suggest
from engine.language.yamlsafe import load_yaml, pydantic_issues
from engine.store.database import Store
from engine.store.tables import access_log_table

ROLES_FILE = "roles.yaml"


class Permission(StrEnum):
    """What a role may be allowed to do."""

    read_case = "read_case"
    change_case = "change_case"
    read_audit = "read_audit"
    load_process = "load_process"
    admin = "admin"


DOING: dict[Permission, str] = {
    Permission.read_case: "read case records",
    Permission.change_case: "change case records",
    Permission.read_audit: "read audit trails",
    Permission.load_process: "load process definitions",
    Permission.admin: "apply retention or legal holds",
}


@dataclass(frozen=True)
class Actor:
    """Who does something, and in which role."""

    name: str
    role: str


class ActorLike(Protocol):
    """Anything with a name and a role (an `Actor`)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


class _Strict(BaseModel):
    # No `use_attribute_docstrings`: no JSON Schema is made from these models, and reading the
    # docstrings from source (pydantic uses `inspect`) cost every command ~15 ms at start-up.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class RoleDefinition(_Strict):
    """One role of the table: what it is called and what it may do."""

    title: str = Field(min_length=1)
    description: str | None = None
    permissions: list[Permission]
    """What people in this role may do (read_case, change_case, read_audit, load_process, admin)."""
    internal: bool = False
    """The engine's own role (the scheduler): no person may act in it."""


class RoleTableDefinition(_Strict):
    """The role table file (`kind: roles`)."""

    kind: Literal["roles"]
    version: int = Field(ge=1)
    roles: dict[str, RoleDefinition] = Field(min_length=1)


class RoleTable:
    """Roles by id, answering whether a role may do something."""

    def __init__(self, definition: RoleTableDefinition, *, source: str) -> None:
        self.definition = definition
        self.source = source

    @property
    def roles(self) -> dict[str, RoleDefinition]:
        """The roles, by id."""
        return self.definition.roles

    def allows(self, role: str, permission: Permission) -> bool:
        """Whether `role` has `permission` (False for a role the table does not know)."""
        entry = self.roles.get(role)
        return entry is not None and permission in entry.permissions

    def require(
        self, actor: ActorLike, permission: Permission, *, doing: str | None = None
    ) -> None:
        """Refuse (AccessDenied) unless the actor's role has `permission`."""
        entry = self.roles.get(actor.role)
        what = doing or DOING[permission]
        if entry is None:
            raise AccessDenied(
                f"{actor.name} is acting as {actor.role!r}, which is not a role in {self.source}"
                + suggest(actor.role, self.roles, what="roles")
                + "; nothing was done",
                actor=actor.name,
                role=actor.role,
                permission=str(permission),
            )
        if permission not in entry.permissions:
            who = [
                r for r, e in self.roles.items() if permission in e.permissions and not e.internal
            ]
            raise AccessDenied(
                f"{actor.name} ({entry.title}, {actor.role}) may not {what}; roles that may: "
                f"{', '.join(who) or 'none'}. Nothing was done",
                actor=actor.name,
                role=actor.role,
                permission=str(permission),
                allowed=who,
            )

    def refuse_internal(self, role: str) -> None:
        """Refuse a person claiming the engine's own role (e.g. `--role scheduler`)."""
        entry = self.roles.get(role)
        if entry is not None and entry.internal:
            raise AccessDenied(
                f"{role!r} is the engine's own role; a person cannot act in it. Use your own role "
                "(e.g. cme_officer), or `cme tick` to run due timers",
                role=role,
            )

    def missing_process_roles(self, process_roles: Iterable[tuple[str, str]]) -> list[str]:
        """Process roles (process id, role id) that the table lacks or cannot change cases."""
        return [
            f"{pid}: {role}"
            for pid, role in process_roles
            if not self.allows(role, Permission.change_case)
        ]


def parse_role_table(text: str, path: str) -> RoleTable:
    """Validate role-table text; one DefinitionError carrying every issue with its place."""
    doc = load_yaml(text, path)
    if not isinstance(doc.data, dict):
        raise DefinitionError([doc.issue((), "a role table is a mapping: kind, version, roles")])
    try:
        definition = RoleTableDefinition.model_validate(doc.data)
    except ValidationError as exc:
        raise DefinitionError(pydantic_issues(doc, exc.errors())) from None
    return RoleTable(definition, source=path)


def load_role_table(path: str | os.PathLike[str] | None = None) -> RoleTable:
    """The role table at `path`, or the shipped `processes/roles.yaml`."""
    if path is None:
        return shipped_role_table()
    label = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError([Issue(label, 1, 1, f"cannot read the role table: {exc}")]) from None
    return parse_role_table(text, label)


@functools.cache
def shipped_role_table() -> RoleTable:
    """The role table shipped in `processes/roles.yaml` (read once)."""
    text = resources.files("processes").joinpath(ROLES_FILE).read_text(encoding="utf-8")
    return parse_role_table(text, f"processes/{ROLES_FILE}")


def require(
    actor: ActorLike,
    permission: Permission,
    *,
    table: RoleTable | None = None,
    doing: str | None = None,
) -> None:
    """The one access check: refuse (AccessDenied) unless the actor's role has `permission`."""
    (table or shipped_role_table()).require(actor, permission, doing=doing)


def log_read(
    conn: Connection, actor: ActorLike, *, case_id: str | None, action: str, at: dt.datetime
) -> None:
    """Record, inside the caller's transaction, that `actor` read a case (or many: case_id None)."""
    conn.execute(
        insert(access_log_table).values(
            case_id=case_id,
            actor=actor.name,
            role=actor.role,
            action=action,
            at=at,
        )
    )


def authorise_read(
    store: Store,
    actor: ActorLike,
    *,
    case_ids: Iterable[str | None],
    action: str,
    at: dt.datetime,
    permission: Permission = Permission.read_case,
    table: RoleTable | None = None,
) -> None:
    """Check a read is allowed, then log it (one row per case) before any data is returned."""
    require(actor, permission, table=table)
    with store.engine.begin() as conn:
        for case_id in case_ids:
            log_read(conn, actor, case_id=case_id, action=action, at=at)


__all__ = [
    "Permission",
    "RoleDefinition",
    "RoleTable",
    "authorise_read",
    "load_role_table",
    "log_read",
    "require",
    "shipped_role_table",
]
