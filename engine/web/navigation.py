"""The service's sections, by who may use them: one list, read by the header of every page."""

from __future__ import annotations

from dataclasses import dataclass

from engine.protection.access import Permission, RoleTable


@dataclass(frozen=True)
class Section:
    """A section of the service in the header: its label, address and who sees it."""

    label: str
    href: str
    permission: Permission | None = None
    roles: tuple[str, ...] = ()
    """When given, only these roles see it (e.g. the line manager's decisions)."""
    hidden_from: tuple[str, ...] = ()
    """Roles that never see it (a school: reports cover every case)."""


SECTIONS: tuple[Section, ...] = (
    Section("My cases", "/cases", Permission.change_case),
    Section("Open a case", "/cases/new", Permission.change_case, roles=("cme_officer", "school")),
    Section("Find a child", "/cases/find", Permission.read_case),
    Section("Decisions", "/decisions", Permission.change_case, roles=("line_manager",)),
    Section(
        "Escalations", "/escalations", Permission.change_case, roles=("line_manager", "cme_officer")
    ),
    Section("Reports", "/reports", Permission.read_case, hidden_from=("school",)),
    Section("Audit", "/audit", Permission.read_audit),
    Section("Processes", "/processes", Permission.load_process),
    Section("Calendars", "/calendars", Permission.load_process),
)


def sections_for(role: str, table: RoleTable) -> list[Section]:
    """The sections a role sees, in order."""
    return [
        s
        for s in SECTIONS
        if (s.permission is None or table.allows(role, s.permission))
        and (not s.roles or role in s.roles)
        and role not in s.hidden_from
    ]
