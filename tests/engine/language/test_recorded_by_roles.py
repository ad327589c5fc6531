"""A check or fact reserved to a role (`recorded_by`, `waived_by`) names a role the process
declares: a misspelt one is refused at load time, on its line, with a suggestion."""

from __future__ import annotations

import pytest

from engine.errors import DefinitionError
from engine.language.loader import load_process_text

PROCESS = """
kind: process
id: reserved
title: A check and a fact reserved to roles
version: 1
effective_from: 2024-09-01
source: {document: Test policy, section: section 4.3}
clock: {day_one: the day the notification is received}
initial: waiting
roles:
  school: {title: School}
  cme_officer: {title: CME Officer}
facts:
  off_roll_date:
    type: date
    description: The off roll date.
    recorded_by: [scool]
states:
  waiting:
    title: Waiting
    description: Waiting for confirmation.
    ref: section 4.3
    checklist:
      - id: cme_officer_confirmed_receipt
        wording: The CME Officer has confirmed receipt.
        recorded_by: [cme_oficer]
        waived_by: [line_manager]
  done:
    title: Done
    description: Done.
    terminal: true
    ref: section 4.3
triggers:
  - {id: finish, title: Finish, source: [waiting], dest: done, roles: [school], ref: section 4.3}
"""


def test_an_undeclared_role_on_a_check_or_fact_is_refused_on_its_line() -> None:
    with pytest.raises(DefinitionError) as info:
        load_process_text(PROCESS, "reserved.yaml")
    messages = [(issue.line, issue.message) for issue in info.value.issues]
    assert messages == [
        (17, "unknown role 'scool'; did you mean 'school'?"),
        (26, "unknown role 'cme_oficer'; did you mean 'cme_officer'?"),
        (27, "unknown role 'line_manager'; known roles: cme_officer, school"),
    ]
