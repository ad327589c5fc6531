"""Personal data at rest: per-case data keys, sealing an event's personal part, and destroying keys.

Owns the master key (kept outside the database), the `case_key` rows (each case's random 256-bit
data key, wrapped by the master key with AES-GCM), sealing a payload's `personal` part into
`{"enc": …, "key": …}` before the event is hashed (so the chain covers the ciphertext), opening
sealed parts for an authorised reader, and destroying a case's key when it is purged. Does not own
who may read (`access.py`) or when a case is purged (`retention.py`, `engine/cases/purge.py`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, insert, select, true, update
from sqlalchemy.engine import Connection

from engine.errors import CommandRefused, InputError, IntegrityFailure
from engine.protection.blind_index import SearchKey
from engine.store.tables import case_key_table

log = logging.getLogger(__name__)

MASTER_KEY_ENV = "CME_MASTER_KEY"
"""The master key itself, base64 (for containers and CI secrets)."""
MASTER_KEY_FILE_ENV = "CME_MASTER_KEY_FILE"
"""A file holding the master key, base64 (the usual way: readable only by the service user)."""
DEV_MASTER_KEY_PATH = Path(".cme") / "master.key"
"""Where a development key is made on first use when neither variable is set."""

PURGED = "[purged]"
"""What a reader sees in place of personal data whose case key was destroyed."""

MERGED_PERSONAL = frozenset({"facts", "check_outcomes", "waiver_reasons"})
"""Personal parts that events add to key by key (a fact set later keeps the earlier ones); every
other part replaces what was there. The rule `engine.cases.projection.apply` uses for plaintext
parts, declared here (protection sits below cases) so opening sealed parts needs no case code; a
test pins that the two agree."""


def is_sealed(part: Any) -> bool:
    """Whether a payload's personal part is sealed (`{"enc": …, "key": …}`, as `seal` writes)."""
    return isinstance(part, dict) and set(part) == {"enc", "key"}


