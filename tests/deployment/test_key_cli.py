"""`cme admin key new` and `cme admin key rotate` through the CLI."""

from __future__ import annotations

import datetime as dt
import json
import stat
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.cases.notification import parse_form
from engine.cases.service import CaseService
from engine.cli import cli
from engine.language.registry import ProcessRegistry
from engine.language.yamlsafe import load_yaml
from engine.protection.access import Actor
from engine.protection.crypto import CaseKeys
from engine.protection.masterkeys import read_master_key_file
from engine.store.database import open_store
from engine.store.tables import case_key_table
from tests.conftest import RECORDED_AT

FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_key_new_makes_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    code, out, err = run("admin", "key", "new", str(path))
    assert code == 0, err
    key = read_master_key_file(path)
    assert out.strip() == f"wrote {path} (mode 600); master key id {key.id}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, _, err = run("admin", "key", "new", str(path))
    assert code == 1
    assert "never overwritten" in err
    assert read_master_key_file(path) == key


def test_key_rotate_moves_every_case_key_to_the_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cme.db'}"
    assert run("admin", "key", "new", str(tmp_path / "old.key"))[0] == 0
    assert run("admin", "key", "new", str(tmp_path / "new.key"))[0] == 0
    old, new = (read_master_key_file(tmp_path / f"{n}.key") for n in ("old", "new"))
    (tmp_path / "cme.toml").write_text('[keys]\nmaster_key_file = "old.key"\n', encoding="utf-8")
    store = open_store(url)

    form = parse_form(load_yaml(Path(FORM).read_text(encoding="utf-8"), FORM).data)
    CaseService(store, ProcessRegistry.from_package(), keys=CaseKeys(old)).open_case(
        form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=Actor("sona", "cme_officer")
    )
    monkeypatch.delenv("CME_MASTER_KEY", raising=False)
    code, _, err = run(
        "admin",
        "key",
        "rotate",
        "--new-key",
        str(tmp_path / "new.key"),
        "--db",
        url,
        "--role",
        "cme_officer",
    )
    assert code == 5, err
    code, out, err = run(
        "admin",
        "key",
        "rotate",
        "--new-key",
        str(tmp_path / "new.key"),
        "--db",
        url,
        "--role",
        "records_manager",
        "--actor",
        "rita",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out) == {"from": [old.id], "to": new.id, "rewrapped": 2, "batches": 1}
    with store.read() as conn:
        assert {r.master_key_id for r in conn.execute(select(case_key_table))} == {new.id}


def test_half_way_through_a_rotation_the_configured_keys_read_every_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documented order: the new key in use, the old one listed as previous; then rotate.
    from engine.protection.rotation import rotate_master_key

    url = f"sqlite:///{tmp_path / 'cme.db'}"
    for name in ("old", "new"):
        assert run("admin", "key", "new", str(tmp_path / f"{name}.key"))[0] == 0
    old, new = (read_master_key_file(tmp_path / f"{n}.key") for n in ("old", "new"))
    store = open_store(url)
    form = parse_form(load_yaml(Path(FORM).read_text(encoding="utf-8"), FORM).data)
    ids = CaseService(store, ProcessRegistry.from_package(), keys=CaseKeys(old)).open_case(
        form, on=dt.date(2024, 10, 21), at=RECORDED_AT, actor=Actor("sona", "cme_officer")
    )
    with pytest.raises(RuntimeError):
        rotate_master_key(
            store,
            old=[old],
            new=new,
            actor=Actor("rita", "records_manager"),
            at=RECORDED_AT,
            batch_size=1,
            after_batch=_interrupt,
        )
    (tmp_path / "cme.toml").write_text(
        '[keys]\nmaster_key_file = "new.key"\nprevious_master_key_files = ["old.key"]\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("CME_MASTER_KEY", raising=False)
    from engine.cli import wiring

    wiring.keys.cache_clear()
    try:
        for case_id in ids:
            code, out, err = run("case", "show", case_id, "--json", "--db", url, "--actor", "sona")
            assert code == 0, err
            assert json.loads(out)["id"] == case_id
        code, out, err = run(
            "admin",
            "key",
            "rotate",
            "--new-key",
            str(tmp_path / "new.key"),
            "--db",
            url,
            "--role",
            "records_manager",
            "--json",
        )
        assert code == 0, err
        assert json.loads(out)["rewrapped"] == len(ids) - 1
    finally:
        wiring.keys.cache_clear()


def _interrupt(batch: int) -> None:
    raise RuntimeError(f"stopped after batch {batch}")
