"""Finding any case through the blind index: by any part of a name (case and accents aside), UPN,
date of birth, school or postcode; only one officer's; each read logged; nothing stored in the
clear; an upgraded database indexed from its decrypted cases; a purged case no longer found."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from engine.cases import case_index
from engine.cases.finding import find_cases, read_query
from engine.cases.notification import NotificationForm, parse_form
from engine.cases.service import Actor, CaseService
from engine.cases.views import list_cases
from engine.errors import AccessDenied, InputError
from engine.store.tables import access_log_table, case_index_key_table, case_index_table
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
OTHER = Actor("kai", "cme_officer")
OPENED = dt.date(2024, 10, 21)


def form(example_form: NotificationForm, **child: Any) -> NotificationForm:
    data = example_form.model_dump(mode="json")
    data["children"] = [{**data["children"][0], **child}]
    return parse_form(data)


@pytest.fixture
def cases(service: CaseService, example_form: NotificationForm) -> dict[str, str]:
    """Three children: José Núñez (Kai's), Ana Silva and Anabel Costa (Sona's)."""
    out = {}
    for name, dob, upn, actor in (
        ("José Núñez-García", "2013-04-09", None, OTHER),
        ("Ana Silva", "2015-03-14", "H801200001001", OFFICER),
        ("Anabel Costa", "2012-07-30", None, OFFICER),
    ):
        (case_id,) = service.open_case(
            form(example_form, full_name=name, date_of_birth=dob, upn=upn),
            on=OPENED,
            at=RECORDED_AT,
            actor=actor,
        )
        out[name] = case_id
    return out


def found(service: CaseService, text: str, **kw: Any) -> list[str]:
    return [
        c["id"] for c in find_cases(service, text, actor=OFFICER, at=RECORDED_AT, **kw)["cases"]
    ]


def test_a_case_is_found_by_any_part_of_the_name_whatever_the_case_or_accents(
    service: CaseService, cases: dict[str, str]
) -> None:
    jose = cases["José Núñez-García"]
    assert found(service, "nunez") == [jose]
    assert found(service, "JOSÉ") == [jose]
    assert found(service, "gar") == [jose]  # a part of the name, from its start
    assert found(service, "jose nun") == [jose]  # every part must match
    assert found(service, "ana") == sorted([cases["Ana Silva"], cases["Anabel Costa"]])
    assert found(service, "ana silva") == [cases["Ana Silva"]]
    assert found(service, "jose silva") == []
    row = find_cases(service, "núñez", actor=OFFICER, at=RECORDED_AT)["cases"][0]
    assert (row["child"], row["date_of_birth"], row["assigned_officer"]) == (
        "José Núñez-García",
        "2013-04-09",
        "kai",
    )


def test_a_case_is_found_by_upn_date_of_birth_school_and_postcode(
    service: CaseService, cases: dict[str, str]
) -> None:
    ana = cases["Ana Silva"]
    assert found(service, "h801200001001") == [ana]
    assert found(service, "2015-03-14") == [ana]
    assert found(service, "14/03/2015") == [ana]
    assert found(service, "kentish town primary school") == sorted(cases.values())
    assert found(service, "nw1 0aa") == sorted(cases.values())
    assert found(service, "ana", officer="sona") == sorted([ana, cases["Anabel Costa"]])
    assert found(service, "nunez", officer="sona") == []


def test_each_case_found_is_a_logged_read_and_needs_read_case(
    service: CaseService, cases: dict[str, str]
) -> None:
    with pytest.raises(AccessDenied):
        find_cases(service, "ana", actor=Actor("pat", "policy_owner"), at=RECORDED_AT)
    find_cases(service, "ana silva", actor=OFFICER, at=RECORDED_AT)
    with service.store.read() as conn:
        logged = conn.execute(
            select(access_log_table.c.case_id).where(access_log_table.c.action == "case find")
        ).all()
    assert [r[0] for r in logged] == [cases["Ana Silva"]]
    with pytest.raises(InputError, match="say what to find"):
        read_query("  --  ")


def test_the_index_holds_no_name_birth_date_or_upn_in_the_clear(
    service: CaseService, cases: dict[str, str]
) -> None:
    with service.store.read() as conn:
        tokens = [r[0] for r in conn.execute(select(case_index_table.c.token))]
    assert tokens
    text = " ".join(tokens).casefold()
    for clear in ("jose", "nunez", "silva", "2015-03-14", "h801200001001", "nw10aa"):
        assert clear not in text
    assert all(len(t) == 32 for t in tokens)


def test_an_upgraded_database_is_indexed_from_its_cases_when_the_key_is_there(
    service: CaseService, cases: dict[str, str]
) -> None:
    # A database from before the index: cases, no index rows, no key recorded.
    with service.store.engine.begin() as conn:
        conn.execute(delete(case_index_table))
        conn.execute(delete(case_index_key_table))
    case_index._INDEXED.clear()
    assert found(service, "núñez") == [cases["José Núñez-García"]]
    with service.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(case_index_key_table)).scalar() == 1


def test_a_purged_case_is_no_longer_found_by_the_child(
    service: CaseService, cases: dict[str, str]
) -> None:
    from engine.cases.purge import purge_case
    from engine.protection.retention import shipped_retention

    ana = cases["Ana Silva"]
    service.fire(
        ana, "close_opened_in_error", on=OPENED, at=RECORDED_AT, actor=OFFICER, note="test"
    )
    rule = shipped_retention().rule_for("untraceable_cme")
    assert rule is not None
    on = dt.date(OPENED.year + rule.closed_more_than_years + 1, 1, 6)
    purge_case(
        service,
        ana,
        rule,
        on=on,
        at=dt.datetime.combine(on, dt.time(9), tzinfo=dt.UTC),
        actor=Actor("rm", "records_manager"),
    )
    assert found(service, "ana silva") == []
    with service.store.read() as conn:
        left = conn.execute(select(func.count()).where(case_index_table.c.case_id == ana)).scalar()
    assert left == 0


def test_list_mine_shows_only_the_actors_cases(service: CaseService, cases: dict[str, str]) -> None:
    mine = list_cases(service, actor=OFFICER, at=RECORDED_AT, officer="sona")
    assert [r["id"] for r in mine] == sorted([cases["Ana Silva"], cases["Anabel Costa"]])


def test_a_database_from_the_previous_release_is_indexed_from_its_cases_on_first_find(
    tmp_path: Path,
) -> None:
    import stat

    from engine.cli import wiring
    from tests.engine.cases.test_previous_release import CASE, RELEASE, _copy, cme

    wiring.keys.cache_clear()
    try:
        env = _copy(tmp_path)
        assert not (tmp_path / "search.key").exists()  # 0.1.0 had none
        child = cme(env, "case", "show", CASE)["child"]
        surname = child["full_name"].split()[-1]
        found = cme(env, "case", "find", surname[:4])["cases"]
        assert CASE in [c["id"] for c in found]
        assert all(surname[:4].casefold() in c["child"].casefold() for c in found)
        # The search key was made beside the release's master key, readable by its owner only.
        assert stat.S_IMODE((tmp_path / "search.key").stat().st_mode) == 0o600
        assert (RELEASE / "demo.db").exists()  # the fixture itself is untouched
    finally:
        wiring.keys.cache_clear()
