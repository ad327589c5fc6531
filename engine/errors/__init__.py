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

The tree lives in two modules, both re-exported here: `engine.errors.base` (`CMEError`, the
errors that are not a refused command, `close_matches`) and `engine.errors.refusals`
(`CommandRefused`, its reasons, and `Refusal`).
"""

from __future__ import annotations

from engine.errors.base import (
    AccessDenied,
    ActorRequired,
    CalendarError,
    CaseNotFound,
    CMEError,
    ConcurrentUpdate,
    CountedFact,
    DefinitionError,
    InputError,
    IntegrityFailure,
    Issue,
    UnknownProcess,
    VersionNotRaised,
    close_matches,
    suggest,
)
from engine.errors.refusals import (
    BackdatingRefused,
    CaseClosed,
    CheckAlreadyRecorded,
    CommandRefused,
    GuardFailed,
    MissingChecks,
    Refusal,
    RepeatRefused,
    RoleNotPermitted,
    TransitionNotAllowed,
    UnknownCheck,
    UnknownFact,
    UnknownName,
    UnknownStep,
    UnknownTimer,
    UnknownTrigger,
    WaiverNotPermitted,
    WrongGround,
)

__all__ = [
    "AccessDenied",
    "ActorRequired",
    "BackdatingRefused",
    "CMEError",
    "CalendarError",
    "CaseClosed",
    "CaseNotFound",
    "CheckAlreadyRecorded",
    "CommandRefused",
    "ConcurrentUpdate",
    "CountedFact",
    "DefinitionError",
    "GuardFailed",
    "InputError",
    "IntegrityFailure",
    "Issue",
    "MissingChecks",
    "Refusal",
    "RepeatRefused",
    "RoleNotPermitted",
    "TransitionNotAllowed",
    "UnknownCheck",
    "UnknownFact",
    "UnknownName",
    "UnknownProcess",
    "UnknownStep",
    "UnknownTimer",
    "UnknownTrigger",
    "VersionNotRaised",
    "WaiverNotPermitted",
    "WrongGround",
    "close_matches",
    "suggest",
]
