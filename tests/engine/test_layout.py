"""The layout's promises that import-linter cannot check: lazy package surfaces, and the one rule
declared twice across a layer boundary (sealed personal parts) saying the same thing."""

from __future__ import annotations

import subprocess
import sys

import engine.audit
from engine.cases import projection
from engine.protection import crypto


def _loaded_after(statement: str, modules: tuple[str, ...]) -> list[str]:
    code = f"import sys; {statement}; print(sorted(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(eval(out.stdout))


def test_the_audit_package_lists_what_it_loads_lazily() -> None:
    assert engine.audit.__all__ == sorted(engine.audit._EXPORTS)
    for name in engine.audit.__all__:
        assert getattr(engine.audit, name) is not None


def test_importing_the_audit_access_map_loads_no_replay_verify_or_case_service() -> None:
    heavy = (
        "engine.audit.replay",
        "engine.audit.verify",
        "engine.audit.export",
        "engine.cases.service",
    )
    assert _loaded_after("import engine.audit.access", heavy) == []


def test_crypto_merges_sealed_parts_by_the_rule_the_projection_uses_for_plain_ones() -> None:
    assert crypto.MERGED_PERSONAL == projection.MERGED_PERSONAL
    for part in (
        {"enc": "x", "key": "k"},
        {"enc": "x"},
        {"enc": "x", "key": "k", "more": 1},
        "text",
        None,
        {},
    ):
        assert crypto.is_sealed(part) == projection.is_sealed(part)
