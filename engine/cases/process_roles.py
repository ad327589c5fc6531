"""The roles of a process, as the decision judges them: whether a role acts in the process at all,
and who may record each check and fact (the roles its `recorded_by` reserves it to), for every
command and import that writes one, before anything is written.

An empty `recorded_by` means any role of the process. A refusal names the check or fact in the
policy's words, the role used and the roles that may, so the person knows whom to ask (e.g.
section 4.3: only the CME Officer confirms receipt of a school's notification). Pure: no database.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from engine.errors import CommandRefused, RoleNotPermitted
from engine.protection.access import Actor

if TYPE_CHECKING:
    from engine.language.definition import CheckDefinition, ProcessDefinition

SCHEDULER = "scheduler"
"""The actor and role of steps the scheduler takes (timers and escalations)."""

SCHEDULER_ACTOR = Actor(SCHEDULER, SCHEDULER)


def role_refusal(
    definition: ProcessDefinition, actor: Actor, doing: str
) -> RoleNotPermitted | None:
    """The refusal of an actor whose role is not one of the process's (the scheduler's is)."""
    if actor.role == SCHEDULER or actor.role in definition.roles:
        return None
    return RoleNotPermitted(
        role=actor.role,
        doing=doing,
        process=definition.id,
        allowed={r: role.title for r, role in definition.roles.items()},
    )


def recorder_refusals(
    definition: ProcessDefinition,
    actor: Actor,
    *,
    checks: Collection[CheckDefinition] = (),
    facts: Collection[str] = (),
    refused: Collection[CommandRefused] = (),
) -> list[RoleNotPermitted]:
    """A refusal for each check and fact (by name) that `actor` may not record.

    None when `refused` already holds a role refusal (a role outside the process is refused
    once), nor for the engine itself, which records a check only when a letter the process sends
    records it (`records_check`), on the process's own authority.
    """
    if actor.role == SCHEDULER or any(isinstance(r, RoleNotPermitted) for r in refused):
        return []
    found = [_check_refusal(definition, check, actor.role) for check in checks]
    found += [_fact_refusal(definition, name, actor.role) for name in dict.fromkeys(facts)]
    return [r for r in found if r is not None]


def open_refusals(
    definition: ProcessDefinition, actor: Actor, facts: Collection[str]
) -> list[CommandRefused]:
    """Every reason `actor` may not open a case of `definition` recording `facts` (those a
    notification form gives): a role outside the process, or facts reserved to other roles.
    """
    role = role_refusal(definition, actor, "open a case")
    return [role] if role is not None else [*recorder_refusals(definition, actor, facts=facts)]


def _check_refusal(
    definition: ProcessDefinition, check: CheckDefinition, role: str
) -> RoleNotPermitted | None:
    return _refusal(
        definition,
        role,
        check.recorded_by,
        recorded=f"check {check.id} ({_clause(check.wording)})",
        doing=f"record check {check.id}",
    )


def _fact_refusal(definition: ProcessDefinition, name: str, role: str) -> RoleNotPermitted | None:
    # An undeclared fact is refused elsewhere, as unknown.
    fact = definition.facts.get(name)
    if fact is None:
        return None
    return _refusal(
        definition,
        role,
        fact.recorded_by,
        recorded=f"fact {name} ({_clause(fact.description)})",
        doing=f"record fact {name}",
    )


def _refusal(
    definition: ProcessDefinition,
    role: str,
    recorded_by: Sequence[str],
    *,
    recorded: str,
    doing: str,
) -> RoleNotPermitted | None:
    if not recorded_by or role in recorded_by:
        return None
    roles = definition.roles
    used = roles.get(role)
    return RoleNotPermitted(
        role=role,
        allowed={r: roles[r].title if r in roles else r for r in recorded_by},
        doing=doing,
        process=definition.id,
        recorded=recorded,
        role_title=used.title if used is not None else None,
    )


def _clause(text: str) -> str:
    """Policy wording as a clause inside brackets: one line, without its closing full stop."""
    return " ".join(text.split()).rstrip(".")


__all__ = [
    "SCHEDULER",
    "SCHEDULER_ACTOR",
    "open_refusals",
    "recorder_refusals",
    "role_refusal",
]
