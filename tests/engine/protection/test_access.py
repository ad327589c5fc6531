"""The role table and `require`: who may read, change, audit, load processes and administer."""

from __future__ import annotations

import pytest

from engine.cases.service import Actor
from engine.errors import AccessDenied, DefinitionError
from engine.protection.access import (
    Permission,
    load_role_table,
    parse_role_table,
    require,
    shipped_role_table,
)

P = Permission


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("cme_officer", {P.read_case, P.change_case, P.read_audit}),
        ("line_manager", {P.read_case, P.change_case, P.read_audit}),
        ("auditor", {P.read_case, P.read_audit}),
        ("policy_owner", {P.load_process}),
        ("read_only", {P.read_case}),
        ("records_manager", {P.read_audit, P.admin}),
    ],
)
def test_each_shipped_role_has_exactly_its_permissions(role: str, allowed: set[P]) -> None:
    table = shipped_role_table()
    for permission in Permission:
        assert table.allows(role, permission) is (permission in allowed), (role, permission)


def test_every_role_a_shipped_process_names_may_change_cases(registry) -> None:
    named = [(c.definition.id, r) for c in registry for r in c.definition.roles]
    assert named, "the shipped processes name roles"
    assert shipped_role_table().missing_process_roles(named) == []


def test_require_refuses_with_who_may_and_that_nothing_was_done() -> None:
    with pytest.raises(AccessDenied) as err:
        require(Actor("ana", "auditor"), P.change_case)
    message = str(err.value)
    assert "ana" in message
    assert "may not change case records" in message
    assert "cme_officer" in message
    assert "Nothing was done" in message
    assert "scheduler" not in message.split("roles that may:")[1], "internal roles are not offered"
    assert err.value.exit_code == 5


def test_require_names_an_unknown_role_and_suggests_the_close_one() -> None:
    with pytest.raises(AccessDenied, match=r"'cme_oficer'.*did you mean 'cme_officer'"):
        require(Actor("sona", "cme_oficer"), P.read_case)


def test_policy_owner_cannot_read_cases_and_officer_cannot_load_processes() -> None:
    with pytest.raises(AccessDenied, match="may not read case records"):
        require(Actor("pat", "policy_owner"), P.read_case)
    with pytest.raises(AccessDenied, match="may not load process definitions"):
        require(Actor("sona", "cme_officer"), P.load_process)
    require(Actor("pat", "policy_owner"), P.load_process)


def test_a_person_may_not_claim_the_scheduler_role() -> None:
    table = shipped_role_table()
    with pytest.raises(AccessDenied, match="engine's own role"):
        table.refuse_internal("scheduler")
    table.refuse_internal("cme_officer")


def test_a_role_table_with_a_typo_fails_with_its_place(tmp_path) -> None:
    path = tmp_path / "roles.yaml"
    path.write_text(
        "kind: roles\nversion: 1\nroles:\n  clerk:\n    title: Clerk\n"
        "    permissions: [read_case, write_everything]\n    colour: blue\n"
    )
    with pytest.raises(DefinitionError) as err:
        load_role_table(path)
    text = str(err.value)
    assert "invalid for 2 reasons" in text
    assert f"{path}:6:30: roles.clerk.permissions.1: Input should be 'read_case'" in text
    assert f"{path}:7:" in text
    assert "unknown key 'colour'" in text


def test_a_custom_table_is_honoured_over_the_shipped_one() -> None:
    table = parse_role_table(
        "kind: roles\nversion: 1\nroles:\n  clerk:\n    title: Clerk\n"
        "    permissions: [read_case]\n",
        "custom.yaml",
    )
    require(Actor("c", "clerk"), P.read_case, table=table)
    with pytest.raises(AccessDenied, match="not a role in custom.yaml"):
        require(Actor("s", "cme_officer"), P.read_case, table=table)
