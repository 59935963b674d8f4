"""botocore.waiter: waiter models and acceptor matching, used as they are.

aiokit replaces only the polling loop (``aiokit._waiters``); the model classes, the
acceptors' compiled matchers and botocore's test of an error response stay botocore's. The
service's own waiter model comes from ``client._get_waiter_config`` (blocking: it reads the
``waiters-2`` file; botocore caches it on the client).
"""

from __future__ import annotations

from typing import Any

from botocore.waiter import SingleWaiterConfig, WaiterModel, is_valid_waiter_error

__all__ = ["SingleWaiterConfig", "WaiterModel", "is_valid_waiter_error", "waiter_config"]


def waiter_config(client: Any) -> dict[str, Any]:
    """The service's ``waiters-2`` model of ``client`` (empty when it has none). Blocking."""
    config: dict[str, Any] = client._get_waiter_config()
    return config
