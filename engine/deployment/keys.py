"""The master key a deployment opens its database with, chosen from its configuration.

Joins `engine.deployment.config` (which key file, which older keys, where the database is) to
`engine.protection.masterkeys` (the order keys are looked for, and never making a key for a
database that already holds cases). Does not own the keys' cryptography
(`engine/protection/crypto.py`) nor rotation (`engine/protection/rotation.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.deployment.config import DeploymentConfig
from engine.protection.crypto import CaseKeys
from engine.protection.masterkeys import keys_for_store
from engine.store.database import Store


def case_keys(
    config: DeploymentConfig,
    *,
    store: Store,
    env: Mapping[str, str] | None = None,
    db_url: str | None = None,
) -> tuple[CaseKeys, Path | None]:
    """Case keys for `store` under the configured master key (or CME_MASTER_KEY(_FILE), or a
    development key beside the SQLite database), the configuration's previous master keys
    accepted for reading; and the path of a development key if one was just made.

    `db_url` is accepted for callers that have it; the store's own URL decides where a
    development key lives.
    """
    del db_url
    return keys_for_store(
        store,
        env,
        key_file=config.keys.master_key_file,
        previous=config.keys.previous_master_key_files,
    )


__all__ = ["case_keys"]
