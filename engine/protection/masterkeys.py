"""Master key files: making one, reading one, and finding the one a database was made with.

Owns where the master key comes from (CME_MASTER_KEY, CME_MASTER_KEY_FILE, the configured key
file, else a development key beside the SQLite database) and the rule that no key is ever made
for a database that already holds case keys. Does not own what the key does
(`engine/protection/crypto.py`) nor re-wrapping under a new one (`rotation.py`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import CommandRefused, InputError
from engine.protection.blind_index import SEARCH_KEY_ENV, SEARCH_KEY_NAME, SearchKey
from engine.protection.crypto import (
    MASTER_KEY_ENV,
    MASTER_KEY_FILE_ENV,
    CaseKeys,
    MasterKey,
    dev_key,
    master_key_ids,
)
from engine.store.database import Store

DEV_KEY_NAME = "master.key"
"""A development key's file name, in the SQLite database's folder."""


class MasterKeyMissing(CommandRefused):
    """No master key was found for a database that already holds case keys: a new one is never
    made for it (cases stored under a second key would lock everyone else out).
    """

    code = "master_key_missing"

    def __init__(self, message: str, *, expected: list[str], looked: list[str]) -> None:
        self.expected = expected
        self.looked = looked
        super().__init__(message)


def write_master_key_file(path: Path, key: MasterKey) -> None:
    """Write `key` to a new file readable only by its owner (0600); InputError if it exists.

    A key file is never overwritten: the key it held may be the only way into a database.
    """
    if path.parent != Path() and not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(
            f"{path} exists; a master key file is never overwritten (choose another path)"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.text() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    # The search key lives beside it, made with it; a new master key made in a folder that
    # already holds one (a rotation) keeps it, so the blind index still finds every case.
    write_search_key_beside(path)


def write_search_key_beside(master_path: Path) -> Path | None:
    """Make a search key (0600) in the master key file's folder unless one is there; the path if
    it was made.
    """
    path = master_path.parent / SEARCH_KEY_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    except OSError as exc:
        raise InputError(
            f"cannot create the search key {path}: {exc.strerror}; make the master key's folder "
            "writable once, or put a search key there (any 32 random bytes, base64)"
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(SearchKey.generate().text() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return path


def search_keys_beside(
    master_paths: Collection[Path], env: Mapping[str, str] | None = None
) -> list[SearchKey]:
    """The search keys to try, in order: CME_SEARCH_KEY, then the search key beside each master
    key file (the current one's first; one beside the current key is made if none is anywhere).
    """
    env = os.environ if env is None else env
    found: list[SearchKey] = []
    if env.get(SEARCH_KEY_ENV):
        found.append(SearchKey.from_text(env[SEARCH_KEY_ENV], source=SEARCH_KEY_ENV))
    paths = [p.parent / SEARCH_KEY_NAME for p in master_paths]
    for path in paths:
        if path.exists():
            try:
                text = path.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"cannot read the search key {path}: {exc}") from None
            found.append(SearchKey.from_text(text, source=str(path)))
    if not found and master_paths:
        made = write_search_key_beside(next(iter(master_paths)))
        if made is not None:
            found.append(SearchKey.from_text(made.read_text(encoding="ascii"), source=str(made)))
    return found


def read_master_key_file(path: Path, *, what: str | None = None) -> MasterKey:
    """The master key in a key file; InputError naming the file (and `what` named it) if not."""
    named = f"{what}={path}" if what else str(path)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise InputError(
            f"no master key file at {named}; make one with `cme admin key new {path}` (for a "
            "new deployment) or restore the deployment's key file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {named}: {exc}") from None
    return MasterKey.from_text(text, source=str(path))


@dataclass(frozen=True)
class MasterKeyChoice:
    """The master key found for a database, where it came from, and whether it was just made."""

    key: MasterKey
    source: str
    created: Path | None = None
    path: Path | None = None
    """The key's file, if it came from one (its search key sits beside it)."""


def find_master_key(
    env: Mapping[str, str] | None = None,
    *,
    key_file: Path | None = None,
    dev_path: Path | None,
    expected: Callable[[], Collection[str]],
) -> MasterKeyChoice:
    """The master key: CME_MASTER_KEY, CME_MASTER_KEY_FILE, the configured `key_file`, else a
    development key at `dev_path` (beside the SQLite database), made on first use.

    A development key is made only for a database holding no case key: for one that does
    (`expected()` names their master key ids) it refuses, naming the key the database expects
    and every place it looked, and writes nothing.
    """
    env = os.environ if env is None else env
    if env.get(MASTER_KEY_ENV):
        key = MasterKey.from_text(env[MASTER_KEY_ENV], source=MASTER_KEY_ENV)
        return MasterKeyChoice(key, MASTER_KEY_ENV)
    if env.get(MASTER_KEY_FILE_ENV):
        path = Path(env[MASTER_KEY_FILE_ENV])
        key = read_master_key_file(path, what=MASTER_KEY_FILE_ENV)
        return MasterKeyChoice(key, f"{MASTER_KEY_FILE_ENV}={path}", path=path)
    if key_file is not None:
        key = read_master_key_file(key_file, what="keys.master_key_file")
        return MasterKeyChoice(key, f"{key_file} (keys.master_key_file)", path=key_file)
    if dev_path is not None and dev_path.exists():
        key = MasterKey.from_text(dev_path.read_text(encoding="ascii"), source=str(dev_path))
        return MasterKeyChoice(key, f"{dev_path} (development key)", path=dev_path)
    ids = sorted(expected())
    looked = [
        f"{MASTER_KEY_ENV} (not set)",
        f"{MASTER_KEY_FILE_ENV} (not set)",
        "keys.master_key_file in cme.toml (no configuration, or not set)",
    ]
    if dev_path is not None:
        looked.append(f"{dev_path} (no such file)")
    if ids:
        raise MasterKeyMissing(
            f"this database's case keys are wrapped by master key {' and '.join(ids)}, and no "
            f"master key was found (looked at: {'; '.join(looked)}). Nothing was written and no "
            "key was made: a second key would lock everyone out of the cases stored under it. "
            f"Set {MASTER_KEY_FILE_ENV} (or keys.master_key_file) to the key file with id "
            f"{ids[0]}, or run with the deployment's --config",
            expected=ids,
            looked=looked,
        )
    if dev_path is None:
        raise InputError(
            f"no master key (looked at: {'; '.join(looked)}); a development key is made only "
            f"beside a SQLite database. Make one with `cme admin key new PATH` and set "
            f"{MASTER_KEY_FILE_ENV} or keys.master_key_file to it"
        )
    key, created = dev_key(dev_path)
    return MasterKeyChoice(key, f"{dev_path} (development key)", created, path=dev_path)


def dev_key_beside(store: Store) -> Path | None:
    """Where a development key lives for this store: beside its SQLite file (None: PostgreSQL
    or an in-memory database, which get none).
    """
    database = store.engine.url.database if store.is_sqlite else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).parent / DEV_KEY_NAME


