"""Blind indexes: finding a case by a child's name, UPN, date of birth, school or postcode without
storing any of them in the clear.

Owns the search key (a 256-bit key kept beside the master key, never in the database), how text
is normalised before it is indexed (case, accents and spacing do not matter), and the keyed digest
of one token (HMAC-SHA256 under the search key, cut to 128 bits). Which tokens a case has, and
the table they go in, are `engine/cases/case_index.py`'s; the key files are
`engine/protection/masterkeys.py`'s.

What the digests give away to someone holding the database alone is in SECURITY.md ("Finding a
case"): which cases share a token, and how often a token occurs; not the token itself.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass

from engine.errors import InputError

SEARCH_KEY_NAME = "search.key"
"""The search key's file name, in the master key's folder."""
SEARCH_KEY_ENV = "CME_SEARCH_KEY"
"""The search key itself, base64 (for containers and CI secrets, beside CME_MASTER_KEY)."""

PREFIX_MIN = 3
"""The shortest part of a name that finds it: every name part is indexed with each of its
prefixes of this length or more, so "ali" finds Alice. Shorter prefixes would tie each digest to
too many cases to be worth the extra rows, and say more about name frequencies."""

_DIGEST_BYTES = 16


@dataclass(frozen=True)
class SearchKey:
    """The key blind-index digests are made with; never stored in the database."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise InputError(f"the search key must be 32 bytes (256 bits), not {len(self.key)}")

    @classmethod
    def generate(cls) -> SearchKey:
        """A new random search key."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def derived_from(cls, master_key: bytes) -> SearchKey:
        """The search key of a deployment whose master key is given only in the environment
        (CME_MASTER_KEY, no key file to sit beside): derived from it, so rotating that master
        key means indexing every case again.
        """
        return cls(hmac.new(master_key, b"cme-search-key", hashlib.sha256).digest())

    @classmethod
    def from_text(cls, text: str, *, source: str) -> SearchKey:
        """Decode a base64 search key, saying where a bad one came from."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"{source} is not a base64 search key") from None
        if len(raw) != 32:
            raise InputError(f"{source} holds {len(raw)} bytes; a search key is 32 bytes, base64")
        return cls(raw)

    def text(self) -> str:
        """The key as base64, as written to a key file."""
        return base64.b64encode(self.key).decode()

    @functools.cached_property
    def id(self) -> str:
        """A fingerprint naming this key (not the key): which key a database's index was made
        with.
        """
        return hashlib.sha256(b"cme-search-key:" + self.key).hexdigest()[:16]

    def digest(self, token: str) -> str:
        """The blind-index entry of one normalised token (hex)."""
        mac = hmac.new(self.key, token.encode(), hashlib.sha256).digest()
        return mac[:_DIGEST_BYTES].hex()


# -- normalising what people write -------------------------------------------------------------

_NOT_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """`text` without case or accents, its runs of spaces and punctuation one space: "  José
    O'Neil" and "jose o neil" fold alike.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Letters no decomposition reaches (ø, ł, ß after casefold is "ss") spelled as people type them.
    plain = plain.translate(_SPELLED)
    return " ".join(_NOT_WORD.sub(" ", plain).split())


_SPELLED = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe", "ı": "i"})


def name_parts(text: str) -> list[str]:
    """The parts of a name, folded: "Ana-Maria  Silva" is ["ana", "maria", "silva"]."""
    return fold(text).split()


def prefixes(part: str) -> list[str]:
    """Every prefix of a folded name part that finds it (`PREFIX_MIN` characters or more)."""
    return [part[:n] for n in range(PREFIX_MIN, len(part) + 1)]


def compact(text: str) -> str:
    """A code as one upper-case run (postcodes, UPNs): "nw5 1tl" is "NW51TL"."""
    return fold(text).replace(" ", "").upper()


__all__ = [
    "PREFIX_MIN",
    "SEARCH_KEY_ENV",
    "SEARCH_KEY_NAME",
    "SearchKey",
    "compact",
    "fold",
    "name_parts",
    "prefixes",
]
