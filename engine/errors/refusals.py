"""Commands the process does not allow now: `CommandRefused` and its reasons (unknown names, a
step not allowed from the stage, a role, a guard, missing checks, backdating, repeats), and
`Refusal`, one error holding several of them.

Re-exported from `engine.errors`, where the tree and its vocabulary are described.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from engine.errors.base import CMEError, close_matches, suggest


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
        bases: Collection[str | None] | None = None,
    ) -> None:
        self.step = step
        self.failed = failed
        self.facts = dict(facts)
        self.unset = list(unset)
        self.read = list(read) if read is not None else None
        self.bases = list(bases) if bases is not None else [None] * len(failed)
        """Each failing condition's basis in words ("law: Regulation 9(1)(h)"), or None."""
        if self.unset:
            about = described or {}
            message = f"{step} needs these facts recorded first: " + "; ".join(
                f"{f} ({_clause(about[f])})" if about.get(f) else f for f in self.unset
            )
        elif self.read is not None:
            message = f"{step} refused: " + "; ".join(
                f"condition not met: {says}"
                + (f" ({values})" if values else "")
                + (f" ({basis})" if basis else "")
                for says, values, basis in zip(failed, self.read, self.bases, strict=True)
            )
        else:
            shown = "; ".join(f"{n}: {_show(v)}" for n, v in self.facts.items())
            message = (
                f"{step} refused: "
                + "; ".join(
                    f"condition not met: {says}" + (f" ({basis})" if basis else "")
                    for says, basis in zip(failed, self.bases, strict=True)
                )
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

    def __init__(
        self,
        *,
        step: str,
        missing: Mapping[str, str],
        bases: Mapping[str, str | None] | None = None,
    ) -> None:
        self.step = step
        self.missing = list(missing)
        self.wording = dict(missing)
        self.bases = dict(bases or {})
        """Each missing check's basis in words ("policy: Appendix 7, Day 16-25"), where known."""
        super().__init__(
            f"{step} needs these checks recorded first: "
            + "; ".join(
                f"{c} ({_clause(w)})" + (f" ({self.bases[c]})" if self.bases.get(c) else "")
                for c, w in missing.items()
            )
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
