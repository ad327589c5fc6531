"""The search key: made beside the master key (0600), kept when a master key is rotated, and a
database's index refusing a key it was not made with."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest

from engine.cases import case_index
from engine.cases.case_index import SearchKeyMismatch
from engine.protection.blind_index import SEARCH_KEY_NAME, SearchKey, fold, prefixes
from engine.protection.crypto import CaseKeys, MasterKey
from engine.protection.masterkeys import keys_for_store, write_master_key_file
from engine.store.database import open_store

AT = dt.datetime(2024, 10, 21, 9, tzinfo=dt.UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_master_key_file_gets_a_search_key_beside_it_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    master = tmp_path / "keys" / "master.key"
    write_master_key_file(master, MasterKey.generate())
    search = master.parent / SEARCH_KEY_NAME
    assert mode(master) == mode(search) == 0o600
    first = search.read_text()
    # A rotated master key made in the same folder keeps the search key: the index still works.
    write_master_key_file(master.parent / "master-2025.key", MasterKey.generate())
    assert search.read_text() == first
    assert SearchKey.from_text(first, source="search.key").id


def test_a_development_database_gets_both_keys_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CME_MASTER_KEY", raising=False)
    monkeypatch.delenv("CME_MASTER_KEY_FILE", raising=False)
    monkeypatch.delenv("CME_SEARCH_KEY", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 'cme.db'}")
    try:
        keys, created = keys_for_store(store, env={})
    finally:
        store.dispose()
    assert created == tmp_path / "master.key"
    search = tmp_path / SEARCH_KEY_NAME
    assert mode(tmp_path / "master.key") == mode(search) == 0o600
    assert keys.search_keys[0] == SearchKey.from_text(search.read_text(), source="x")


def test_an_index_made_with_one_search_key_refuses_another_and_finds_the_right_one(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'cme.db'}")
    master = MasterKey.generate()
    one, other = SearchKey.generate(), SearchKey.generate()
    try:
        with store.engine.begin() as conn:
            assert case_index.search_key(conn, CaseKeys(master, search=[one]), at=AT) == one
        case_index._INDEXED.clear()
        with store.engine.begin() as conn, pytest.raises(SearchKeyMismatch, match=one.id):
            case_index.search_key(conn, CaseKeys(master, search=[other]), at=AT)
        # After a rotation into a new folder: the old folder's key is found among those tried.
        with store.engine.begin() as conn:
            assert case_index.search_key(conn, CaseKeys(master, search=[other, one]), at=AT) == one
    finally:
        store.dispose()
        case_index._INDEXED.clear()


def test_text_is_folded_and_name_parts_indexed_by_prefixes_of_three_or_more() -> None:
    assert fold("  José  NÚÑEZ-García ") == "jose nunez garcia"
    assert fold("Zoë Ødegård") == "zoe odegard"
    assert prefixes("silva") == ["sil", "silv", "silva"]
    assert prefixes("li") == []
