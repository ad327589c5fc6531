"""A scenario walk recorded late enough for cases in the 2026-27 school year: `Walk` records every
command at RECORDED_AT (1 September 2025), and no command may take effect after it is recorded."""

from __future__ import annotations

import datetime as dt

from tests.scenarios.helpers import Walk

LATE_RECORDED_AT = dt.datetime(2027, 8, 31, 9, 0, tzinfo=dt.UTC)
"""After every effective date of the london calendar's last school year (2026-27)."""


class LateWalk(Walk):
    """`Walk`, every command recorded at LATE_RECORDED_AT."""

    recorded_at = LATE_RECORDED_AT
