"""Master keys: key files, finding the key a database was made with (never a second one), and
rotation that survives SIGKILL at any point."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.cases.service import CaseService
from engine.deployment.config import load_config
from engine.deployment.keys import case_keys
from engine.errors import AccessDenied, InputError, IntegrityFailure
from engine.protection.access import Actor
from engine.protection.crypto import CaseKeys, MasterKey, MasterKeyMismatch, master_key_ids
from engine.protection.masterkeys import (
    MasterKeyMissing,
    dev_key_beside,
    find_master_key,
    keys_for_store,
    read_master_key_file,
    write_master_key_file,
)
from engine.protection.rotation import pending, rotate_master_key
from engine.store.database import Store, open_store
from engine.store.tables import access_log_table, case_key_table
from tests.conftest import RECORDED_AT

ROOT = Path(__file__).resolve().parents[2]
OFFICER = Actor("sona", "cme_officer")
RECORDS = Actor("rita", "records_manager")
OPENED = dt.date(2024, 10, 21)
AT = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
SYNTHETIC = 21  # case keys made directly (with one sealed part each), beside the real cases


# -- key files ----------------------------------------------------------------------------------


def test_a_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    key = MasterKey.generate()
    write_master_key_file(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_master_key_file(path) == key
    with pytest.raises(InputError, match="never overwritten"):
        write_master_key_file(path, MasterKey.generate())
    assert read_master_key_file(path) == key
    with pytest.raises(InputError, match="cme admin key new"):
        read_master_key_file(tmp_path / "absent.key")


def test_keys_are_looked_for_in_order(tmp_path: Path) -> None:
    a, b, c = MasterKey.generate(), MasterKey.generate(), MasterKey.generate()
    write_master_key_file(tmp_path / "b.key", b)
    write_master_key_file(tmp_path / "c.key", c)
    dev = tmp_path / "db" / "master.key"

    def find(env: dict[str, str], key_file: Path | None = None) -> Any:
        return find_master_key(env, key_file=key_file, dev_path=dev, expected=list)

    assert find({"CME_MASTER_KEY": a.text()}, tmp_path / "c.key").key == a
    assert find({"CME_MASTER_KEY_FILE": str(tmp_path / "b.key")}, tmp_path / "c.key").key == b
    configured = find({}, tmp_path / "c.key")
    assert configured.key == c
    assert "keys.master_key_file" in configured.source
    assert not dev.exists()
    made = find({})
    assert made.created == dev
    assert stat.S_IMODE(dev.stat().st_mode) == 0o600
    assert find({}).key == made.key
    assert find({}).created is None


def test_no_key_is_made_for_a_database_that_holds_cases(tmp_path: Path) -> None:
    dev = tmp_path / "master.key"
    with pytest.raises(MasterKeyMissing) as caught:
        find_master_key({}, key_file=None, dev_path=dev, expected=lambda: ["0123456789abcdef"])
    message = str(caught.value)
    assert "wrapped by master key 0123456789abcdef" in message
    assert f"{dev} (no such file)" in message
    assert "CME_MASTER_KEY_FILE (not set)" in message
    assert not dev.exists()
    with pytest.raises(InputError, match="only beside a SQLite database"):
        find_master_key({}, key_file=None, dev_path=None, expected=list)


# -- the accident: another folder, the same database --------------------------------------------


def _open_cases(store: Store, registry: Any, keys: CaseKeys, example_form: Any) -> list[str]:
    service = CaseService(store, registry, keys=keys)
    return service.open_case(example_form, on=OPENED, at=RECORDED_AT, actor=OFFICER)


def test_from_another_folder_the_same_database_is_refused_not_given_a_second_key(
    tmp_path: Path, registry: Any, example_form: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CME_MASTER_KEY", raising=False)
    first = tmp_path / "first"
    first.mkdir()
    url = f"sqlite:///{tmp_path / 'data' / 'cme.db'}"
    (tmp_path / "data").mkdir()
    store = open_store(url)
    # Made as the old engine did: a development key in the first folder's .cme/.
    old_key = MasterKey.generate()
    write_master_key_file(first / ".cme" / "master.key", old_key)
    _open_cases(store, registry, CaseKeys(old_key), example_form)
    with store.read() as conn:
        before = conn.execute(select(case_key_table)).all()
    config = load_config(_write(tmp_path / "elsewhere", ""))
    with pytest.raises(MasterKeyMissing) as caught:
        case_keys(config, db_url=url, store=store, env={})
    assert old_key.id in str(caught.value)
    assert str(tmp_path / "data" / "master.key") in str(caught.value)
    assert not (tmp_path / "data" / "master.key").exists()
    assert not list((tmp_path / "elsewhere").rglob("*.key"))
    with store.read() as conn:
        assert conn.execute(select(case_key_table)).all() == before


def test_a_stray_key_stores_no_new_case(sqlite_url: str, registry: Any, example_form: Any) -> None:
    store = open_store(sqlite_url)
    real = MasterKey.generate()
    _open_cases(store, registry, CaseKeys(real), example_form)
    stray = CaseService(store, registry, keys=CaseKeys(MasterKey.generate(), source="x.key"))
    with store.read() as conn:
        cases_before = conn.execute(select(case_key_table.c.case_id)).all()
    with pytest.raises(MasterKeyMismatch, match=f"wrapped by {real.id}; nothing was written"):
        stray.open_case(example_form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    with store.read() as conn:
        assert conn.execute(select(case_key_table.c.case_id)).all() == cases_before
        assert master_key_ids(conn) == [real.id]


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cme.toml").write_text(text, encoding="utf-8")
    return folder / "cme.toml"


# -- rotation -----------------------------------------------------------------------------------


def _deployment(
    url: str, registry: Any, example_form: Any, old: MasterKey, synthetic: int = SYNTHETIC
) -> dict[str, Any]:
    """Real cases and synthetic case keys under `old`; what each sealed part must open to."""
    store = open_store(url)
    keys = CaseKeys(old)
    service = CaseService(store, registry, keys=keys)
    real = service.open_case(example_form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    sealed = {}
    with store.engine.begin() as conn:
        for i in range(synthetic):
            sealed[f"SYN-{i:03d}"] = keys.seal(conn, f"SYN-{i:03d}", 1, {"n": i}, at=RECORDED_AT)
    with store.read() as conn:
        data_keys = {
            r.case_id: old.unwrap(r.wrapped, aad=_aad(r))
            for r in conn.execute(select(case_key_table))
        }
    store.dispose()
    return {"real": real, "sealed": sealed, "data_keys": data_keys}


def _aad(row: Any) -> bytes:
    return f"cme-case-key|{row.case_id}|{row.key_id}".encode()


def _assert_all_under(url: str, registry: Any, new: MasterKey, expected: dict[str, Any]) -> None:
    store = open_store(url)
    with store.read() as conn:
        rows = conn.execute(select(case_key_table)).all()
        assert {r.master_key_id for r in rows} == {new.id}
        # Exactly the same data key under the new master: nothing lost, nothing wrapped twice.
        assert {r.case_id: new.unwrap(r.wrapped, aad=_aad(r)) for r in rows} == expected[
            "data_keys"
        ]
        assert pending(conn, new) == {}
    only_new = CaseKeys(new)
    service = CaseService(store, registry, keys=only_new)
    for case_id in expected["real"]:
        assert service.revealed(service.get(case_id)).personal["child"]["full_name"]
    with store.read() as conn:
        for case_id, part in expected["sealed"].items():
            assert only_new.reveal(conn, case_id, {"1": part}) == {"n": int(case_id[4:])}
    store.dispose()


def test_rotation_rewraps_every_case_key_and_is_audited(
    sqlite_url: str, registry: Any, example_form: Any
) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    expected = _deployment(sqlite_url, registry, example_form, old)
    store = open_store(sqlite_url)
    # Both keys open cases while the rotation runs.
    both = CaseService(store, registry, keys=CaseKeys(new, previous=[old]))
    with pytest.raises(_Stop):
        rotate_master_key(
            store,
            old=[old],
            new=new,
            actor=RECORDS,
            at=AT,
            batch_size=5,
            after_batch=_stop_after(2),
        )
    for case_id in expected["real"]:
        assert both.revealed(both.get(case_id)).personal["child"]["full_name"]
    report = rotate_master_key(store, old=[old], new=new, actor=RECORDS, at=AT, batch_size=5)
    total = len(expected["data_keys"])
    assert report.rewrapped == total - 10
    assert report.from_ids == (old.id,)
    assert report.to_id == new.id
    with store.read() as conn:
        log = [
            r.action
            for r in conn.execute(
                select(access_log_table).where(access_log_table.c.actor == "rita")
            )
        ]
    assert log[-1] == (
        f"master key rotation finished: {old.id} -> {new.id} ({total - 10} keys re-wrapped)"
    )
    assert log[-2].startswith(f"master key rotation started: {old.id} -> {new.id} ")
    _assert_all_under(sqlite_url, registry, new, expected)
    again = rotate_master_key(store, old=[old], new=new, actor=RECORDS, at=AT)
    assert again.rewrapped == 0


class _Stop(Exception):
    pass


def _stop_after(batches: int) -> Any:
    def hook(number: int) -> None:
        if number == batches:
            raise _Stop

    return hook


def test_a_rotation_needs_the_admin_role_and_every_old_key(
    sqlite_url: str, registry: Any, example_form: Any
) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    _deployment(sqlite_url, registry, example_form, old)
    store = open_store(sqlite_url)
    with pytest.raises(AccessDenied):
        rotate_master_key(store, old=[old], new=new, actor=OFFICER, at=AT)
    with pytest.raises(IntegrityFailure, match=f"wrapped by master key {old.id}.*--old-key"):
        rotate_master_key(store, old=[MasterKey.generate()], new=new, actor=RECORDS, at=AT)
    with store.read() as conn:
        assert master_key_ids(conn) == [old.id]


@pytest.mark.parametrize("kill_at", ["after:1", "after:3", "before:1", "before:3", "before:5"])
def test_a_rotation_killed_at_any_point_completes_when_run_again(
    tmp_path: Path, registry: Any, example_form: Any, kill_at: str
) -> None:
    url = f"sqlite:///{tmp_path / 'cme.db'}"
    old, new = MasterKey.generate(), MasterKey.generate()
    expected = _deployment(url, registry, example_form, old)
    total = len(expected["data_keys"])  # 22: five batches of five
    done = int(kill_at.partition(":")[2]) - kill_at.startswith("before")
    killed = _worker(url, old, new, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    store = open_store(url)
    with store.read() as conn:
        # Every row is under exactly one of the two keys, and the killed batch left nothing.
        assert pending(conn, new) == {old.id: total - 5 * done}
    # While it is half done, a reader holding both keys opens every case.
    both = CaseKeys(new, previous=[old])
    with store.read() as conn:
        for case_id, part in expected["sealed"].items():
            assert both.reveal(conn, case_id, {"1": part}) == {"n": int(case_id[4:])}
    store.dispose()
    finished = _worker(url, old, new, "never")
    assert finished.returncode == 0, finished.stderr
    assert int(finished.stdout) == total - 5 * done
    _assert_all_under(url, registry, new, expected)


def test_the_rotate_command_killed_from_outside_completes_when_run_again(
    tmp_path: Path, registry: Any, example_form: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'cme.db'}"
    old, new = MasterKey.generate(), MasterKey.generate()
    expected = _deployment(url, registry, example_form, old, synthetic=300)
    write_master_key_file(tmp_path / "old.key", old)
    write_master_key_file(tmp_path / "new.key", new)
    env = {**os.environ, "CME_MASTER_KEY_FILE": str(tmp_path / "old.key")}
    env.pop("CME_MASTER_KEY", None)
    args = [
        sys.executable,
        "-c",
        "from engine.cli import main; main()",
        "admin",
        "key",
        "rotate",
        "--new-key",
        str(tmp_path / "new.key"),
        "--batch-size",
        "1",
        "--db",
        url,
        "--actor",
        "rita",
        "--role",
        "records_manager",
    ]
    total = len(expected["data_keys"])
    killed_part_way = 0
    for _ in range(3):
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        # Kill it once it has committed some batches but not all of them.
        while proc.poll() is None:
            done = _under(tmp_path / "cme.db", new)
            if 0 < done < total:
                proc.send_signal(signal.SIGKILL)
                killed_part_way += 1
                break
            time.sleep(0.005)
        proc.communicate()
    assert killed_part_way >= 1, "the rotation was never caught part-way"
    assert 0 < _under(tmp_path / "cme.db", new) < total
    final = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert final.returncode == 0, final.stderr
    _assert_all_under(url, registry, new, expected)


def _under(path: Path, key: MasterKey) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM case_key WHERE master_key_id = ?", (key.id,)
        ).fetchone()
    return int(count)


def _worker(url: str, old: MasterKey, new: MasterKey, kill_at: str) -> Any:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.deployment.rotate_worker",
            url,
            old.text(),
            new.text(),
            "5",
            kill_at,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_development_key_lives_beside_the_sqlite_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    store = open_store(f"sqlite:///{tmp_path / 'data' / 'cme.db'}")
    assert dev_key_beside(store) == tmp_path / "data" / "master.key"
    keys, made = keys_for_store(store, {})
    assert made == tmp_path / "data" / "master.key"
    assert keys.master == read_master_key_file(made)
    assert not (tmp_path / ".cme").exists(), "never in the working directory"
    assert dev_key_beside(open_store("sqlite:///:memory:")) is None
    assert dev_key_beside(open_store("sqlite:///rel.db")) == Path("master.key")
