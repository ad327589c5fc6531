"""Where a deployment keeps its signed checkpoints, and the one the scheduler signs each day.

Owns the checkpoints folder (`checkpoints/` beside `cme.toml`, else beside the SQLite database)
and `sign_daily`: verify the whole log, mark any case found broken, sign a checkpoint with the
configured key and record it. Does not own checkpoints themselves (`engine/audit/checkpoint.py`).
Copy the folder off the machine too: a checkpoint proves most when kept where the database's
writers cannot reach it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from engine.audit.checkpoint import load_private_key, sign_into
from engine.audit.marks import mark_problems
from engine.audit.verify import verify_store
from engine.deployment.config import DeploymentConfig, deployment_config, sqlite_file
from engine.store.database import Store

log = logging.getLogger(__name__)

FOLDER_NAME = "checkpoints"
SCHEDULER = "scheduler"


def checkpoint_folder(db_url: str | None, config: DeploymentConfig | None = None) -> Path | None:
    """The deployment's checkpoints folder: beside its cme.toml, else beside the SQLite
    database; None for a PostgreSQL database without a configuration file.
    """
    config = deployment_config(db_url=db_url) if config is None else config
    if config.folder is not None:
        return config.folder / FOLDER_NAME
    file = sqlite_file(db_url or config.database_url)
    return None if file is None else file.parent / FOLDER_NAME


@dataclass(frozen=True)
class DailyCheckpoint:
    """What the day's checkpoint run did."""

    path: Path | None
    """The checkpoint written, or None if none could be."""
    marked: list[str]
    """Cases found broken and marked (no checkpoint is signed over a log that fails)."""
    why_not: str | None = None


def sign_daily(
    store: Store,
    config: DeploymentConfig,
    *,
    folder: Path | None,
    at: dt.datetime,
    jobs: int = 1,
) -> DailyCheckpoint:
    """Verify everything, mark broken cases, then sign and record the day's checkpoint."""
    key_file = config.keys.checkpoint_signing_key_file
    if key_file is None or folder is None:
        why = (
            "no keys.checkpoint_signing_key_file in cme.toml"
            if key_file is None
            else "no checkpoints folder (no cme.toml and not SQLite)"
        )
        log.warning("no checkpoint signed after the sweep: %s", why)
        return DailyCheckpoint(None, [], why)
    report = verify_store(store, jobs=jobs)
    if not report.ok:
        marked = mark_problems(store, report, at=at, by=SCHEDULER)
        log.error(
            "INTEGRITY FAILURE: %s problem(s), first: %s; marked %s; no checkpoint signed",
            report.problem_count,
            report.problems[0],
            ", ".join(marked) or "no case",
        )
        return DailyCheckpoint(None, marked, f"the log does not verify: {report.problems[0]}")
    path, signed, _ = sign_into(store, load_private_key(key_file), folder, at=at, jobs=jobs)
    log.info(
        "signed checkpoint %s: %s case(s), %s event(s), key %s",
        path,
        signed.case_count,
        signed.event_count,
        signed.key_id,
    )
    return DailyCheckpoint(path, [])


__all__ = ["FOLDER_NAME", "DailyCheckpoint", "checkpoint_folder", "sign_daily"]
