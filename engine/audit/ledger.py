"""The ledger of case openings, checked link by link: a case opening removed from it, or an
entry altered, is named (`verify_store` runs this beside every case's own chain).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from engine.store.integrity import LEDGER_GENESIS, ledger_hash


def ledger_break(conn: Connection) -> str | None:
    """Where the ledger of case openings stops linking up from its first entry to its last (None:
    it links up all the way).
    """
    prev, expected = LEDGER_GENESIS, 1
    rows = conn.execution_options(stream_results=True, yield_per=5000).execute(
        text("SELECT seq, case_id, first_hash, prev_hash, hash FROM case_ledger ORDER BY seq")
    )
    for seq, case_id, first_hash, prev_hash, digest in rows:
        if seq != expected:
            return (
                f"entry {expected} is missing (the ledger jumps from {expected - 1} to {seq}): "
                "a case opening was removed from it"
            )
        if prev_hash != prev or ledger_hash(seq, case_id, first_hash, prev_hash) != digest:
            return (
                f"entry {seq} (case {case_id}) does not follow the entry before it or does not "
                "match its hash: the ledger was altered"
            )
        prev, expected = digest, seq + 1
    return None
