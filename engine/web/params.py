"""Reading what a page is given: a date in a query (YYYY-MM-DD, as `cme --on` takes it) and the
case version a form was rendered with (`seq`, for the engine's optimistic concurrency).
"""

from __future__ import annotations

import datetime as dt

from engine.errors import InputError


def date_param(value: str | None, name: str, default: dt.date) -> dt.date:
    """The date `value` gives, or `default` when it is empty; InputError (a 400 page) if it is
    not a date.
    """
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} must be a date written YYYY-MM-DD, not {value!r}") from None


def seq_param(value: str | None) -> int | None:
    """The case's event number a form carries (None: the form did not say)."""
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise InputError(f"the form's case version must be a number, not {value!r}") from None


__all__ = ["date_param", "seq_param"]
