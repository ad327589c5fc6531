"""Signed checkpoints: one Merkle root over every case's chain head, signed with Ed25519.

A hash chain proves tampering only while its head is kept where the tamperer cannot rewrite it:
anyone who can write the database can re-hash a whole chain. A checkpoint records each case's
head (case id, seq, hash), the Merkle root over them, the event count and the time, signed with a
private key kept outside the database; the file is meant to be kept elsewhere too. Checking the
log against it proves nothing recorded before it was changed, even after a full re-hash. Since
format 2 it also signs the head of the ledger of case openings, so a ledger re-hashed to hide a
deleted case is caught too. A checkpoint is trusted only if signed by the pinned public key (the
deployment's configuration, or one named): any key signs a self-consistent file, so the
signature alone proves nothing. Owns keys, the Merkle root, the checkpoint file and its
signature; the streamed pass is `verify.py`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select

from engine.audit.verify import Anchor, Problem, VerifyReport, verify_store
from engine.cases.projection import canonical_json
from engine.errors import InputError, IntegrityFailure
from engine.store.database import Store
from engine.store.tables import case_ledger_table

FORMAT = "cme-audit-checkpoint/2"
"""Format 2 adds the ledger head; format 1 files (no ledger) are still read and checked."""
FORMATS = ("cme-audit-checkpoint/1", FORMAT)

Head = tuple[str, int, str]
"""(case id, seq, hash) of a case's last event."""


def generate_private_key() -> bytes:
    """A new Ed25519 private key as PEM (PKCS#8, unencrypted: protect the file itself)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file; InputError saying what is wrong if it is not one."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read the signing key {path}: {exc.strerror}; create one with "
            "`cme audit keygen --out FILE` and keep it outside the database"
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path} is not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64: how checkpoints and `.pub` files carry it."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id(public_text: str) -> str:
    """A short fingerprint of a public key, for people to compare."""
    return hashlib.sha256(public_text.encode()).hexdigest()[:16]


def leaf_hash(head: Head) -> bytes:
    """The Merkle leaf of one case's head (domain-separated from inner nodes)."""
    return hashlib.sha256(b"\x00" + canonical_json(list(head)).encode()).digest()


def merkle_root(heads: Iterable[Head]) -> str:
    """The Merkle root (hex) over the heads in the order given; an odd node is carried up."""
    level = [leaf_hash(h) for h in heads]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        paired = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of every case's head at one moment."""

    created_at: dt.datetime
    case_count: int
    event_count: int
    root: str
    heads: list[Head]
    public_key: str
    signature: str
    ledger: tuple[int, str] | None = None
    """(entry number, hash) of the last entry of the ledger of case openings when signed."""
    format: str = FORMAT

    def body(self) -> dict[str, Any]:
        """Everything the signature covers."""
        body: dict[str, Any] = {
            "format": self.format,
            "created_at": self.created_at.isoformat(),
            "case_count": self.case_count,
            "event_count": self.event_count,
            "merkle_root": self.root,
            "algorithm": "Ed25519",
            "public_key": self.public_key,
            "heads": [list(h) for h in self.heads],
        }
        if self.format != FORMATS[0]:
            body["ledger"] = None if self.ledger is None else list(self.ledger)
        return body

    def to_json(self) -> str:
        """The checkpoint file's text."""
        return json.dumps({**self.body(), "signature": self.signature}, indent=1) + "\n"

    def anchors(self) -> dict[str, Anchor]:
        """Each case's signed head, for `verify_store`."""
        return {cid: (seq, digest) for cid, seq, digest in self.heads}

    @property
    def key_id(self) -> str:
        """Fingerprint of the key that signed it."""
        return key_id(self.public_key)


def make_checkpoint(
    store: Store, key: Ed25519PrivateKey, *, at: dt.datetime, jobs: int = 1
) -> tuple[Checkpoint, VerifyReport]:
    """Verify the whole log, then sign its heads; refuses to sign a log that does not verify."""
    report = verify_store(store, collect_heads=True, jobs=jobs)
    if not report.ok:
        raise IntegrityFailure(
            f"the log does not verify ({report.problem_count} problem(s); first: "
            f"{report.problems[0]}); a checkpoint would sign the damage, so none was written"
        )
    heads = sorted(report.heads)
    body = Checkpoint(
        created_at=at,
        case_count=len(heads),
        event_count=report.events,
        root=merkle_root(heads),
        heads=heads,
        public_key=public_key_text(key),
        signature="",
        ledger=_ledger_head(store),
    )
    signature = key.sign(canonical_json(body.body()).encode())
    return replace(body, signature=base64.b64encode(signature).decode()), report


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint file; InputError if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") not in FORMATS:
            raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
        ledger = data.get("ledger")
        return Checkpoint(
            created_at=dt.datetime.fromisoformat(data["created_at"]),
            case_count=int(data["case_count"]),
            event_count=int(data["event_count"]),
            root=str(data["merkle_root"]),
            heads=[(str(c), int(s), str(h)) for c, s, h in data["heads"]],
            public_key=str(data["public_key"]),
            signature=str(data["signature"]),
            ledger=None if ledger is None else (int(ledger[0]), str(ledger[1])),
            format=str(data["format"]),
        )
    except OSError as exc:
        raise InputError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path} is not a CME audit checkpoint: {exc}") from None


