"""Ground-specific steps: a removal step belongs to one ground, and no step is offered or taken
for another ground than the one recorded on the case.

A process with a `ground` fact (the removal grounds) has steps that belong to one ground: those
with a guard `ground == '<value>'`. The same letter names different grounds in different
regulations (2006's 8(1)(h), continuous absence, is 2024's Ground I; 2024's Ground H is a leave
of absence), so a "did you mean" built from spelling alone can point to the wrong ground. Owns:
which ground each step is for, the "no such step" refusal that never suggests another ground's
step, and the refusal of a step for another ground than the recorded one. Pure: no database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.errors import UnknownStep, WrongGround, close_matches, suggest
from engine.language.definition import ProcessDefinition, TriggerDefinition

GROUND_FACT = "ground"
"""The fact a case records its ground in."""

_FOR_GROUND = re.compile(rf"""\s*{GROUND_FACT}\s*==\s*(['"])(?P<value>[^'"]+)\1\s*""")

_BY_DEFINITION: dict[int, tuple[ProcessDefinition, dict[str, str]]] = {}


def step_grounds(definition: ProcessDefinition) -> dict[str, str]:
    """The ground each ground-specific step is for, by step id (found once per definition)."""
    found = _BY_DEFINITION.get(id(definition))
    if found is None or found[0] is not definition:
        grounds: dict[str, str] = {}
        if GROUND_FACT in definition.facts:
            for trig in definition.triggers:
                for cond in trig.guards:
                    match = _FOR_GROUND.fullmatch(cond.expr)
                    if match:
                        grounds[trig.id] = match.group("value")
                        break
        found = _BY_DEFINITION[id(definition)] = (definition, grounds)
    return found[1]


def unknown_step(
    definition: ProcessDefinition, step: str, facts: Mapping[str, Any] | None = None
) -> UnknownStep:
    """The refusal of a step the process lacks. Its "did you mean" never names a step for
    another ground than the case's recorded one; where the name looked like one, it names the
    step for the recorded ground instead (or asks for the ground to be recorded).
    """
    grounds = step_grounds(definition)
    known = [t.id for t in definition.triggers]
    recorded = (facts or {}).get(GROUND_FACT)
    offered = [t for t in known if t not in grounds or grounds[t] == recorded]
    message = f"{definition.id} has no step {step!r}"
    # Spelt like a step for another ground: name the recorded ground's own step, never that one.
    looked_like = any(grounds.get(t) not in (None, recorded) for t in close_matches(step, known))
    own = [t for t, g in grounds.items() if g == recorded]
    if looked_like and recorded is None:
        message += "; each ground has its own removal step: record the case's ground first"
    elif looked_like and own:
        message += f"; the step for this case's ground ({recorded}) is {' or '.join(own)}"
    else:
        message += suggest(step, offered, what="steps")
    return UnknownStep(message, name=step, known=offered, process=definition.id)


def wrong_ground(
    definition: ProcessDefinition,
    trig: TriggerDefinition,
    facts: Mapping[str, Any],
    stage: str | None = None,
) -> WrongGround | None:
    """The refusal of a step for another ground than the one recorded, or None. It names the
    recorded ground's own steps (those that may be taken from `stage`, if any may).
    """
    grounds = step_grounds(definition)
    ground = grounds.get(trig.id)
    recorded = facts.get(GROUND_FACT)
    if ground is None or recorded is None or recorded == ground:
        return None
    own = [t for t, g in grounds.items() if g == recorded]
    from_here = [
        t.id for t in definition.triggers if t.id in own and stage in definition.source_states(t)
    ]
    return WrongGround(
        step=trig.id, step_ground=ground, recorded=str(recorded), steps=from_here or own
    )


__all__ = ["GROUND_FACT", "step_grounds", "unknown_step", "wrong_ground"]
