"""botocore.loaders: one data loader per process, so service models are parsed once."""

from __future__ import annotations

import threading

from botocore.loaders import Loader, create_loader

_lock = threading.Lock()
_loader: Loader | None = None


def shared_loader() -> Loader:
    """The process-wide botocore loader; its instance cache holds every parsed model."""
    global _loader
    with _lock:
        if _loader is None:
            _loader = create_loader()
        return _loader
