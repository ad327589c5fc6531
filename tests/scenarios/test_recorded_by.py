"""Section 4.3's safeguard holds: "Please wait for CME Officer to confirm receipt before off
rolling". A school cannot record the CME Officer's confirmation of receipt for them (nothing is
written, and its removal stays refused), on the 2006 grounds and the 2024 grounds alike; once the
CME Officer confirms, the removal goes through.
"""

from __future__ import annotations

import pytest

from engine.errors import MissingChecks, RoleNotPermitted
from tests.scenarios import test_removal_grounds as grounds_2006
from tests.scenarios import test_removal_grounds_2024 as grounds_2024
from tests.scenarios.helpers import SCHOOL
from tests.scenarios.removal import Ground, Timeline, confirm, propose

REMOVALS = [
    pytest.param(grounds_2006.GROUNDS[7], grounds_2006.T, id="2006 8(1)(h)"),
    pytest.param(grounds_2024.GROUNDS[8], grounds_2024.T, id="2024 Ground I"),
]


@pytest.mark.parametrize(("g", "t"), REMOVALS)
def test_a_school_cannot_confirm_receipt_for_the_cme_officer(
    sqlite_service, g: Ground, t: Timeline
) -> None:
    walk = propose(sqlite_service, g, t)
    walk.facts({"off_roll_date": t.removed}, on=t.removed, actor=SCHOOL)
    events = len(walk.events())
    error = walk.refused(
        RoleNotPermitted, "check", "cme_officer_confirmed_receipt", on=t.removed, actor=SCHOOL
    )
    message = str(error)
    assert message.startswith(
        "check cme_officer_confirmed_receipt (The CME Officer has confirmed receipt of the CME "
        "notification and the off roll date (Please wait for CME Officer to confirm receipt "
        "before off rolling))"
    )
    assert message.endswith(
        "may be recorded only by School Inclusion and Children Missing Education Officer "
        "(cme_officer); you are acting as School (designated staff) (school)"
    )
    assert (error.role, list(error.allowed)) == ("school", ["cme_officer"])
    assert len(walk.events()) == events
    assert "cme_officer_confirmed_receipt" not in walk.case.checks
    # The removal is still refused: the school cannot off-roll before the CME Officer confirms.
    refused = walk.refused(MissingChecks, "fire", g.remove, on=t.removed, actor=SCHOOL)
    assert refused.missing == ["cme_officer_confirmed_receipt"]
    assert walk.state == "awaiting_confirmation"
    confirm(walk, ("cme_officer_confirmed_receipt",), on=t.removed)  # by the CME Officer
    walk.fire(g.remove, on=t.removed, actor=SCHOOL)
    assert walk.state == "removed_from_roll"