def keys_for_store(
    store: Store,
    env: Mapping[str, str] | None = None,
    *,
    key_file: Path | None = None,
    previous: Collection[Path] = (),
) -> tuple[CaseKeys, Path | None]:
    """Case keys for `store`: its master key found as `find_master_key` says (a development key
    beside its SQLite file), `previous` master key files accepted for reading; and the path of a
    development key if one was just made.
    """

    def expected() -> list[str]:
        with store.read() as conn:
            return master_key_ids(conn)

    choice = find_master_key(
        env, key_file=key_file, dev_path=dev_key_beside(store), expected=expected
    )
    older = [read_master_key_file(path, what="keys.previous_master_key_files") for path in previous]
    # Beside the master key file, else beside an older one (a rotation into a new folder); a
    # master key given only in the environment derives one (`SearchKey.derived_from`).
    beside = [p for p in (choice.path, *previous) if p is not None]
    search = search_keys_beside(beside, env)
    return (
        CaseKeys(choice.key, previous=older, source=choice.source, search=search),
        choice.created,
    )


__all__ = [
    "DEV_KEY_NAME",
    "MasterKeyChoice",
    "MasterKeyMissing",
    "dev_key_beside",
    "find_master_key",
    "keys_for_store",
    "read_master_key_file",
    "search_keys_beside",
    "write_master_key_file",
    "write_search_key_beside",
]
