"""Audit of case histories: replay, as-of, verify, signed checkpoints and export bundles.

A package rather than one module because each of these is a concept of its own: `access` (who
may audit, and the log of their reads), `chain` (the hash chain, read fast), `verify` (every
chain and projection in one streamed pass), `replay` (one case's timeline and as-of view),
`checkpoint` (signed Merkle roots over every chain head), `verification` (one run as an auditor
runs it: checked, recorded, marked) and `export` (the auditor's bundle).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names, for type checkers; at run time they load on first use
    from engine.audit.access import access_entries, authorise, record_access
    from engine.audit.checkpoint import (
        Checkpoint,
        generate_private_key,
        load_checkpoint,
        load_private_key,
        make_checkpoint,
        merkle_root,
    )
    from engine.audit.export import export_bundle, render_html
    from engine.audit.replay import AsOf, Replay, TimelineEntry, case_as_of, replay_case
    from engine.audit.verify import Problem, VerifyReport, verify_store

# name -> module. Imported on first use (PEP 562), so `import engine.audit.access` does not load
# replay, verify and export (and through them the case service).
_EXPORTS = {
    "access_entries": "engine.audit.access",
    "authorise": "engine.audit.access",
    "record_access": "engine.audit.access",
    "Checkpoint": "engine.audit.checkpoint",
    "generate_private_key": "engine.audit.checkpoint",
    "load_checkpoint": "engine.audit.checkpoint",
    "load_private_key": "engine.audit.checkpoint",
    "make_checkpoint": "engine.audit.checkpoint",
    "merkle_root": "engine.audit.checkpoint",
    "export_bundle": "engine.audit.export",
    "render_html": "engine.audit.export",
    "AsOf": "engine.audit.replay",
    "Replay": "engine.audit.replay",
    "TimelineEntry": "engine.audit.replay",
    "case_as_of": "engine.audit.replay",
    "replay_case": "engine.audit.replay",
    "Problem": "engine.audit.verify",
    "VerifyReport": "engine.audit.verify",
    "verify_store": "engine.audit.verify",
}

__all__ = [
    "AsOf",
    "Checkpoint",
    "Problem",
    "Replay",
    "TimelineEntry",
    "VerifyReport",
    "access_entries",
    "authorise",
    "case_as_of",
    "export_bundle",
    "generate_private_key",
    "load_checkpoint",
    "load_private_key",
    "make_checkpoint",
    "merkle_root",
    "record_access",
    "render_html",
    "replay_case",
    "verify_store",
]  # the keys of _EXPORTS (a test pins that they agree)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.audit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
