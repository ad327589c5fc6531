"""What sealing personal data per case costs: a note through the service, sealed and not, against
hand-written SQL writing the same rows (and sealing the same way), and opening a case's data.

For `--notes` notes spread over `--cases` cases, one durable transaction per note (SQLite, WAL,
synchronous=FULL, as store.py sets it up), the script times:

1. `CaseService.add_note` with the real case keys (the note sealed with AES-256-GCM under the
   case's key, whose wrapped row is read and unwrapped in the same transaction);
2. the same with sealing switched off (a stand-in that stores the note in clear), on a copy;
3. the baseline: plain `sqlite3` on another copy, in the same transaction pattern and with the
   same sealing: BEGIN IMMEDIATE; read the case row and its key row; unwrap the key; seal the
   note; insert the event; update the case row guarded by its sequence number; COMMIT.

Then it times `CaseService.revealed` on cases holding 1, 10 and 50 sealed parts.

Usage:
    .venv/bin/python benchmarks/sealing.py --cases 200 --notes 2000
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CME_MASTER_KEY", "YmVuY2htYXJrLW9ubHktbWFzdGVyLWtleS0zMmJ5dGU=")

OPENED = dt.date(2024, 10, 21)
ON = dt.date(2024, 10, 22)
AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
NOTE = "Home visit: no answer; neighbour says the family moved to Leeds in September."


def build(path: Path, cases: int) -> None:
    from engine.cases.notification import parse_form
    from engine.cases.service import Actor, CaseService
    from engine.language.registry import ProcessRegistry
    from engine.language.yamlsafe import load_yaml
    from engine.store.database import open_store

    text = (ROOT / "processes" / "forms" / "notification_example.yaml").read_text()
    form = load_yaml(text, "form").data
    form["children"] = form["children"][:1]
    service = CaseService(open_store(f"sqlite:///{path}"), ProcessRegistry.from_package())
    with service.batch():
        for _ in range(cases):
            service.open_case(parse_form(form), on=OPENED, at=AT, actor=Actor("b", "cme_officer"))
    service.store.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class _Clear:
    """Case keys that store personal data in clear: the service's cost without sealing."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def seal(self, conn: Any, case_id: str, seq: int, personal: Any, *, at: Any) -> Any:
        return dict(personal)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def service_notes(path: Path, cases: int, notes: int, *, sealed: bool) -> float:
    from engine.cases.service import Actor, CaseService
    from engine.language.registry import ProcessRegistry
    from engine.protection.crypto import CaseKeys, master_key_from_environment
    from engine.store.database import open_store

    keys: Any = CaseKeys(master_key_from_environment()[0])
    service = CaseService(
        open_store(f"sqlite:///{path}"),
        ProcessRegistry.from_package(),
        keys=keys if sealed else _Clear(keys),
    )
    actor = Actor("bench", "cme_officer")
    service.add_note("CME-000001", "warm-up", on=ON, at=AT, actor=actor)
    started = time.perf_counter()
    for n in range(notes):
        service.add_note(f"CME-{n % cases + 1:06d}", NOTE, on=ON, at=AT, actor=actor)
    elapsed = time.perf_counter() - started
    service.store.dispose()
    return elapsed


def baseline_notes(path: Path, cases: int, notes: int) -> float:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from engine.cases.projection import CaseEvent, CaseState, EventKind, apply, canonical_json
    from engine.protection.crypto import MasterKey, master_key_from_environment

    master: MasterKey = master_key_from_environment()[0]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.row_factory = sqlite3.Row
    started = time.perf_counter()
    for n in range(notes):
        case_id = f"CME-{n % cases + 1:06d}"
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT * FROM cme_case WHERE id = ?", (case_id,)).fetchone()
        key = conn.execute(
            "SELECT key_id, wrapped FROM case_key WHERE case_id = ?", (case_id,)
        ).fetchone()
        data_key = master.unwrap(
            key["wrapped"], aad=f"cme-case-key|{case_id}|{key['key_id']}".encode()
        )
        case = CaseState.from_row(dict(row))
        seq = case.seq + 1
        nonce = os.urandom(12)
        blob = base64.b64encode(
            nonce
            + AESGCM(data_key).encrypt(
                nonce,
                canonical_json({"last_note": NOTE}).encode(),
                f"cme-personal|{case_id}|{seq}|{key['key_id']}".encode(),
            )
        ).decode()
        ev = CaseEvent(
            case_id=case_id,
            seq=seq,
            effective_date=ON,
            recorded_at=AT,
            actor="bench",
            role="cme_officer",
            kind=EventKind.note,
            payload={"data": {}, "personal": {"enc": blob, "key": key["key_id"]}},
            process_id=case.process_id,
            process_version=case.process_version,
            rule=None,
            prev_hash=case.head_hash,
        ).sealed()
        new = apply(case, ev).as_row()
        conn.execute(
            "INSERT INTO case_event (case_id, seq, effective_date, recorded_at, actor, role, "
            "kind, payload, process_id, process_version, rule, prev_hash, hash) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                case_id,
                seq,
                ON.isoformat(),
                AT.isoformat(),
                "bench",
                "cme_officer",
                "note",
                canonical_json(ev.payload),
                case.process_id,
                case.process_version,
                None,
                ev.prev_hash,
                ev.hash,
            ),
        )
        done = conn.execute(
            "UPDATE cme_case SET seq = ?, head_hash = ?, last_effective = ?, personal = ? "
            "WHERE id = ? AND seq = ?",
            (seq, ev.hash, ON.isoformat(), new["personal"], case_id, case.seq),
        ).rowcount
        assert done == 1
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def reveal_times(path: Path) -> dict[int, float]:
    from engine.cases.service import Actor, CaseService
    from engine.language.registry import ProcessRegistry
    from engine.store.database import open_store

    service = CaseService(open_store(f"sqlite:///{path}"), ProcessRegistry.from_package())
    actor = Actor("bench", "cme_officer")
    out: dict[int, float] = {}
    for parts, case_id in ((1, "CME-000002"), (10, "CME-000003"), (50, "CME-000004")):
        for _ in range(parts - 1):
            service.add_note(case_id, NOTE, on=ON, at=AT, actor=actor)
        case = service.get(case_id)
        assert len(case.personal) == parts
        runs = 200
        started = time.perf_counter()
        for _ in range(runs):
            service.revealed(case)
        out[parts] = (time.perf_counter() - started) / runs
    service.store.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--notes", type=int, default=2000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cme-bench-sealing-"))
    try:
        base = tmp / "base.db"
        build(base, args.cases)
        copies = {name: tmp / f"{name}.db" for name in ("sealed", "clear", "sql", "reveal")}
        for copy in copies.values():
            shutil.copy(base, copy)
        figures = {
            "service, sealed": service_notes(copies["sealed"], args.cases, args.notes, sealed=True),
            "service, in clear": service_notes(
                copies["clear"], args.cases, args.notes, sealed=False
            ),
            "hand-written SQL, sealed": baseline_notes(copies["sql"], args.cases, args.notes),
        }
        print(
            f"{args.notes} notes over {args.cases} cases, one durable transaction each "
            "(SQLite WAL, synchronous=FULL)"
        )
        for name, seconds in figures.items():
            print(
                f"  {name:26} {seconds * 1000 / args.notes:7.3f} ms/note "
                f"({args.notes / seconds:7.0f} notes/s)"
            )
        for parts, seconds in reveal_times(copies["reveal"]).items():
            print(f"  revealed(), {parts:2} sealed parts  {seconds * 1e6:7.0f} µs")
        print(json.dumps({k: round(v * 1000 / args.notes, 3) for k, v in figures.items()}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
