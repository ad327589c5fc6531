"""The engine's one exception tree: every error a person can act on, with its details as attributes.

Library exceptions (YAML, pydantic, SQLAlchemy, transitions, CEL) are translated into these at the
module that calls the library; the CLI maps these to messages and exit codes in one place
(`engine/cli/common.py`: text, or JSON with `--json`).

Each error holds the facts of the refusal as attributes (the case, the stage, the step and the
steps allowed; the role and the roles allowed; the requested and the latest date; a name and its
suggestions) and builds its own message from them. `code` is a stable machine name scripts may
rely on; `to_json()` is `{"error": code, "message": ..., <attributes>}`.

A command refused for several reasons raises one `Refusal` holding each (code "refused", its
`reasons` each with its own code); it is also an instance of each reason's class, so
`except GuardFailed` still catches a refusal one of whose reasons is a failing guard.

One vocabulary. Messages say what the policy says: a *step* (the YAML's and the code's
`trigger`), a *stage* (the YAML's and the code's `state`), a *check*, a *fact* and a *timer*:

    in code and YAML        in messages      error (code)
    trigger                 step             UnknownStep = UnknownTrigger ("unknown_name"),
                                             TransitionNotAllowed ("step_not_allowed")
    state                   stage            TransitionNotAllowed.stage, CaseClosed.stage
    check                   check            UnknownCheck ("unknown_name"), MissingChecks
    fact                    fact             UnknownFact ("unknown_name"), GuardFailed.unset
    timer                   timer            UnknownTimer ("unknown_name")

Unknown names share the code "unknown_name" and say which in `kind`; every "did you mean"
comes from `close_matches` (and `suggest`, which words it).
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


class CommandRefused(CMEError):
    """A command the process does not allow now; the subclasses say why."""

    code = "command_refused"


class UnknownName(CommandRefused):
    """The process (or file) declares no step, check, fact, … with this name."""

    code = "unknown_name"
    kind: ClassVar[str] = "name"

    def __init__(
        self,
        message: str | None = None,
        *,
        name: str = "",
        known: Collection[str] = (),
        process: str | None = None,
    ) -> None:
        self.kind = type(self).kind  # type: ignore[misc]  # the instance carries it to JSON
        self.name = name
        self.process = process
        self.suggestions = close_matches(name, known)
        self.known = sorted(known)
        if message is None:
            message = f"{process or 'this process'} has no {self.kind} {name!r}" + suggest(
                name, known, what=f"{self.kind}s"
            )
        super().__init__(message)


class UnknownStep(UnknownName):
    """The process has no step (trigger) with this name."""

    kind = "step"


UnknownTrigger = UnknownStep
"""The code's name for `UnknownStep` (a step is a `trigger` in the YAML)."""


class UnknownCheck(UnknownName):
    """The process has no check with this name."""

    kind = "check"


class UnknownFact(UnknownName):
    """The process declares no fact with this name."""

    kind = "fact"


class UnknownTimer(UnknownName):
    """The process has no timer with this name."""

    kind = "timer"


class TransitionNotAllowed(CommandRefused):
    """The step exists but not from the case's current stage."""

    code = "step_not_allowed"

    def __init__(
        self,
        message: str | None = None,
        *,
        case_id: str | None = None,
        step: str | None = None,
        stage: str | None = None,
        stage_title: str | None = None,
        allowed: Collection[str] = (),
    ) -> None:
        self.case_id = case_id
        self.step = step
        self.stage = stage
        self.allowed = list(allowed)
        if message is None:
            title = f" ({stage_title})" if stage_title else ""
            message = (
                f"{step} cannot be taken from {stage}{title}; from here: "
                f"{', '.join(self.allowed) or 'nothing'}"
            )
        super().__init__(message)


class CaseClosed(TransitionNotAllowed):
    """The case is closed (in a terminal stage): no step, check or fact may be recorded."""

    code = "case_closed"

    def __init__(
        self,
        case_id: str,
        *,
        stage: str,
        closed_on: dt.date | None,
        doing: str,
        closed_words: str | None = None,
    ) -> None:
        # `closed_words`: the closing date as people write it (the caller has the formatter).
        self.closed_on = closed_on
        self.doing = doing
        super().__init__(
            f"case {case_id} is closed ({stage} on {closed_words or closed_on}); cannot {doing}",
            case_id=case_id,
            stage=stage,
        )


