"""The primitive argument checks (counts, seconds, text), which depend on nothing in aiokit
but the exception classes.

``aiokit._validate`` re-exports them beside the checks that know aiokit's own types; modules
``_validate`` checks the values of (``_ratelimit``'s ``RetrySettings``, ``_retry``) use
these, so ``_validate`` may import them without an import cycle.
"""

from __future__ import annotations

import math
import re

from ._errors import ConfigurationError, InvalidRoleError

__all__ = ["ACCOUNT_ID", "account_id", "count", "is_number", "kind", "seconds", "text"]

ACCOUNT_ID = re.compile(r"^\d{12}$")
"""A 12-digit AWS account id: the one pattern every module checks account ids with."""


def kind(value: object) -> str:
    return type(value).__name__


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def count(
    name: str,
    value: object,
    *,
    minimum: int = 1,
    optional: bool = False,
    error: type[ConfigurationError] = ConfigurationError,
) -> None:
    """``value`` is an ``int`` (not a ``bool``) of at least ``minimum`` (or ``None``)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{name} must be an int >= {minimum}, not {kind(value)} {value!r}")
    if value < minimum:
        raise error(f"{name} must be an int >= {minimum}, not {value!r}")


def seconds(
    name: str,
    value: object,
    *,
    optional: bool = False,
    zero: bool = False,
    error: type[ConfigurationError] = ConfigurationError,
) -> None:
    """``value`` is a finite number of seconds, above 0 (or at least 0 with ``zero``)."""
    if value is None and optional:
        return
    bound = ">= 0" if zero else "> 0"
    if not is_number(value):
        raise error(f"{name} must be a number of seconds {bound}, not {kind(value)} {value!r}")
    assert isinstance(value, int | float)
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise error(f"{name} must be a finite number of seconds {bound}, not {value!r}")


def text(
    name: str,
    value: object,
    *,
    optional: bool = False,
    error: type[ConfigurationError] = ConfigurationError,
) -> None:
    """``value`` is a non-empty string (or ``None``)."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise error(f"{name} must be a non-empty str, not {kind(value)} {value!r}")
    if not value.strip():
        raise error(f"{name} must be a non-empty str, not {value!r}")


def account_id(name: str, value: object, *, optional: bool = True) -> None:
    """A 12-digit account id, as a string (an ``int`` loses leading zeros)."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not ACCOUNT_ID.match(value):
        hint = " (an int loses leading zeros)" if isinstance(value, int) else ""
        raise InvalidRoleError(
            f"malformed {name} {value!r} ({kind(value)}): expected 12 digits, as a str{hint}",
            account=value if isinstance(value, str) else None,
        )
