"""The alarm clock: APScheduler runs the sweep every weekday morning and once at start-up.

Owns the schedule (a cron trigger, Monday to Friday at a configurable time in Europe/London), the
start-up catch-up, logging what each sweep fired, recording each sweep in the run log (what
`cme doctor` reads), and a clean stop on SIGTERM or SIGINT. After each sweep it runs the hooks it
was given: the deployment signs the day's checkpoint and runs the health checks
(`engine/deployment/daily.py`; this layer cannot import audit or deployment). Does not own what a
sweep does (`engine.scheduling.sweep.sweep`): timers are rows, so a run missed while the
scheduler was down is simply caught up by the next sweep; nothing is kept in memory.

It reads no clock of its own: the CLI passes `clock` (`wiring.now`, the one place the wall clock
is read), so tests and rehearsals give the time as an argument.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from engine.cases.service import CaseService
from engine.scheduling.sweep import SweepResult, sweep
from engine.scheduling.version_migrations import migrate_due_versions
from engine.store.runs import SWEEP, record_run

log = logging.getLogger(__name__)

LONDON = "Europe/London"
# A missed run needs no replay of its own (the next sweep fires everything still due), so runs
# missed while the process was busy or asleep coalesce into one, within a generous grace time.
_JOB_OPTIONS: dict[str, Any] = {
    "coalesce": True,
    "max_instances": 1,
    "misfire_grace_time": 6 * 3600,
}


@dataclass(frozen=True)
class ScheduleSettings:
    """When the sweep runs and how."""

    at: dt.time = dt.time(7, 0)
    """Time of day of the weekday sweep, in `timezone`."""
    timezone: str = LONDON
    batch_size: int = 200
    today: dt.date | None = None
    """Treat this date as today for every sweep (rehearsals and tests); None reads the clock."""
    catch_up: bool = True
    """Sweep once at start-up, to fire whatever fell due while the scheduler was down."""


AfterSweep = Callable[[SweepResult, dt.date, dt.datetime], None]
"""Run after each sweep with its result, the day swept and the time: the daily checkpoint and
the morning health checks."""


class SweepJob:
    """One run of the sweep up to today, stoppable between batches, then the after-sweep hooks."""

    def __init__(
        self,
        service: CaseService,
        settings: ScheduleSettings,
        *,
        clock: Callable[[], dt.datetime],
        after: tuple[AfterSweep, ...] = (),
    ) -> None:
        self.service = service
        self.settings = settings
        self.clock = clock
        self.after = after
        self.stopping = threading.Event()
        self.runs = 0

    def today(self) -> dt.date:
        """The date the sweep fires up to: the pinned date, else today in the schedule's zone."""
        if self.settings.today is not None:
            return self.settings.today
        return self.clock().astimezone(ZoneInfo(self.settings.timezone)).date()

    def __call__(self, label: str = "morning sweep") -> SweepResult:
        """Sweep up to today and log every timer dealt with."""
        until = self.today()
        log.info("%s: firing timers due on or before %s", label, until.isoformat())
        started = self.clock()
        # A version whose date has come and says migrate_open_cases moves its open cases first.
        migrated = migrate_due_versions(
            self.service, until=until, at=started, batch_size=self.settings.batch_size
        )
        result = sweep(
            self.service,
            until=until,
            at=started,
            batch_size=self.settings.batch_size,
            stop=self.stopping.is_set,
            keep_firings=True,
        )
        for f in result.firings:
            log.info(
                "%s %s %s (due %s): %s",
                f.case_id,
                f.timer_id,
                f.action,
                f.due_date.isoformat(),
                f.outcome,
            )
        log.info("%s done: %s", label, result.summary())
        finished = self.clock()
        record_sweep(
            self.service,
            result,
            label=label,
            started=started,
            finished=finished,
            migrations=[m.as_dict() for m in migrated],
        )
        self.runs += 1
        if not self.stopping.is_set():
            for hook in self.after:
                try:
                    hook(result, until, finished)
                except Exception:  # a failing hook must not stop tomorrow's sweep
                    log.exception("%s: after-sweep step failed", label)
        return result


def record_sweep(
    service: CaseService,
    result: SweepResult,
    *,
    label: str,
    started: dt.datetime,
    finished: dt.datetime,
    migrations: list[dict[str, object]] | None = None,
) -> None:
    """Record a sweep in the run log: the day it swept up to, what it did, what it could not,
    and the migrations on a version's date it ran first (with the cases it left alone).
    """
    detail: dict[str, object] = {
        "label": label,
        "counts": result.counts,
        "blocked": result.blocked,
        "stopped_early": result.stopped_early,
    }
    if migrations:
        detail["migrations"] = migrations
    with service.store.engine.begin() as conn:
        record_run(
            conn,
            SWEEP,
            started_at=started,
            finished_at=finished,
            on_date=result.until,
            detail=detail,
        )


def build_scheduler(job: SweepJob) -> Any:
    """A BlockingScheduler with the weekday cron job and, if asked, the start-up catch-up."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    settings = job.settings
    zone = ZoneInfo(settings.timezone)
    scheduler = BlockingScheduler(timezone=zone)
    scheduler.add_job(
        job,
        CronTrigger(
            day_of_week="mon-fri", hour=settings.at.hour, minute=settings.at.minute, timezone=zone
        ),
        id="weekday_sweep",
        name="weekday sweep",
        kwargs={"label": "weekday sweep"},
        **_JOB_OPTIONS,
    )
    if settings.catch_up:
        scheduler.add_job(
            job,
            "date",
            run_date=job.clock().astimezone(zone),
            id="catch_up",
            name="start-up catch-up",
            kwargs={"label": "start-up catch-up"},
            **_JOB_OPTIONS,
        )
    return scheduler


def run(job: SweepJob, *, install_signals: bool = True) -> int:
    """Run the scheduler until SIGTERM or SIGINT; the sweep in progress ends after its batch."""
    scheduler = build_scheduler(job)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping after the current batch", signal.Signals(signum).name)
        job.stopping.set()
        if scheduler.running:
            scheduler.shutdown(wait=True)

    if install_signals:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    log.info(
        "scheduler started: sweeps Monday to Friday at %s %s%s",
        job.settings.at.strftime("%H:%M"),
        job.settings.timezone,
        f"; today is pinned to {job.settings.today.isoformat()}" if job.settings.today else "",
    )
    scheduler.start()
    log.info("scheduler stopped cleanly")
    return 0


__all__ = ["ScheduleSettings", "SweepJob", "build_scheduler", "record_sweep", "run"]
