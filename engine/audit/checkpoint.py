"""Signed checkpoints: one Merkle root over every case's chain head, signed with Ed25519.

A hash chain proves tampering only while its head is kept where the tamperer cannot rewrite it:
anyone who can write the database can re-hash a whole chain. A checkpoint records each case's
head (case id, seq, hash), the Merkle root over them, the event count and the time, signed with a
private key kept outside the database; the file is meant to be kept elsewhere too. Checking the
log against it proves nothing recorded before it was changed, even after a full re-hash. Owns
keys, the Merkle root, the checkpoint file and its signature; the streamed pass is `verify.py`.
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

from engine.audit.verify import Anchor, VerifyReport, verify_store
from engine.cases.projection import canonical_json
from engine.errors import InputError, IntegrityFailure
from engine.store.database import Store

FORMAT = "cme-audit-checkpoint/1"

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

    def body(self) -> dict[str, Any]:
        """Everything the signature covers."""
        return {
            "format": FORMAT,
            "created_at": self.created_at.isoformat(),
            "case_count": self.case_count,
            "event_count": self.event_count,
            "merkle_root": self.root,
            "algorithm": "Ed25519",
            "public_key": self.public_key,
            "heads": [list(h) for h in self.heads],
        }

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
        created_at=at, case_count=len(heads), event_count=report.events,
        root=merkle_root(heads), heads=heads, public_key=public_key_text(key), signature="",
    )
    signature = key.sign(canonical_json(body.body()).encode())
    return replace(body, signature=base64.b64encode(signature).decode()), report


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint file; InputError if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
        return Checkpoint(
            created_at=dt.datetime.fromisoformat(data["created_at"]),
            case_count=int(data["case_count"]),
            event_count=int(data["event_count"]),
            root=str(data["merkle_root"]),
            heads=[(str(c), int(s), str(h)) for c, s, h in data["heads"]],
            public_key=str(data["public_key"]),
            signature=str(data["signature"]),
        )
    except OSError as exc:
        raise InputError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path} is not a CME audit checkpoint: {exc}") from None


def check_signature(checkpoint: Checkpoint, *, trusted_key: str | None = None) -> None:
    """Refuse (IntegrityFailure) a checkpoint whose signature, key or root does not hold."""
    if trusted_key is not None and trusted_key.strip() != checkpoint.public_key:
        raise IntegrityFailure(
            f"the checkpoint was signed with key {checkpoint.key_id}, not the trusted key "
            f"{key_id(trusted_key.strip())}: it may have been forged"
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
    store: Store, checkpoint: Checkpoint, *, case_id: str | None = None,
    trusted_key: str | None = None, jobs: int = 1,
) -> VerifyReport:
    """Check the checkpoint, then the log: chains, projections and every signed head."""
    check_signature(checkpoint, trusted_key=trusted_key)
    anchors = checkpoint.anchors()
    if case_id is not None:
        anchors = {k: v for k, v in anchors.items() if k == case_id}
    return verify_store(store, case_id=case_id, anchors=anchors, jobs=jobs)