class RoleNotPermitted(CommandRefused):
    """The actor's role may not do this: `allowed` maps each role that may to its title.

    `recorded` names a check or fact the process reserves to the `allowed` roles (its
    `recorded_by`), in the policy's words; `role_title` is the title of the role used.
    """

    code = "role_not_permitted"

    def __init__(
        self,
        *,
        role: str,
        allowed: Mapping[str, str],
        doing: str,
        process: str | None = None,
        step: str | None = None,
        step_title: str | None = None,
        recorded: str | None = None,
        role_title: str | None = None,
    ) -> None:
        self.role = role
        self.allowed = dict(allowed)
        self.doing = doing
        self.process = process
        self.step = step
        self.recorded = recorded
        acting = f"{role_title} ({role})" if role_title else role
        if recorded is not None:
            # A check or fact the process reserves to some of its roles (`recorded_by`).
            titles = " or ".join(f"{t} ({r})" for r, t in self.allowed.items())
            message = f"{recorded} may be recorded only by {titles}; you are acting as {acting}"
        elif step is not None and role == "scheduler":
            message = f"{step} is not a step a timer may take"
        elif step is not None:
            titles = ", ".join(f"{t} ({r})" for r, t in self.allowed.items())
            message = (
                f"{step} ({step_title}) may be taken only by {titles}; you are acting as {acting}"
            )
        else:
            titles = ", ".join(f"{t} ({r})" for r, t in self.allowed.items())
            message = (
                f"role {role!r} may not {doing} in {process}, which is done only by its roles: "
                f"{titles}"
            )
        super().__init__(message)


class WaiverNotPermitted(CommandRefused):
    """The actor's role may not waive this check: `allowed` maps each role that may (the check's
    `waived_by`) to its title; empty when the check cannot be waived at all.
    """

    code = "waiver_not_permitted"

    def __init__(self, *, check: str, wording: str, role: str, allowed: Mapping[str, str]) -> None:
        self.check = check
        self.role = role
        self.allowed = dict(allowed)
        if self.allowed:
            titles = " or ".join(f"{t} ({r})" for r, t in self.allowed.items())
            message = (
                f"check {check} ({wording}) may be waived only by {titles}; you are acting as "
                f"{role}"
            )
        else:
            message = (
                f"check {check} ({wording}) cannot be waived: the process lets no role waive it; "
                "record it when it is done"
            )
        super().__init__(message)


class GuardFailed(CommandRefused):
    """A condition of the step does not hold: names each failing condition (`failed`, its
    `says`), the values they read (`facts`, as data) and the facts the step needs that are not
    recorded (`unset`).

    `read` gives, for each failing condition, the values it read as a person writes them
    ("crime_suspected: no; it is Day 2 of the case"), built by the caller, which knows each
    fact's type; `described` gives an unset fact's description. Without `read`, the values are
    shown plainly after the conditions.
    """

    code = "guard_failed"

    def __init__(
        self,
        *,
        step: str,
        failed: list[str],
        facts: Mapping[str, object],
        unset: Collection[str] = (),
        read: Collection[str] | None = None,
        described: Mapping[str, str] | None = None,
    ) -> None:
        self.step = step
        self.failed = failed
        self.facts = dict(facts)
        self.unset = list(unset)
        self.read = list(read) if read is not None else None
        if self.unset:
            about = described or {}
            message = f"{step} needs these facts recorded first: " + "; ".join(
                f"{f} ({_clause(about[f])})" if about.get(f) else f for f in self.unset
            )
        elif self.read is not None:
            message = f"{step} refused: " + "; ".join(
                f"condition not met: {says}" + (f" ({values})" if values else "")
                for says, values in zip(failed, self.read, strict=True)
            )
        else:
            shown = "; ".join(f"{n}: {_show(v)}" for n, v in self.facts.items())
            message = (
                f"{step} refused: "
                + "; ".join(f"condition not met: {says}" for says in failed)
                + (f" ({shown})" if shown else "")
            )
        super().__init__(message)


class WrongGround(CommandRefused):
    """A removal step for another ground than the one recorded on the case: names both, and
    the step for the recorded ground (`steps`), so nobody is asked for the other ground's facts.
    """

    code = "wrong_ground"

    def __init__(
        self, *, step: str, step_ground: str, recorded: str, steps: Collection[str] = ()
    ) -> None:
        self.step = step
        self.step_ground = step_ground
        self.recorded = recorded
        self.steps = list(steps)
        take = f"take {' or '.join(self.steps)} for {recorded}, or " if self.steps else ""
        super().__init__(
            f"{step} is the step for {step_ground}, but the ground recorded for this case is "
            f"{recorded}: {take}record ground {step_ground!r} first if that is the ground"
        )


class MissingChecks(CommandRefused):
    """Checks the step requires have not been recorded (`missing`, each with its wording)."""

    code = "missing_checks"

    def __init__(self, *, step: str, missing: Mapping[str, str]) -> None:
        self.step = step
        self.missing = list(missing)
        self.wording = dict(missing)
        super().__init__(
            f"{step} needs these checks recorded first: "
            + "; ".join(f"{c} ({_clause(w)})" for c, w in missing.items())
        )


