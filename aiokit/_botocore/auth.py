"""botocore.auth: the signature versions botocore knows (``AUTH_TYPE_MAPS``, and
``UNSIGNED``), which aiokit checks a config's ``signature_version`` against before any
client is made."""

from __future__ import annotations

from botocore import UNSIGNED
from botocore.auth import AUTH_TYPE_MAPS

__all__ = ["AUTH_TYPE_MAPS", "UNSIGNED"]
