"""`cme audit verify` in a deployment: the pinned public key from cme.toml (a checkpoint
re-signed with an insider's own key is refused), the deployment's checkpoints folder, the events
recorded after the checkpoint, and broken cases marked until `cme audit clear`."""

from __future__ import annotations

import json
from pathlib import Path

from engine.cases.service import CaseService
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from tests.cli.test_audit_cli import AS_AUDITOR, open_cases, raw
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import OFFICER


def cme(db: Path, *args: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from engine.cli import cli

    env = {"CME_DATABASE_URL": f"sqlite:///{db}", "CME_CONFIG": None}
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def deployment(tmp_path: Path, registry: ProcessRegistry) -> tuple[Path, Path, list[str]]:
    """A database with two cases, a signing key, and cme.toml beside it pinning its public key."""
    db = tmp_path / "cme.db"
    ids = open_cases(db, registry)
    key = tmp_path / "secure" / "audit.key"
    key.parent.mkdir()
    assert cme(db, "audit", "keygen", "--out", str(key))[0] == 0
    public = Path(f"{key}.pub").read_text().strip()
    (tmp_path / "cme.toml").write_text(f'[keys]\ncheckpoint_public_key = "{public}"\n')
    return db, key, ids


def test_a_checkpoint_resigned_with_an_insiders_key_is_refused_by_the_pinned_key(
    tmp_path: Path, registry: ProcessRegistry
) -> None:
    db, key, _ = deployment(tmp_path, registry)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    good = folder / "checkpoint-2025-09-01T090000Z.json"
    assert (
        cme(db, "audit", "checkpoint", "--key", str(key), "--out", str(good), *AS_AUDITOR)[0] == 0
    )
    code, out, err = cme(db, "audit", "verify", "--all", *AS_AUDITOR)
    assert code == 0, err
    assert f"checkpoint {good}" in out
    assert "signed by the pinned key" in out
    # An insider signs a fresh checkpoint of their own (say, over a re-hashed history).
    insider = tmp_path / "insider.key"
    cme(db, "audit", "keygen", "--out", str(insider))
    forged = folder / "checkpoint-2025-09-02T090000Z.json"
    cme(db, "audit", "checkpoint", "--key", str(insider), "--out", str(forged), *AS_AUDITOR)
    code, _, err = cme(db, "audit", "verify", "--all", *AS_AUDITOR)  # the newest: the forgery
    assert code == 4
    assert "not the pinned key" in err
    assert "re-signed with another key" in err
    # Naming the insider's own .pub does not help: the pinned key is the one trusted.
    code, _, err = cme(
        db,
        "audit",
        "verify",
        "--all",
        "--checkpoint",
        str(forged),
        "--public-key",
        f"{insider}.pub",
        *AS_AUDITOR,
    )
    assert code == 1
    assert "only the pinned key is trusted" in err


def test_without_a_pinned_key_a_checkpoint_is_not_trusted(
    tmp_path: Path, registry: ProcessRegistry
) -> None:
    db, key, _ = deployment(tmp_path, registry)
    (tmp_path / "cme.toml").unlink()
    signed = tmp_path / "c.json"
    cme(db, "audit", "checkpoint", "--key", str(key), "--out", str(signed), *AS_AUDITOR)
    code, _, err = cme(db, "audit", "verify", "--all", "--checkpoint", str(signed), *AS_AUDITOR)
    assert code == 1
    assert "no public key is pinned" in err
    assert "keys.checkpoint_public_key" in err


def test_verify_says_how_many_events_lie_after_the_last_checkpoint(
    tmp_path: Path, registry: ProcessRegistry
) -> None:
    db, key, (a, _b) = deployment(tmp_path, registry)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    cme(
        db,
        "audit",
        "checkpoint",
        "--key",
        str(key),
        "--out",
        str(folder / "checkpoint-2025-09-01T090000Z.json"),
        *AS_AUDITOR,
    )
    code, out, _ = cme(db, "audit", "verify", "--all", *AS_AUDITOR)
    assert code == 0
    assert "every event is covered by the checkpoint" in out
    store = open_store(f"sqlite:///{db}")
    svc = CaseService(store, registry)
    for note in ("rang the school", "rang again"):
        svc.add_note(a, note, on=RECORDED_AT.date(), at=RECORDED_AT, actor=OFFICER)
    store.dispose()
    code, out, _ = cme(db, "audit", "verify", "--all", *AS_AUDITOR)
    assert code == 0
    assert (
        "2 event(s) in 1 case(s) recorded after the checkpoint, not yet covered by a "
        "signature, the oldest recorded at 2025-09-01T09:00:00 UTC"
    ) in out
    code, out, _ = cme(db, "audit", "verify", "--all", "--json", *AS_AUDITOR)
    after = json.loads(out)["checkpoint"]
    assert (after["events_after"], after["cases_after"]) == (2, 1)
    # Without any checkpoint, verify says nothing is signed.
    for f in folder.iterdir():
        f.unlink()
    code, out, _ = cme(db, "audit", "verify", "--all", *AS_AUDITOR)
    assert "no checkpoint: no event is covered by a signature" in out


def test_a_broken_case_is_marked_by_verify_and_cleared_by_an_auditor(
    tmp_path: Path, registry: ProcessRegistry
) -> None:
    db = tmp_path / "cme.db"
    a, _ = open_cases(db, registry)
    raw(db, "UPDATE case_event SET actor = 'x' WHERE case_id = ? AND seq = 2", a)
    code, _, err = cme(db, "audit", "verify", "--all", *AS_AUDITOR)
    assert code == 4
    assert f"marked 1 case(s) ({a})" in err
    code, _, err = cme(db, "audit", "clear", a, "--reason", "seen", "--role", "cme_officer")
    assert code == 5
    code, out, _ = cme(db, "audit", "clear", a, "--reason", "restored from the backup", *AS_AUDITOR)
    assert code == 0
    assert f"{a} takes changes again" in out
    code, _, err = cme(db, "audit", "clear", a, "--reason", "again", *AS_AUDITOR)
    assert code == 1
    assert "no integrity mark" in err
