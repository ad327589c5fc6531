"""The base of the engine's exception tree: `CMEError` and its JSON form, the errors that are not
a refused command (bad definitions and input, unknown cases and processes, conflicts, integrity,
access), and the one `close_matches`/`suggest` behind every "did you mean".

Re-exported from `engine.errors`, where the tree and its vocabulary are described.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Issue:
    """One problem in a file, with where it is and, where we can tell, how to fix it."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


def _plain(value: Any) -> Any:
    """`value` as JSON-ready data: dates as ISO text, collections as lists, errors as JSON."""
    if isinstance(value, CMEError):
        return value.to_json()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Issue):
        return {
            "path": value.path,
            "line": value.line,
            "column": value.column,
            "message": value.message,
        }
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class CMEError(Exception):
    """Base of every error the engine raises on purpose.

    Subclasses set their facts as attributes before calling `super().__init__(message)`; every
    public attribute appears in `to_json()`.
    """

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1

    def details(self) -> dict[str, Any]:
        """The facts of the error (its public attributes), as JSON-ready data."""
        return {
            k: _plain(v)
            for k, v in vars(self).items()
            if not k.startswith("_") and k not in {"args"}
        }

    def to_json(self) -> dict[str, Any]:
        """`{"error": code, "message": ..., <attributes>}` for scripts (`--json`)."""
        return {"error": self.code, "message": str(self), **self.details()}


class DefinitionError(CMEError):
    """A process definition, calendar or rule file is invalid; carries every issue found."""

    code = "definition_error"

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.path, i.line, i.column))
        count = len(self.issues)
        lines = "\n".join(str(i) for i in self.issues)
        super().__init__(f"invalid for {count} reason{'s' if count != 1 else ''}:\n{lines}")


class CalendarError(CMEError):
    """A school-day question the calendar cannot answer (e.g. a date outside its years)."""

    code = "calendar_error"


class InputError(CMEError):
    """Bad input from a person or a file: a malformed UPN, a bad date, a bad form or CSV row."""

    code = "invalid_input"


class CountedFact(InputError):
    """A value typed for a fact the engine counts from recorded dates (a derived fact): `fact`,
    and the `dates` to record instead. Nothing is written.
    """

    code = "counted_fact"

    def __init__(self, message: str, *, fact: str, dates: Collection[str]) -> None:
        self.fact = fact
        self.dates = list(dates)
        super().__init__(message)


class ActorRequired(InputError):
    """A command that writes, or reads case data, was given no actor: every event and logged read
    names the person who did it, never "unknown".
    """

    code = "actor_required"


class CaseNotFound(CMEError):
    """No case has this id."""

    code = "unknown_case"

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"no case with id {case_id!r}; `cme case list` shows the open cases")


class UnknownProcess(CMEError):
    """No loaded process (or version) has this name."""

    code = "unknown_process"

    def __init__(
        self, message: str, *, process: str | None = None, version: int | None = None
    ) -> None:
        self.process = process
        self.version = version
        super().__init__(message)


class ConcurrentUpdate(CMEError):
    """Someone else appended to this case since it was read; nothing was written."""

    code = "conflict"
    exit_code = 3

    def __init__(
        self,
        message: str | None = None,
        *,
        case_id: str | None = None,
        expected_seq: int | None = None,
        found_seq: int | None = None,
    ) -> None:
        self.case_id = case_id
        self.expected_seq = expected_seq
        self.found_seq = found_seq
        if message is None:
            message = (
                f"case {case_id} is at event {found_seq}, not {expected_seq} as you "
                "expected: someone else changed it; nothing was written — look at it "
                "again and retry"
            )
        super().__init__(message)


class VersionNotRaised(CMEError):
    """A process or calendar file changed but its version number did not."""

    code = "version_not_raised"

    def __init__(
        self,
        message: str | None = None,
        *,
        kind: str = "process",
        name: str = "",
        version: int = 0,
        path: str = "",
    ) -> None:
        self.kind = kind
        self.name = name
        self.version = version
        self.path = path
        if message is None and kind == "calendar":
            message = (
                f"{path} changed since calendar {name} version {version} was loaded, "
                f"but its version was not raised; set `version: {version + 1}` and run "
                f"`cme calendar reload {name}`, so every deadline says which dates it was "
                "computed on and one version never gives two answers"
            )
        elif message is None:
            message = (
                f"{path} changed since {name} version {version} was loaded, but its "
                f"version was not raised; set `version: {version + 1}` (and its "
                "effective_from) so running cases keep the rules they started under"
            )
        super().__init__(message)


class IntegrityFailure(CMEError):
    """A case's stored history or projection does not verify."""

    code = "integrity_failure"
    exit_code = 4


class AccessDenied(CMEError):
    """The actor's role may not read or change this: who acted, in which role, what it needed
    (`permission`) and the roles that have it (`allowed`).
    """

    code = "access_denied"
    exit_code = 5

    def __init__(
        self,
        message: str,
        *,
        actor: str | None = None,
        role: str | None = None,
        permission: str | None = None,
        allowed: Collection[str] = (),
    ) -> None:
        self.actor = actor
        self.role = role
        self.permission = permission
        self.allowed = list(allowed)
        super().__init__(message)


def close_matches(name: str, candidates: Collection[str], *, n: int = 3) -> list[str]:
    """The known names closest to a misspelt `name`, best first (the one "did you mean")."""
    return difflib.get_close_matches(name, sorted(candidates), n=n, cutoff=0.6)


def suggest(name: str, candidates: Collection[str], *, what: str) -> str:
    """' did you mean …?' for a misspelt name, else the list of known names (short ones only)."""
    close = close_matches(name, candidates)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not candidates:
        return f"; no {what} are declared"
    names = sorted(candidates)
    listed = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    return f"; known {what}: {listed}"