def _plaintext(personal: Mapping[str, Any]) -> bytes:
    # Sorted keys, no spaces: the same text the event log stores for a plaintext part.
    return json.dumps(
        dict(personal), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


_NONCE = 12
_KEY_CACHE = 4096  # unwrapped case keys kept per process (a few hundred kB at most)
# Built once: SQLAlchemy then only executes them (building a statement per command costs more
# than the encryption does).
_SELECT_KEY = select(case_key_table).where(case_key_table.c.case_id == bindparam("case_id"))
_KEYS_AT_ONCE = 500
"""Case key rows read in one query by `reveal_many` (well under SQLite's bound-parameter cap)."""
_SELECT_DESTROYED = select(case_key_table.c.destroyed_at).where(
    case_key_table.c.case_id == bindparam("case_id")
)


class PersonalDataPurged(CommandRefused):
    """The case's key was destroyed by a purge: its personal data can be neither read nor added."""


class MasterKeyMismatch(IntegrityFailure):
    """The master key in use wraps none of the database's case keys: nothing is written with it."""

    code = "master_key_mismatch"

    def __init__(self, message: str, *, expected: list[str], in_use: str) -> None:
        self.expected = expected
        self.in_use = in_use
        super().__init__(message)


@dataclass(frozen=True)
class MasterKey:
    """The key that wraps every case key; never stored in the database."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise InputError(f"the master key must be 32 bytes (256 bits), not {len(self.key)}")

    @classmethod
    def generate(cls) -> MasterKey:
        """A new random master key."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_text(cls, text: str, *, source: str) -> MasterKey:
        """Decode a base64 master key, saying where a bad one came from."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"{source} is not a base64 master key") from None
        if len(raw) != 32:
            raise InputError(f"{source} holds {len(raw)} bytes; a master key is 32 bytes, base64")
        return cls(raw)

    def text(self) -> str:
        """The key as base64, as written to a key file."""
        return base64.b64encode(self.key).decode()

    @functools.cached_property
    def id(self) -> str:
        """A fingerprint naming this key (not the key): which master wrapped a case key."""
        return hashlib.sha256(b"cme-master-key:" + self.key).hexdigest()[:16]

    def wrap(self, data_key: bytes, *, aad: bytes) -> str:
        """Encrypt a case key under the master key."""
        return _seal_bytes(self.key, data_key, aad)

    def unwrap(self, blob: str, *, aad: bytes) -> bytes:
        """Decrypt a case key; IntegrityFailure if it was not wrapped by this key for this case."""
        try:
            return _open_bytes(self.key, blob, aad)
        except (InvalidTag, ValueError, binascii.Error):
            raise IntegrityFailure(
                "a case key does not open with this master key: either the master key is not the "
                "one the keys were made with, or the case_key row was altered"
            ) from None


def master_key_from_environment(
    env: Mapping[str, str] | None = None,
    *,
    dev_path: Path = DEV_MASTER_KEY_PATH,
) -> tuple[MasterKey, Path | None]:
    """The master key from CME_MASTER_KEY or CME_MASTER_KEY_FILE, else a development key file.

    Returns the key and, when a development key file was just created, its path (so the CLI can
    say so). The development key sits next to the SQLite database: fine for a demo, not for
    children's data in production, where the key belongs outside the data folder and its backups.
    """
    env = os.environ if env is None else env
    if env.get(MASTER_KEY_ENV):
        return MasterKey.from_text(env[MASTER_KEY_ENV], source=MASTER_KEY_ENV), None
    if env.get(MASTER_KEY_FILE_ENV):
        path = Path(env[MASTER_KEY_FILE_ENV])
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {MASTER_KEY_FILE_ENV}={path}: {exc}") from None
        return MasterKey.from_text(text, source=str(path)), None
    return dev_key(dev_path)


def dev_key(path: Path) -> tuple[MasterKey, Path | None]:
    """The development key at `path`, made there (0600) if absent; the path if it was made."""
    if path.exists():
        return MasterKey.from_text(path.read_text(encoding="ascii"), source=str(path)), None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = MasterKey.generate()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.text() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        # link() fails if another process made the key first; then everyone uses that one.
        os.link(tmp, path)
        created: Path | None = path
    except FileExistsError:
        created = None
    finally:
        tmp.unlink(missing_ok=True)
    if created is None:
        return MasterKey.from_text(path.read_text(encoding="ascii"), source=str(path)), None
    # Info, not warning: the CLI tells the person in its own words, and a warning here reached
    # the terminal through logging's last-resort handler, saying it twice.
    log.info("made a development master key at %s; set %s for real data", path, MASTER_KEY_FILE_ENV)
    return key, created


def rewrap(old: MasterKey, new: MasterKey, *, case_id: str, key_id: str, wrapped: str) -> str:
    """A case key wrapped by `old`, wrapped by `new` instead (IntegrityFailure if it does not
    open with `old`).
    """
    aad = _key_aad(case_id, key_id)
    return new.wrap(old.unwrap(wrapped, aad=aad), aad=aad)


def master_key_ids(conn: Connection) -> list[str]:
    """The master keys the database's live case keys are wrapped by (ids, sorted)."""
    rows = conn.execute(
        select(case_key_table.c.master_key_id)
        .distinct()
        .where(case_key_table.c.wrapped.is_not(None))
    )
    return sorted(row[0] for row in rows)


class CaseKeys:
    """Each case's data key, in the `case_key` table, wrapped by one master key.

    `previous` master keys are accepted for reading (and for re-wrapping) while a rotation
    (`engine.protection.rotation`) moves every case key to `master`; new keys use `master`.
    """

    def __init__(
        self,
        master: MasterKey,
        *,
        previous: Iterable[MasterKey] = (),
        source: str = "",
        search: Iterable[SearchKey] = (),
    ) -> None:
        self.master = master
        self.source = source
        # The search keys found beside the master keys, the current one's first; which of them
        # a database's blind index was made with is recorded in it (engine/cases/case_index.py).
        # With none, the key derived from the master key (a master key given only in the
        # environment has no folder to keep one in).
        self.search_keys: list[SearchKey] = list(search) or [SearchKey.derived_from(master.key)]
        self.ring: dict[str, MasterKey] = {k.id: k for k in (*previous, master)}
        self._vouched: set[str] = set()  # databases (URLs) whose keys this master matches
        # Unwrapped keys by (case, wrapped text). The row is still read every time, so a key
        # destroyed elsewhere (its wrapped text gone) is never found here.
        self._unwrapped: dict[tuple[str, str], bytes] = {}

    # -- writing -----------------------------------------------------------------------------

    def seal(
        self,
        conn: Connection,
        case_id: str,
        seq: int,
        personal: Mapping[str, Any],
        *,
        at: dt.datetime,
    ) -> dict[str, str]:
        """Encrypt event `seq`'s personal part with the case's key (made on first use)."""
        key_id, data_key = self._key_for_writing(conn, case_id, at=at)
        plain = _plaintext(personal)
        return {"enc": _seal_bytes(data_key, plain, _aad(case_id, seq, key_id)), "key": key_id}

    def destroy(
        self,
        conn: Connection,
        case_id: str,
        *,
        at: dt.datetime,
        by: str,
        reason: str,
    ) -> bool:
        """Destroy the case's key inside the caller's transaction; False if it had none left.

        The row stays as a tombstone (who, when, why); the wrapped key itself is overwritten.
        """
        if conn.dialect.name == "sqlite":
            # Overwrite freed pages too, so the old wrapped key is not left in the file.
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
        row = conn.execute(_SELECT_KEY, {"case_id": case_id}).first()
        if row is None:
            conn.execute(
                insert(case_key_table).values(
                    case_id=case_id,
                    key_id="none",
                    wrapped=None,
                    master_key_id=self.master.id,
                    created_at=at,
                    destroyed_at=at,
                    destroyed_by=by,
                    destroyed_reason=reason,
                )
            )
            return False
        if row.wrapped is None:
            return False
        conn.execute(
            update(case_key_table)
            .where(case_key_table.c.case_id == case_id)
            .values(wrapped=None, destroyed_at=at, destroyed_by=by, destroyed_reason=reason)
        )
        self._unwrapped.pop((case_id, row.wrapped), None)
        return True

    # -- reading -----------------------------------------------------------------------------

    def reveal(self, conn: Connection, case_id: str, personal: Mapping[str, Any]) -> Any:
        """The case row's personal data in the clear (`PURGED` if its key was destroyed).

        Sealed parts are kept in the row by event number; they are opened in event order and
        merged, so a later note replaces an earlier one just as plaintext parts would.
        """
        if not any(k.isdigit() and is_sealed(v) for k, v in personal.items()) and personal:
            return dict(personal)  # nothing sealed, nothing purged: no key to read
        row = conn.execute(_SELECT_KEY, {"case_id": case_id}).first()
        return self._reveal_with(case_id, personal, row)

    def reveal_many(
        self, conn: Connection, items: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[Any]:
        """Many cases' personal data, each as `reveal` gives it, their keys read together (one
        query per 500 cases): a report over thousands of cases does not query once a case.
        """
        rows: dict[str, Any] = {}
        ids = sorted({case_id for case_id, _ in items})
        for start in range(0, len(ids), _KEYS_AT_ONCE):
            chunk = ids[start : start + _KEYS_AT_ONCE]
            found = conn.execute(select(case_key_table).where(case_key_table.c.case_id.in_(chunk)))
            rows.update((row.case_id, row) for row in found)
        return [self._reveal_with(case_id, p, rows.get(case_id)) for case_id, p in items]

    def _reveal_with(self, case_id: str, personal: Mapping[str, Any], row: Any) -> Any:
        # `row`: the case's key row (None if it has none), read by the caller.
        sealed = sorted(
            ((int(k), v) for k, v in personal.items() if k.isdigit() and is_sealed(v)),
            key=lambda kv: kv[0],
        )
        out = {k: v for k, v in personal.items() if not (k.isdigit() and is_sealed(v))}
        if not sealed:
            destroyed = row is not None and row.destroyed_at is not None
            return out if out or not destroyed else PURGED
        keys = self._keys_of(case_id, row)
        if keys is None:
            return PURGED
        for seq, part in sealed:
            _merge(out, self._open(case_id, seq, part, keys))
        return out

    def reveal_payload(self, conn: Connection, case_id: str, seq: int, payload: Any) -> Any:
        """An event payload with its personal part opened (or `PURGED`), for exports."""
        if not isinstance(payload, dict) or not is_sealed(payload.get("personal")):
            return payload
        keys = self._keys_for_reading(conn, case_id)
        personal = PURGED if keys is None else self._open(case_id, seq, payload["personal"], keys)
        return {**payload, "personal": personal}

    def destroyed(self, conn: Connection, case_id: str) -> bool:
        """Whether the case's key has been destroyed by a purge."""
        row = conn.execute(_SELECT_DESTROYED, {"case_id": case_id}).first()
        return row is not None and row.destroyed_at is not None

    # -- internals ---------------------------------------------------------------------------

    def _key_for_writing(
        self, conn: Connection, case_id: str, *, at: dt.datetime
    ) -> tuple[str, bytes]:
        row = conn.execute(_SELECT_KEY, {"case_id": case_id}).first()
        if row is None:
            self._vouch(conn)
            key_id = secrets.token_hex(8)
            data_key = AESGCM.generate_key(bit_length=256)
            conn.execute(
                insert(case_key_table).values(
                    case_id=case_id,
                    key_id=key_id,
                    wrapped=self.master.wrap(data_key, aad=_key_aad(case_id, key_id)),
                    master_key_id=self.master.id,
                    created_at=at,
                )
            )
            return key_id, data_key
        if row.wrapped is None:
            raise PersonalDataPurged(
                f"case {case_id}'s personal data was purged on {_day(row.destroyed_at)} "
                f"({row.destroyed_reason}); no personal data can be added to it"
            )
        return row.key_id, self._unwrap(case_id, row)

    def vouch(self, conn: Connection) -> None:
        """Refuse (MasterKeyMismatch) a master key that wraps none of the database's case keys."""
        self._vouch(conn)

    def _vouch(self, conn: Connection) -> None:
        # A new case key is wrapped only by a master key the database already knows (or by any
        # key, for a database with none): a case stored under a stray key would be readable by
        # no one else, and every listing and report would fail.
        where = str(conn.engine.url)
        if where in self._vouched:
            return
        live = case_key_table.c.wrapped.is_not(None)
        known = case_key_table.c.master_key_id.in_(list(self.ring))
        if (
            conn.execute(select(true()).where(live, known).limit(1)).first() is None
            and conn.execute(select(true()).where(live).limit(1)).first() is not None
        ):
            expected = master_key_ids(conn)
            raise MasterKeyMismatch(
                f"the master key in use ({self.master.id}{self._from()}) wraps none of this "
                f"database's case keys, which are wrapped by {' and '.join(expected)}; nothing "
                f"was written. Set {MASTER_KEY_FILE_ENV} (or keys.master_key_file) to the key "
                "this database was created with",
                expected=expected,
                in_use=self.master.id,
            )
        self._vouched.add(where)

    def _from(self) -> str:
        return f", from {self.source}" if self.source else ""

    def _keys_for_reading(self, conn: Connection, case_id: str) -> dict[str, bytes] | None:
        return self._keys_of(case_id, conn.execute(_SELECT_KEY, {"case_id": case_id}).first())

    def _keys_of(self, case_id: str, row: Any) -> dict[str, bytes] | None:
        # The case's data key from its key row; None once a purge destroyed it.
        if row is None:
            raise IntegrityFailure(
                f"case {case_id} has sealed personal data but no case key row: the key table "
                "was altered or restored from a different backup than the events"
            )
        if row.wrapped is None:
            return None
        return {row.key_id: self._unwrap(case_id, row)}

    def _unwrap(self, case_id: str, row: Any) -> bytes:
        cached = self._unwrapped.get((case_id, row.wrapped))
        if cached is not None:
            return cached
        master = self.ring.get(row.master_key_id)
        if master is None:
            raise IntegrityFailure(
                f"case {case_id}'s key was wrapped by master key {row.master_key_id}, but the "
                f"master key in use is {self.master.id}{self._from()}; set {MASTER_KEY_FILE_ENV} "
                "to the key this database was created with"
            )
        data_key = master.unwrap(row.wrapped, aad=_key_aad(case_id, row.key_id))
        if len(self._unwrapped) >= _KEY_CACHE:
            self._unwrapped.clear()
        self._unwrapped[(case_id, row.wrapped)] = data_key
        return data_key

    def _open(
        self, case_id: str, seq: int, part: Mapping[str, str], keys: Mapping[str, bytes]
    ) -> dict[str, Any]:
        data_key = keys.get(part["key"])
        if data_key is None:
            raise IntegrityFailure(
                f"case {case_id} event {seq} was sealed with key {part['key']}, which is not "
                "the case's key"
            )
        try:
            plain = _open_bytes(data_key, part["enc"], _aad(case_id, seq, part["key"]))
        except (InvalidTag, ValueError, binascii.Error):
            raise IntegrityFailure(
                f"case {case_id} event {seq}'s personal data does not decrypt: it was altered "
                "or moved from another event"
            ) from None
        value: dict[str, Any] = json.loads(plain)
        return value


def _merge(out: dict[str, Any], part: Mapping[str, Any]) -> None:
    # The same rule `projection.apply` uses for plaintext parts, so sealing changes nothing a
    # reader sees.
    for key, value in part.items():
        if key in MERGED_PERSONAL:
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value


def _aad(case_id: str, seq: int, key_id: str) -> bytes:
    # Binding case and event number means a sealed part copied to another event will not open.
    return f"cme-personal|{case_id}|{seq}|{key_id}".encode()


def _key_aad(case_id: str, key_id: str) -> bytes:
    return f"cme-case-key|{case_id}|{key_id}".encode()


def _seal_bytes(key: bytes, plain: bytes, aad: bytes) -> str:
    nonce = secrets.token_bytes(_NONCE)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, aad)).decode()


def _open_bytes(key: bytes, blob: str, aad: bytes) -> bytes:
    raw = base64.b64decode(blob, validate=True)
    if len(raw) <= _NONCE:
        raise ValueError("too short")
    return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], aad)


def _day(value: Any) -> str:
    return value.date().isoformat() if isinstance(value, dt.datetime) else str(value)


__all__ = [
    "MERGED_PERSONAL",
    "PURGED",
    "CaseKeys",
    "MasterKey",
    "MasterKeyMismatch",
    "PersonalDataPurged",
    "is_sealed",
    "master_key_from_environment",
    "dev_key",
    "master_key_ids",
    "rewrap",
]
