"""What a refusal quotes from the shipped processes is the policy's words: every condition's
`says` (shown as "condition not met: …") has no guard-language code and no drafting notes, which
belong in a step's `note`."""

from __future__ import annotations

import re

import pytest

from engine.language.registry import ProcessRegistry

CODE = re.compile(r"==|!=|&&|\|\||\bTrue\b|\bFalse\b|\bchecks\.|\beffective_date\b")
DRAFTING = re.compile(r"not confirmed|carried over|\bTODO\b|confirm (it|them) against", re.I)


def _conditions() -> list[tuple[str, str]]:
    found = []
    for compiled in ProcessRegistry.from_package():
        loaded = compiled.loaded
        for trig, conditions in loaded.trigger_guards.items():
            found += [
                (f"{compiled.definition.id} v{compiled.definition.version} {trig}", c.says)
                for c in conditions
            ]
        for timer, conditions in loaded.timer_conditions.items():
            found += [
                (f"{compiled.definition.id} v{compiled.definition.version} {timer}", c.says)
                for c in conditions
            ]
    return found


@pytest.mark.parametrize(("where", "says"), _conditions())
def test_a_condition_says_what_the_policy_says(where: str, says: str) -> None:
    assert not CODE.search(says), f"{where}: `says` reads as code: {says}"
    assert not DRAFTING.search(says), f"{where}: a drafting note belongs in `note`: {says}"
