"""botocore.loaders: one data loader per process, so service models are parsed once."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from botocore.loaders import Loader, create_loader

_lock = threading.Lock()
_loader: Loader | None = None
# Inside ``models_let_go()``: that block's own loader, let go with it.
_passing: ContextVar[Loader | None] = ContextVar("aiokit_passing_loader", default=None)


def shared_loader() -> Loader:
    """The process-wide botocore loader; its instance cache holds every parsed model."""
    global _loader
    with _lock:
        if _loader is None:
            _loader = create_loader()
        return _loader


def model_loader() -> Loader:
    """The loader to read a service model with: :func:`shared_loader`, or inside
    :func:`models_let_go` that block's own."""
    return _passing.get() or shared_loader()


@contextmanager
def models_let_go() -> Iterator[None]:
    """Within: :func:`model_loader` is a loader of this block's own, let go after it.

    For a process that reads a model once and sends no request with it: the driver of a
    crawl run by worker processes checks each listing against its service's model (EC2's
    is 12 MB once parsed) and then only relays the workers' items. Kept in the shared
    loader, that model would stay in the driver for the whole crawl, beside the copy the
    workers read. The models botocore builds on it hold cycles: a full collection after
    the block gives their memory back at once (measured: the driver's PSS 80 -> 70 MB in
    ``benchmarks/bench_scaleout.py``; without the collection it stays).
    """
    token = _passing.set(create_loader())
    try:
        yield
    finally:
        _passing.reset(token)
        gc.collect()
