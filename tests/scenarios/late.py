"""A scenario walk recorded late enough for cases in the 2026-27 school year: `Walk` records every
command at RECORDED_AT (1 September 2025), and no command may take effect after it is recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.cases.notification import NotificationForm
from engine.cases.service import Actor, CaseService, CommandResult
from tests.scenarios.helpers import OFFICER, Walk, assert_replays, sweep

LATE_RECORDED_AT = dt.datetime(2027, 8, 31, 9, 0, tzinfo=dt.UTC)
"""After every effective date of the london calendar's last school year (2026-27)."""


class LateWalk(Walk):
    """`Walk`, every command recorded at LATE_RECORDED_AT."""

    @classmethod
    def open(
        cls,
        service: CaseService,
        form: NotificationForm,
        *,
        on: dt.date,
        actor: Actor = OFFICER,
        process: str = "untraceable_cme",
        calendar: str | None = None,
    ) -> LateWalk:
        """Open the case of the form's one child on `on` (Day 1)."""
        sweep(service, until=on, at=LATE_RECORDED_AT)
        (case_id,) = service.open_case(
            form, on=on, at=LATE_RECORDED_AT, actor=actor, process=process, calendar=calendar
        )
        return cls(service, case_id)

    def sweep(self, until: dt.date) -> None:
        """Fire the timers due up to `until`, then check the case still replays."""
        sweep(self.service, until=until, at=LATE_RECORDED_AT)
        assert_replays(self.service, self.case_id)

    def fire(self, trigger: str, *, on: dt.date, actor: Actor = OFFICER) -> CommandResult:
        """Take a step on `on`."""
        self.sweep(on)
        result = self.service.fire(self.case_id, trigger, on=on, at=LATE_RECORDED_AT, actor=actor)
        assert_replays(self.service, self.case_id)
        return result

    def check(
        self, *check_ids: str, on: dt.date, actor: Actor = OFFICER, outcome: str = "done"
    ) -> None:
        """Record each check on `on`."""
        self.sweep(on)
        for check_id in check_ids:
            self.service.record_check(
                self.case_id, check_id, on=on, at=LATE_RECORDED_AT, actor=actor, outcome=outcome
            )
            assert_replays(self.service, self.case_id)

    def facts(self, values: dict[str, Any], *, on: dt.date, actor: Actor = OFFICER) -> None:
        """Record each fact on `on`."""
        self.sweep(on)
        for name, value in values.items():
            self.service.set_fact(
                self.case_id, name, value, on=on, at=LATE_RECORDED_AT, actor=actor
            )
            assert_replays(self.service, self.case_id)
