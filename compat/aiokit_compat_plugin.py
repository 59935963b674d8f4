"""pytest plugin loaded into every ``make compat`` run (``-p aiokit_compat_plugin``).

With ``AIOKIT_COMPAT_MODE=aiobotocore`` the protocol tests run on aiobotocore's own
(async) parsers: the baseline aiokit's parsers are compared with, since a pool's clients
are aiobotocore clients. With ``AIOKIT_COMPAT_MODE=aiokit`` it puts aiokit's replacements
where botocore's own tests look for botocore's:

- the protocol tests' parser table (``PROTOCOL_PARSERS``) gets aiokit's parser classes (the
  ones ``aiokit._botocore.parsers.ParserFactory`` hands a pool's clients), and their timestamp
  helper calls aiokit's ``parse_timestamp``;
- ``botocore.auth.SigV4Auth`` is aiokit's ``LeanSigV4Auth`` (set before the SigV4 test
  modules import it), and ``AUTH_TYPE_MAPS["v4"]`` with it.

In every other mode it does nothing: aiobotocore's suite is routed by its conftest.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
from typing import Any

MODE = os.environ.get("AIOKIT_COMPAT_MODE", "plain")


def pytest_configure(config: Any) -> None:
    if MODE != "aiokit":
        return
    import botocore.auth

    from aiokit._botocore.signers import LeanSigV4Auth

    botocore.auth.SigV4Auth = LeanSigV4Auth
    botocore.auth.AUTH_TYPE_MAPS["v4"] = LeanSigV4Auth


def pytest_collection_finish(session: Any) -> None:
    if MODE not in ("aiokit", "aiobotocore"):
        return
    if MODE == "aiokit":
        from aiokit._botocore.parsers import _PARSERS as parsers
        from aiokit._botocore.parsers import parse_timestamp
    else:
        from aiobotocore.parsers import PROTOCOL_PARSERS as parsers
        from botocore.utils import parse_timestamp

    for name, module in list(sys.modules.items()):
        if name.endswith("test_protocols") and hasattr(module, "PROTOCOL_PARSERS"):
            module.PROTOCOL_PARSERS.update(
                {protocol: _synchronous(cls) for protocol, cls in parsers.items()}
            )
            module.parse_timestamp = parse_timestamp


_loop: asyncio.AbstractEventLoop | None = None


def _synchronous(cls: type) -> type:
    """aiokit's parsers are aiobotocore's, whose ``parse`` is a coroutine; botocore's tests
    call it synchronously, so run each call to completion on one private loop."""

    def parse(self: Any, response: Any, shape: Any) -> Any:
        global _loop
        result = cls.parse(self, response, shape)
        if not inspect.iscoroutine(result):
            return result
        if _loop is None:
            _loop = asyncio.new_event_loop()
        return _loop.run_until_complete(result)

    return type(cls.__name__, (cls,), {"parse": parse})


def pytest_unconfigure(config: Any) -> None:
    if _loop is not None:
        _loop.close()
