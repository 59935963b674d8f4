"""A higher first-generation threshold for Python's cyclic garbage collector while
fan-outs run.

CPython collects its youngest generation every 700 net allocations of container objects.
A crawl allocates thousands per request (an XML response's elements, botocore's request
and response dicts), and with dozens of requests in flight many of them are still alive
when a collection comes: each young collection walks them, promotes them, and the
promoted ones soon force full collections that walk every object in the process, the
service models included. On a crawl that is 15-20 % of the CPU (measured by
``benchmarks`` with the collector's own threshold against this one, in one process).

So while at least one fan-out runs, the threshold of the youngest generation is raised to
the pool's ``gc_threshold`` (never lowered), and put back when the last one ends, unless
someone else changed it meanwhile. Garbage without cycles is freed at once by reference
counting either way; only cyclic garbage waits a little longer. A disabled collector is
left alone.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["DEFAULT_GC_THRESHOLD", "raised_gc_threshold"]

# CPython 3.13 raised its own default from 700 to 2,000; a crawl wants more.
DEFAULT_GC_THRESHOLD = 50_000

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] | None = None  # the thresholds to put back
_ours: tuple[int, int, int] | None = None  # the thresholds set here


@contextmanager
def raised_gc_threshold(threshold: int | None) -> Iterator[None]:
    """Hold the collector's youngest-generation threshold at ``threshold`` or above.

    Nested and concurrent holders (several fan-outs, in any thread) share one raise; the
    last to leave restores the thresholds found by the first, if they are still the ones
    set here. ``None`` does nothing.
    """
    if threshold is None:
        yield
        return
    _acquire(threshold)
    try:
        yield
    finally:
        _release()


def _acquire(threshold: int) -> None:
    global _holders, _saved, _ours
    with _lock:
        _holders += 1
        if _saved is not None or not gc.isenabled():
            return
        current = gc.get_threshold()
        if current[0] >= threshold:
            return
        _saved = current
        _ours = (threshold, current[1], current[2])
        gc.set_threshold(*_ours)


def _release() -> None:
    global _holders, _saved, _ours
    with _lock:
        _holders -= 1
        if _holders or _saved is None:
            return
        if gc.get_threshold() == _ours:
            gc.set_threshold(*_saved)
        _saved = _ours = None