def check_signature(checkpoint: Checkpoint, *, trusted_key: str) -> None:
    """Refuse (IntegrityFailure) a checkpoint not signed by `trusted_key` (the pinned public
    key, base64), or whose signature or root does not hold.
    """
    if trusted_key.strip() != checkpoint.public_key:
        raise IntegrityFailure(
            f"the checkpoint was signed with key {checkpoint.key_id}, not the pinned key "
            f"{key_id(trusted_key.strip())}: it may have been forged (re-signed with another "
            "key), and is not trusted"
        )
    try:
        raw = base64.b64decode(checkpoint.public_key, validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw)
        public.verify(
            base64.b64decode(checkpoint.signature, validate=True),
            canonical_json(checkpoint.body()).encode(),
        )
    except (InvalidSignature, ValueError, binascii.Error):
        raise IntegrityFailure(
            "the checkpoint's signature does not verify: the file was altered or forged"
        ) from None
    if merkle_root(checkpoint.heads) != checkpoint.root:
        raise IntegrityFailure("the checkpoint's heads do not give its signed Merkle root")


def verify_against(
    store: Store,
    checkpoint: Checkpoint,
    *,
    trusted_key: str,
    case_id: str | None = None,
    jobs: int = 1,
) -> VerifyReport:
    """Check the checkpoint (signed by `trusted_key`), then the log: chains, projections, every
    signed head and the signed ledger head; count the events recorded after it.
    """
    check_signature(checkpoint, trusted_key=trusted_key)
    anchors = checkpoint.anchors()
    if case_id is not None:
        anchors = {k: v for k, v in anchors.items() if k == case_id}
    report = verify_store(store, case_id=case_id, anchors=anchors, jobs=jobs)
    if case_id is None and checkpoint.ledger is not None:
        number, digest = checkpoint.ledger
        with store.read() as conn:
            found = conn.execute(
                select(case_ledger_table.c.hash).where(case_ledger_table.c.seq == number)
            ).scalar()
        if found != digest:
            report.add(
                Problem(
                    "",
                    None,
                    (
                        f"entry {number}, the last when the checkpoint was signed, "
                        + ("is gone" if found is None else "differs from the one signed")
                        + ": the ledger was rewritten after the checkpoint"
                    ),
                )
            )
    return report


def _ledger_head(store: Store) -> tuple[int, str] | None:
    with store.read() as conn:
        row = conn.execute(
            select(case_ledger_table.c.seq, case_ledger_table.c.hash)
            .order_by(case_ledger_table.c.seq.desc())
            .limit(1)
        ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def checkpoint_name(at: dt.datetime) -> str:
    """The file name a checkpoint signed at `at` is written under in a checkpoint folder."""
    return f"checkpoint-{at.astimezone(dt.UTC):%Y-%m-%dT%H%M%SZ}.json"


def latest_checkpoint(path: str | Path) -> Path:
    """The checkpoint file `path` names or, for a folder, the newest checkpoint in it."""
    where = Path(path)
    if not where.is_dir():
        return where
    found = sorted(where.glob("checkpoint-*.json"))
    if not found:
        raise InputError(
            f"no checkpoint in {where} (files named checkpoint-*.json); sign one with "
            "`cme audit checkpoint`"
        )
    return found[-1]


def sign_into(
    store: Store, key: Ed25519PrivateKey, folder: str | Path, *, at: dt.datetime, jobs: int = 1
) -> tuple[Path, Checkpoint, VerifyReport]:
    """Sign a checkpoint, write it into `folder` and record it in the run log."""
    signed, report = make_checkpoint(store, key, at=at, jobs=jobs)
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    path = target / checkpoint_name(at)
    path.write_text(signed.to_json(), encoding="utf-8")
    record_signed(store, signed, path, started_at=at)
    return path, signed, report


def record_signed(store: Store, signed: Checkpoint, path: Path, *, started_at: dt.datetime) -> None:
    """Record a signed checkpoint in the run log (what `cme doctor` reads for its age)."""
    from engine.store.runs import CHECKPOINT, record_run

    with store.engine.begin() as conn:
        record_run(
            conn,
            CHECKPOINT,
            started_at=started_at,
            finished_at=signed.created_at,
            detail={
                "file": str(path),
                "root": signed.root,
                "key_id": signed.key_id,
                "cases": signed.case_count,
                "events": signed.event_count,
            },
        )
