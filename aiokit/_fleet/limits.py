"""``FanOutLimits``: how many targets run at once, and for how long, checked once."""

from __future__ import annotations

from dataclasses import dataclass

from .. import _validate
from .._exceptions import ConfigurationError

__all__ = ["DEFAULT_LIMITS", "FanOutLimits"]


@dataclass(frozen=True, slots=True)
class FanOutLimits:
    """The bounds and times of a fan-out or crawl, checked when it is made.

    ``pool.fan_out(...)`` and ``pool.crawl(...)`` take these as keywords and build one.

    Args:
        concurrency: targets in progress at once (1 to 100,000); memory stays bounded by
            it, since a target's outcome waits for the consumer before another starts.
        per_account: targets of one account in progress at once (``None``: no bound).
        per_region: targets of one region in progress at once (``None``: no bound).
        timeout: seconds one target may take; then it fails with reason ``timeout``.
        deadline: seconds the whole run may take; then it stops, keeping what it has:
            outcomes already made are delivered, targets not started are never visited.
        per_service: in a crawl of many listings, units of one service in progress at
            once (``None``: no bound); ignored by a fan-out or a one-listing crawl.

    Raises:
        ConfigurationError: a bound below 1 (a bound of 0 would make every target wait
            for a slot that never comes), a concurrency above 100,000, or a time that is
            not a finite number of seconds above 0.
    """

    concurrency: int = 64
    per_account: int | None = None
    per_region: int | None = None
    timeout: float | None = None
    deadline: float | None = None
    per_service: int | None = None

    def __post_init__(self) -> None:
        _validate.count("concurrency", self.concurrency)
        if self.concurrency > _validate.MAX_CONCURRENCY:
            # A worker task per slot: a billion would never finish starting.
            raise ConfigurationError(
                f"concurrency must be at most {_validate.MAX_CONCURRENCY:,}, "
                f"not {self.concurrency:,}"
            )
        _validate.count("per_account", self.per_account, optional=True)
        _validate.count("per_region", self.per_region, optional=True)
        _validate.count("per_service", self.per_service, optional=True)
        _validate.seconds("timeout", self.timeout, optional=True)
        _validate.seconds("deadline", self.deadline, optional=True)


DEFAULT_LIMITS = FanOutLimits()
