"""Personal data at rest: sealed per case before hashing, opened only with the case's key."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine.cases.projection import is_sealed
from engine.cases.service import Actor, CaseService
from engine.errors import InputError, IntegrityFailure
from engine.protection.crypto import (
    MASTER_KEY_ENV,
    MASTER_KEY_FILE_ENV,
    CaseKeys,
    MasterKey,
    master_key_from_environment,
)
from engine.store.database import open_store
from engine.store.tables import case_key_table, case_table, event_table
from tests.conftest import RECORDED_AT
from tests.reliability.invariants import verify_chains

OFFICER = Actor("sona", "cme_officer")
OPENED = dt.date(2024, 10, 21)


def _open(service: CaseService, form) -> str:
    return service.open_case(form, on=OPENED, at=RECORDED_AT, actor=OFFICER)[0]


def test_no_personal_detail_reaches_the_database_file_in_clear(
    sqlite_url, registry, example_form, tmp_path
) -> None:
    store = open_store(sqlite_url)
    service = CaseService(store, registry)
    case_id = _open(service, example_form)
    service.add_note(
        case_id,
        "Neighbour says the family moved to Leeds",
        on=OPENED,
        at=RECORDED_AT,
        actor=OFFICER,
    )
    store.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("cme.db*"))
    for secret in (
        b"Ana Silva",
        b"Maria Silva",
        b"H801200001001",
        b"07700 900123",
        b"moved to Leeds",
        b"Example Street",
    ):
        assert secret not in raw, secret
    service = CaseService(open_store(sqlite_url), registry)
    opened = service.revealed(service.get(case_id))
    assert opened.personal["child"]["full_name"] == "Ana Silva"
    assert opened.personal["last_note"] == "Neighbour says the family moved to Leeds"


def test_events_hash_the_ciphertext_and_replay_keeps_it_sealed(service, example_form) -> None:
    case_id = _open(service, example_form)
    service.add_note(case_id, "first", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.add_note(case_id, "second", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    events = service.events(case_id)
    assert all(is_sealed(e.payload["personal"]) for e in events)
    stored = service.get(case_id)
    assert sorted(stored.personal) == ["1", "2", "3"], "one sealed part per event, by seq"
    assert verify_chains(service.store) == 2
    # The later note wins, as it would in clear.
    assert service.revealed(stored).personal["last_note"] == "second"


def test_a_personal_fact_is_sealed_yet_guards_still_read_it(service, example_form) -> None:
    case_id = _open(service, example_form)
    on = dt.date(2024, 10, 23)
    service.set_fact(
        case_id,
        "left_the_country_evidence",
        "Aunt says flights to Lisbon on 20 Oct",
        on=on,
        at=RECORDED_AT,
        actor=OFFICER,
    )
    assert "left_the_country_evidence" not in service.get(case_id).facts
    # requires_facts reads the sealed fact: the step is allowed.
    result = service.fire(case_id, "child_left_the_country", on=on, at=RECORDED_AT, actor=OFFICER)
    assert result.case.state == "left_the_country"
    assert result.case.terminal
    facts = service.revealed(result.case).all_facts()
    assert facts["left_the_country_evidence"] == "Aunt says flights to Lisbon on 20 Oct"


def test_altered_ciphertext_is_an_integrity_failure(service, example_form) -> None:
    case_id = _open(service, example_form)
    row = service.get(case_id)
    blob = dict(row.personal["1"])
    raw = bytearray(base64.b64decode(blob["enc"]))
    raw[-1] ^= 1
    blob["enc"] = base64.b64encode(bytes(raw)).decode()
    with service.store.engine.begin() as conn:
        conn.execute(
            update(case_table)
            .where(case_table.c.id == case_id)
            .values(personal=json.dumps({"1": blob}))
        )
    with pytest.raises(IntegrityFailure, match="does not decrypt: it was altered"):
        service.revealed(service.get(case_id))


def test_a_sealed_part_moved_to_another_event_does_not_open(service, example_form) -> None:
    case_id = _open(service, example_form)
    service.add_note(case_id, "note", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    row = service.get(case_id)
    swapped = {"1": row.personal["2"], "2": row.personal["1"]}
    with service.store.engine.begin() as conn:
        conn.execute(
            update(case_table)
            .where(case_table.c.id == case_id)
            .values(personal=json.dumps(swapped))
        )
    with pytest.raises(IntegrityFailure, match="moved from another event"):
        service.revealed(service.get(case_id))


def test_a_sealed_part_copied_to_another_case_does_not_open(service, example_form) -> None:
    first, second = service.open_case(example_form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    stolen = service.get(first).personal["1"]
    with service.store.engine.begin() as conn:
        conn.execute(
            update(case_table)
            .where(case_table.c.id == second)
            .values(personal=json.dumps({"1": stolen}))
        )
    with pytest.raises(IntegrityFailure):
        service.revealed(service.get(second))


def test_the_wrong_master_key_is_named_not_silently_used(service, example_form) -> None:
    case_id = _open(service, example_form)
    other = CaseService(service.store, service.registry, keys=CaseKeys(MasterKey.generate()))
    with pytest.raises(IntegrityFailure, match="wrapped by master key .* set CME_MASTER_KEY_FILE"):
        other.revealed(other.get(case_id))
    with pytest.raises(IntegrityFailure):
        other.add_note(case_id, "x", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    assert service.get(case_id).seq == 1, "nothing was written with the wrong key"


def test_case_keys_are_wrapped_not_stored_in_clear(service, example_form) -> None:
    case_id = _open(service, example_form)
    with service.store.engine.connect() as conn:
        row = conn.execute(select(case_key_table).where(case_key_table.c.case_id == case_id)).one()
        payload = conn.execute(select(event_table.c.payload)).first()
    assert row.master_key_id == service.keys.master.id
    assert len(base64.b64decode(row.wrapped)) == 12 + 32 + 16, "nonce + key + GCM tag"
    assert row.key_id in payload[0]


def test_master_key_from_variable_file_or_a_new_dev_file(tmp_path: Path) -> None:
    key = MasterKey.generate()
    got, made = master_key_from_environment({MASTER_KEY_ENV: key.text()})
    assert got == key
    assert made is None
    keyfile = tmp_path / "master.key"
    keyfile.write_text(key.text() + "\n")
    assert master_key_from_environment({MASTER_KEY_FILE_ENV: str(keyfile)})[0] == key
    dev = tmp_path / ".cme" / "master.key"
    first, made = master_key_from_environment({}, dev_path=dev)
    assert made == dev
    assert stat.S_IMODE(os.stat(dev).st_mode) == 0o600
    again, made_again = master_key_from_environment({}, dev_path=dev)
    assert again == first, "the dev key is made once, then reused"
    assert made_again is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({MASTER_KEY_ENV: "not base64!"}, "CME_MASTER_KEY is not a base64 master key"),
        ({MASTER_KEY_ENV: base64.b64encode(b"short").decode()}, "holds 5 bytes"),
        ({MASTER_KEY_FILE_ENV: "/nonexistent/master.key"}, "cannot read CME_MASTER_KEY_FILE"),
    ],
)
def test_a_bad_master_key_is_refused_clearly(env: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        master_key_from_environment(env)


def test_many_cases_revealed_together_as_each_alone(service, example_form) -> None:
    # Reports reveal thousands of cases with their keys read together (reveal_many): the same
    # answers as one case at a time, a destroyed key included, and a missing key row refused.
    first, second = service.open_case(example_form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.add_note(second, "a later note", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    keys = service.keys
    with service.store.engine.begin() as conn:
        keys.destroy(conn, second, at=RECORDED_AT, by="test", reason="retention")
    rows = [service.get(first), service.get(second)]
    items = [(row.id, row.personal) for row in rows] + [("CME-000404", {"plain": "only"})]
    with service.store.read() as conn:
        alone = [keys.reveal(conn, case_id, personal) for case_id, personal in items]
        together = keys.reveal_many(conn, items)
    assert together == alone
    assert together[0]["child"]["full_name"] == "Ana Silva"
    assert [c.personal for c in service.reader.revealed_all(rows)] == [
        service.revealed(row).personal for row in rows
    ]
    with service.store.engine.begin() as conn:
        conn.execute(case_key_table.delete().where(case_key_table.c.case_id == first))
    with service.store.read() as conn, pytest.raises(IntegrityFailure, match="no case key row"):
        keys.reveal_many(conn, items[:1])
