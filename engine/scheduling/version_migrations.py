"""The daily run's migrations: open cases move onto a version on its effective date when the
version says `applies.migrate_open_cases`.

Owns the order: the timers due before a version's date fire under the rules in force then (a
sweep up to the day before), then the cases migrate on the date
(`engine/cases/migration_on_date.py`), then the day's own sweep fires what is due under the new
rules. Run by the scheduler's morning sweep and by `cme tick` before their sweep; a run with
nothing due costs two small queries.
"""

from __future__ import annotations

import datetime as dt
import logging

from engine.cases.migration_on_date import (
    MigrationOnDate,
    migrate_on_effective_date,
    migrations_due,
)
from engine.cases.service import CaseService
from engine.errors import CMEError
from engine.scheduling.sweep import sweep

log = logging.getLogger(__name__)


def migrate_due_versions(
    service: CaseService, *, until: dt.date, at: dt.datetime, batch_size: int = 200
) -> list[MigrationOnDate]:
    """Migrate the open cases of every version whose date is on or before `until` and which
    says `migrate_open_cases`; each case whose stage cannot be mapped is reported (logged and
    returned), not migrated.
    """
    done: list[MigrationOnDate] = []
    for due in migrations_due(service, until):
        # What fell due under the old rules fires under them first.
        sweep(service, until=due.on - dt.timedelta(days=1), at=at, batch_size=batch_size)
        try:
            results = migrate_on_effective_date(service, due, at=at)
        except CMEError as exc:
            # A version that cannot be migrated onto (e.g. a stage map naming a stage it lacks)
            # is reported; the day's sweep still runs.
            log.error(
                "%s version %s: open cases not migrated on %s: %s",
                due.process_id,
                due.to.definition.version,
                due.on.isoformat(),
                exc,
            )
            continue
        for result in results:
            level = logging.WARNING if result.unmapped or result.failed else logging.INFO
            log.log(level, "%s", result.summary())
            done.append(result)
    return done


__all__ = ["migrate_due_versions"]
