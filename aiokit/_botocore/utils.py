"""botocore.utils: botocore's checks of an endpoint URL, which aiokit runs on its own."""

from __future__ import annotations

from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

__all__ = ["is_valid_endpoint_url", "is_valid_ipv6_endpoint_url"]
