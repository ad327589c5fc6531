"""Audit of case histories: replay, as-of, verify, signed checkpoints and export bundles.

A package rather than one module because each of these is a concept of its own: `access` (who
may audit, and the log of their reads), `chain` (the hash chain, read fast), `verify` (every
chain and projection in one streamed pass), `replay` (one case's timeline and as-of view),
`checkpoint` (signed Merkle roots over every chain head) and `export` (the auditor's bundle).
"""

from __future__ import annotations

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
]