class BackdatingRefused(CommandRefused):
    """An effective date earlier than the policy allows (e.g. a backdated off-roll date)."""

    code = "backdated"

    def __init__(
        self,
        message: str | None = None,
        *,
        case_id: str | None = None,
        requested: dt.date | None = None,
        latest: dt.date | None = None,
    ) -> None:
        self.case_id = case_id
        self.requested = requested
        self.latest = latest
        if message is None:
            assert requested is not None
            assert latest is not None
            message = (
                f"case {case_id}'s latest event took effect on {latest.isoformat()}; "
                f"a step cannot take effect earlier ({requested.isoformat()}): "
                "history runs forwards"
            )
        super().__init__(message)


def _day(day: dt.date) -> str:
    # As people write dates (engine.time.words sits above this module).
    return f"{day.day} {day:%b %Y}"


class RepeatRefused(CommandRefused):
    """A step that keeps the stage (e.g. a MASH referral) taken again on the same day for the
    same case: refused unless the officer says it is deliberate, with a reason.
    """

    code = "repeat_refused"

    def __init__(
        self,
        *,
        case_id: str,
        step: str,
        on: dt.date,
        seq: int,
        by: str,
        role: str,
        step_title: str | None = None,
    ) -> None:
        self.case_id = case_id
        self.step = step
        self.on = on
        self.seq = seq
        self.by = by
        self.role = role
        what = f"{step} ({step_title})" if step_title else step
        super().__init__(
            f"step {what} was already taken on case {case_id} on {_day(on)}, by {by} ({role}, "
            f"event {seq}); taking it again the same day would do it twice (a second referral, "
            "a second letter). If that is what you mean, say so: --deliberate --reason TEXT"
        )


class CheckAlreadyRecorded(CommandRefused):
    """A check recorded again without saying it is an amendment: the first outcome would be lost
    from view, so the officer amends it, with a reason, and both are kept.
    """

    code = "check_already_recorded"

    def __init__(
        self,
        *,
        case_id: str,
        check: str,
        on: dt.date,
        by: str | None,
        role: str | None,
        seq: int | None,
        wording: str | None = None,
    ) -> None:
        self.case_id = case_id
        self.check = check
        self.on = on
        self.by = by
        self.role = role
        self.seq = seq
        who = f" by {by} ({role})" if by else ""
        event = f", event {seq}" if seq is not None else ""
        what = f"{check} ({wording})" if wording else check
        super().__init__(
            f"check {what} was already recorded on case {case_id}: on {_day(on)}{who}{event}. "
            "To change what it found, amend it, keeping both outcomes: --amend --reason TEXT"
        )


class Refusal(CommandRefused):
    """A command refused for more than one reason: `reasons` holds every one, in the order the
    policy states them. A single reason is raised as itself.

    A refusal *is* each of its reasons: `Refusal.of([MissingChecks(…), GuardFailed(…)])` is
    caught by `except MissingChecks` and by `except GuardFailed`, and an attribute of a reason
    (`.missing`, `.failed`) reads from the first reason that has it.
    """

    code = "refused"

    def __init__(self, reasons: list[CommandRefused]) -> None:
        self.reasons = reasons
        super(CMEError, self).__init__(
            f"refused for {len(reasons)} reasons:\n" + "\n".join(f"- {r}" for r in reasons)
        )

    def __getattr__(self, name: str) -> Any:
        # Only called when the usual lookup fails: a reason's own attribute.
        for reason in self.__dict__.get("reasons", ()):
            if name in vars(reason):
                return getattr(reason, name)
        raise AttributeError(name)

    @classmethod
    def of(cls, reasons: list[CommandRefused]) -> CommandRefused:
        """The error to raise for `reasons` (at least one): the reason itself if it is alone,
        else a Refusal that is also every kind of its reasons.
        """
        if len(reasons) == 1:
            return reasons[0]
        kinds = tuple(dict.fromkeys(type(r) for r in reasons))
        # The most specific kinds only (a CaseClosed is a TransitionNotAllowed already).
        kinds = tuple(k for k in kinds if not any(o is not k and issubclass(o, k) for o in kinds))
        combined = _REFUSALS.get(kinds)
        if combined is None:
            combined = _REFUSALS[kinds] = type(
                "Refusal", (cls, *kinds), {"__module__": __name__, "__qualname__": "Refusal"}
            )
        return combined(reasons)


_REFUSALS: dict[tuple[type[CommandRefused], ...], type[Refusal]] = {}
"""The Refusal class for each combination of reasons, made once."""


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


def _clause(text: str) -> str:
    """Policy wording in brackets after a name: one line, without its closing full stop."""
    return " ".join(text.split()).rstrip(".")


def _show(value: object) -> str:
    """A value as a person writes it: yes/no, not `True`/`False`; whole numbers without `.0`.
    (Dates and enum values are written by the caller, which knows a fact's type.)
    """
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
