"""The engine's one exception tree: every error a person can act on, with its details as attributes.

Library exceptions (YAML, pydantic, SQLAlchemy, transitions, CEL) are translated into these at the
module that calls the library; the CLI maps these to messages and exit codes in one place.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem in a file, with where it is and, where we can tell, how to fix it."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class CMEError(Exception):
    """Base of every error the engine raises on purpose."""

    exit_code = 1


class DefinitionError(CMEError):
    """A process definition, calendar or rule file is invalid; carries every issue found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.path, i.line, i.column))
        count = len(self.issues)
        lines = "\n".join(str(i) for i in self.issues)
        super().__init__(f"invalid for {count} reason{'s' if count != 1 else ''}:\n{lines}")


class CalendarError(CMEError):
    """A school-day question the calendar cannot answer (e.g. a date outside its years)."""


class InputError(CMEError):
    """Bad input from a person or a file: a malformed UPN, a bad date, a bad form or CSV row."""


class CaseNotFound(CMEError):
    """No case has this id."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"no case with id {case_id!r}; `cme case list` shows the open cases")


class UnknownProcess(CMEError):
    """No loaded process (or version) has this name."""


class CommandRefused(CMEError):
    """A command the process does not allow now; the subclasses say why."""


class UnknownTrigger(CommandRefused):
    """The process has no trigger, check or fact with this name."""


class TransitionNotAllowed(CommandRefused):
    """The trigger exists but not from the case's current state."""


class RoleNotPermitted(CommandRefused):
    """The actor's role may not do this."""


class GuardFailed(CommandRefused):
    """A condition of the trigger does not hold; names each failing condition and the facts."""

    def __init__(self, message: str, *, failed: list[str], facts: dict[str, object]) -> None:
        self.failed = failed
        self.facts = facts
        super().__init__(message)


class MissingChecks(CommandRefused):
    """Checks the trigger requires have not been recorded."""

    def __init__(self, message: str, *, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(message)


class BackdatingRefused(CommandRefused):
    """An effective date earlier than the policy allows (e.g. a backdated off-roll date)."""


class ConcurrentUpdate(CMEError):
    """Someone else appended to this case since it was read; nothing was written."""

    exit_code = 3


class VersionNotRaised(CMEError):
    """A process file changed but its version number did not."""


class IntegrityFailure(CMEError):
    """A case's stored history or projection does not verify."""

    exit_code = 4


class AccessDenied(CMEError):
    """The actor's role may not read or change this."""

    exit_code = 5


def suggest(name: str, candidates: Collection[str], *, what: str) -> str:
    """' did you mean …?' for a misspelt name, else the list of known names (short ones only)."""
    close = difflib.get_close_matches(name, sorted(candidates), n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not candidates:
        return f"; no {what} are declared"
    names = sorted(candidates)
    listed = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    return f"; known {what}: {listed}"
