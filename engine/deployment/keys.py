"""The master key a deployment opens its database with, chosen from its configuration.

Joins `engine.deployment.config` (which key file, which older keys, where the database is) to
`engine.protection.masterkeys` (the order keys are looked for, and never making a key for a
database that already holds cases). Does not own the keys' cryptography
(`engine/protection/crypto.py`) nor rotation (`engine/protection/rotation.py`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from engine.deployment.config import DeploymentConfig, dev_key_path
from engine.protection.crypto import CaseKeys, master_key_ids
from engine.protection.masterkeys import MasterKeyChoice, find_master_key, read_master_key_file
from engine.store.database import Store


def choose_master_key(
    config: DeploymentConfig,
    *,
    db_url: str | None,
    store: Store,
    env: Mapping[str, str] | None = None,
) -> MasterKeyChoice:
    """The master key for the database at `db_url` (the resolved URL, None: the development one).

    A development key lives beside the SQLite database; it is made only for a database with no
    case keys (see `find_master_key`).
    """

    def expected() -> list[str]:
        with store.read() as conn:
            return master_key_ids(conn)

    return find_master_key(
        os.environ if env is None else env,
        key_file=config.keys.master_key_file,
        dev_path=dev_key_path(db_url),
        expected=expected,
    )


def case_keys(
    config: DeploymentConfig,
    *,
    db_url: str | None,
    store: Store,
    env: Mapping[str, str] | None = None,
) -> tuple[CaseKeys, Path | None]:
    """Case keys under the chosen master key, with the configuration's previous master keys
    accepted for reading; and the path of a development key if one was just made.
    """
    choice = choose_master_key(config, db_url=db_url, store=store, env=env)
    previous = [
        read_master_key_file(path, what="keys.previous_master_key_files")
        for path in config.keys.previous_master_key_files
    ]
    return CaseKeys(choice.key, previous=previous, source=choice.source), choice.created


__all__ = ["case_keys", "choose_master_key"]
