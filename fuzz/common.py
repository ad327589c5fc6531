"""What the fuzzers share: a seeded mutator of text and a time budget.

Run by hand, never in CI (see README.md). Each fuzzer mutates real inputs (the shipped process
files, the example form, well-formed import CSVs), feeds them to the code under test and counts
any exception that is not one of the engine's own errors as a crash, saving the input.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "out" / "fuzz"

TOKENS = [
    "\n", ": ", "- ", "[", "]", "{", "}", "&a ", "*a", "<<: *a", "!!python/object:os.system ",
    "!!binary ", "? ", "|\n", ">-\n", "'", '"', "\\x00", "\x00", "\t", "~", "null", ".nan",
    "-.inf", "0x1F", "1e999", "2024-02-30", "2024-13-01", "9" * 40, "=HYPERLINK(\"x\")",
    "true", "no", "__import__('os')", "has(", "&&", "||", "size(", "\ufeff", "\u202e", "é",
    "\ud800", ",", '""', "\r\n", "\r",
]


class Budget:
    """Stops a loop after `seconds` of wall time."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> bool:
        """Whether there is time for another input."""
        return time.monotonic() < self.end


def mutate(text: str, rng: random.Random) -> str:
    """A few random edits of `text`: flips, deletions, duplications, hostile tokens."""
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        if not chars:
            chars = list(rng.choice(TOKENS))
        what = rng.random()
        at = rng.randrange(len(chars))
        if what < 0.25:
            chars[at] = chr(rng.choice((rng.randrange(32, 127), rng.randrange(0, 0x3000))))
        elif what < 0.45:
            del chars[at: at + rng.randint(1, 40)]
        elif what < 0.6:
            end = min(len(chars), at + rng.randint(1, 200))
            chars[at:at] = chars[at:end] * rng.randint(1, 3)
        else:
            chars[at:at] = list(rng.choice(TOKENS))
    return "".join(chars)


def save(kind: str, seed: int, data: str | bytes, error: BaseException) -> Path:
    """Keep a crashing input and its traceback under out/fuzz/."""
    import traceback

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{kind}-{seed}.input"
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    path.with_suffix(".txt").write_text("".join(traceback.format_exception(error)))
    return path
