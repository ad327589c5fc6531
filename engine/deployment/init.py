"""`cme init DIR`: a new, working deployment in one folder.

Makes `cme.toml` (each setting explained in a comment), a master key, a checkpoint signing
key pair and the web service's session secret in `keys/` (private files mode 600, the folder
700), an SQLite database with the
shipped processes published, and says which settings are left to fill in. Refuses a folder that
already holds a deployment, and removes what it made if it fails part-way. Does not own what the
settings mean (`config.py`) nor the keys' cryptography (`engine/protection/`, `engine/audit/`).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.deployment.config import CONFIG_NAME, load_config
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.protection.access import RoleTable

DATABASE_NAME = "cme.db"
KEYS_FOLDER = "keys"
MASTER_KEY_NAME = "master.key"
SIGNING_KEY_NAME = "checkpoint.key"
SESSION_SECRET_NAME = "session.secret"
"""The secret signing the web service's session cookies (`cme serve`), beside the keys."""
_MARKERS = (CONFIG_NAME, DATABASE_NAME, KEYS_FOLDER)


@dataclass(frozen=True)
class InitReport:
    """What `init_deployment` made, and what is left for a person to fill in."""

    folder: Path
    config: Path
    database_url: str
    master_key_file: Path
    master_key_id: str
    signing_key_file: Path
    public_key: str
    published: tuple[tuple[str, int], ...]
    missing: tuple[str, ...]
    session_secret_file: Path | None = None

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready data."""
        return {
            "folder": str(self.folder),
            "config": str(self.config),
            "database_url": self.database_url,
            "master_key_file": str(self.master_key_file),
            "master_key_id": self.master_key_id,
            "signing_key_file": str(self.signing_key_file),
            "checkpoint_public_key": self.public_key,
            "published": [{"process": p, "version": v} for p, v in self.published],
            "missing": list(self.missing),
            "session_secret_file": None
            if self.session_secret_file is None
            else str(self.session_secret_file),
        }


def init_deployment(
    folder: Path,
    *,
    actor_name: str,
    role: str,
    at: dt.datetime,
    roles: RoleTable | None = None,
) -> InitReport:
    """Make a deployment in `folder` (created if absent); refuse one that already holds one.

    `actor_name`/`role` publish the shipped processes (the role needs `load_process`).
    """
    folder = folder.absolute()
    found = [name for name in _MARKERS if (folder / name).exists()]
    if found:
        raise InputError(
            f"{folder} already holds a deployment ({', '.join(found)} found); nothing was "
            "changed. Choose an empty folder, or run `cme doctor` to check this one"
        )
    made: list[Path] = []
    try:
        return _make(folder, made, actor_name=actor_name, role=role, at=at, roles=roles)
    except BaseException:
        _remove(made)
        raise


def _make(
    folder: Path,
    made: list[Path],
    *,
    actor_name: str,
    role: str,
    at: dt.datetime,
    roles: RoleTable | None,
) -> InitReport:
    from engine.audit.checkpoint import generate_private_key, load_private_key, public_key_text
    from engine.cases.migration import publish_version
    from engine.cases.service import CaseService
    from engine.language.registry import ProcessRegistry
    from engine.protection.access import Actor
    from engine.protection.blind_index import SEARCH_KEY_NAME
    from engine.protection.crypto import CaseKeys, MasterKey
    from engine.protection.masterkeys import write_master_key_file
    from engine.store.database import open_store

    if not folder.exists():
        folder.mkdir(parents=True)
        made.append(folder)
    keys = folder / KEYS_FOLDER
    keys.mkdir(mode=0o700)
    made.append(keys)

    master = MasterKey.generate()
    master_file = keys / MASTER_KEY_NAME
    made.append(master_file)
    # The search key (engine/protection/blind_index.py) is made beside it, in the same folder.
    made.append(keys / SEARCH_KEY_NAME)
    write_master_key_file(master_file, master)

    signing_file = keys / SIGNING_KEY_NAME
    made.append(signing_file)
    _write_private(signing_file, generate_private_key())
    public = public_key_text(load_private_key(signing_file))
    public_file = keys / f"{SIGNING_KEY_NAME}.pub"
    made.append(public_file)
    public_file.write_text(public + "\n", encoding="utf-8")

    session_file = keys / SESSION_SECRET_NAME
    made.append(session_file)
    _write_private(session_file, secrets.token_urlsafe(48).encode("ascii") + b"\n")

    config_file = folder / CONFIG_NAME
    made.append(config_file)
    with open(config_file, "x", encoding="utf-8") as handle:
        handle.write(config_text(public_key=public))
    config = load_config(config_file)  # what was written must read back
    url = config.database_url or f"sqlite:///{folder / DATABASE_NAME}"

    database = folder / DATABASE_NAME
    made.extend([database, Path(f"{database}-wal"), Path(f"{database}-shm")])
    # The database holds sealed personal data and its hashes: readable by the service user only.
    # SQLite gives the -wal and -shm files the database file's permissions.
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    store = open_store(url)
    try:
        registry = ProcessRegistry.from_package()
        service = CaseService(store, registry, roles=roles, keys=CaseKeys(master))
        actor = Actor(actor_name, role)
        published = []
        for process_id in registry.ids():
            for version in registry.versions(process_id):
                publish_version(service, registry.get(process_id, version), at=at, actor=actor)
                published.append((process_id, version))
    finally:
        store.dispose()
    return InitReport(
        folder=folder,
        config=config_file,
        database_url=url,
        master_key_file=master_file,
        master_key_id=master.id,
        signing_key_file=signing_file,
        public_key=public,
        published=tuple(published),
        missing=tuple(config.missing()),
        session_secret_file=session_file,
    )


def _write_private(path: Path, content: bytes) -> None:
    # Made readable by the owner only from the start, never briefly open to others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _remove(made: list[Path]) -> None:
    # Undo a half-made deployment, newest first, so a second try starts from the same folder.
    for path in reversed(made):
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        else:
            path.unlink(missing_ok=True)


def config_text(*, public_key: str) -> str:
    """The `cme.toml` a new deployment starts with: every setting, each with what it is for."""
    return f'''\
# The configuration of one CME deployment (`cme init` wrote it). cme finds it as --config,
# CME_CONFIG, a cme.toml beside the SQLite database, or ./cme.toml. Relative paths are relative
# to this file's folder. Unknown settings are refused, so a typo is never silently ignored.

[local_authority]
# The authority's name, as on its letters, and its DfE three-digit LA code. Fill these in.
# name = "London Borough of Example"
# code = "202"

[database]
# SQLite beside this file (one machine), or postgresql://user@host/dbname (several schedulers;
# put the password in ~/.pgpass, not here).
url = "sqlite:///{DATABASE_NAME}"

[keys]
# The master key wrapping every case's data key. Without it no child's details can be read:
# back it up apart from the database (a copied database is useless without it, as it should
# be). Make another with `cme admin key new PATH`; move to it with `cme admin key rotate`.
master_key_file = "{KEYS_FOLDER}/{MASTER_KEY_NAME}"
# While a rotation runs: the keys being rotated from, still accepted for reading.
# previous_master_key_files = ["{KEYS_FOLDER}/old-master.key"]
# The Ed25519 key the scheduler signs each day's checkpoint with (keep it off the database
# server if you can), and its public key, pinned: verify refuses a checkpoint signed by any other.
checkpoint_signing_key_file = "{KEYS_FOLDER}/{SIGNING_KEY_NAME}"
checkpoint_public_key = "{public_key}"

[calendars]
# The school calendar new cases use (a shipped one, or one in `folder`); unset: the default.
# default = "london"
# A folder of your own calendar files (`cme calendar new 2027-28` scaffolds one).
# folder = "calendars"

[smtp]
# The mail server escalations and referrals go through. Fill these in.
# host = "smtp.example.gov.uk"
# port = 587
# from = "cme@example.gov.uk"
# starttls = true
# username = "cme"
# A file holding the password, readable only by the service user.
# password_file = "{KEYS_FOLDER}/smtp.password"

[scheduler]
# When the daily sweep runs (weekdays), and in which time zone.
at = "07:00"
timezone = "Europe/London"

[web]
# The web service (`cme serve`, behind a reverse proxy with TLS). The secret signing its session
# cookies (mode 600; a new one signs everyone out). People are signed out after `idle_minutes`
# without a request.
session_secret_file = "{KEYS_FOLDER}/{SESSION_SECRET_NAME}"
idle_minutes = 30
# The address people use; the council's identity provider sends them back to it.
# public_url = "https://cme.example.gov.uk"
# Cookies only over HTTPS: leave true behind the proxy (false only for a trial on localhost).
secure_cookies = true

# Sign-in through the council's identity provider (OpenID Connect). Register the redirect
# address <public_url>/sign-in/council/callback with it. The ID token's `role_claim` carries a
# role id of processes/roles.yaml; `school_claim` (optional) the school of a school's user.
# [web.oidc]
# issuer = "https://login.example.gov.uk/realms/council"
# client_id = "cme"
# client_secret_file = "{KEYS_FOLDER}/oidc.secret"
# role_claim = "cme_role"
# school_claim = "cme_school"
'''


__all__ = ["InitReport", "config_text", "init_deployment"]
