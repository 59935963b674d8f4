"""THE SEAM: every place where aiokit reaches into botocore / aiobotocore / boto3 internals.

Code outside this package uses only their public surface (exceptions, ``Config`` /
``AioConfig``, sessions, client method calls). Each module here is named after the upstream
module it bends, and every touch point is pinned by ``tests/test_upstream_pins.py``, which
fails when upstream changes what aiokit relies on.

The register (module: what it bends, and why):

- ``loaders``: one botocore data loader per process; service models are parsed once.
- ``httpsession``: one SSL context per CA bundle (aiobotocore loads one per client).
- ``http11``: aiokit's HTTP/1.1 session for plain requests (``LeanHTTPSession``).
- ``session``: the clients botocore's credential providers make (the STS hop of a
  profile's ``role_arn``, SSO) go to the pool's ``endpoint_url``.
- ``config``: merging configs without losing aiobotocore's connector arguments; config keys.
- ``credentials``: the guard credentials a shared client is built with.
- ``signers``: per-request signing credentials (``inject_request_credentials``; botocore's
  ``RequestSigner.sign`` honours ``request_credentials``) and the lean SigV4 signer.
- ``parsers``: faster response parsing (compiled XML walks, timestamps).
- ``useragent``: a cached User-Agent per client and feature set.
- ``context``: a cheaply copied botocore context for fan-out workers.
"""

from __future__ import annotations

from .config import config_key, merge_config
from .context import LeanClientContext, use_lean_client_context
from .credentials import UnboundCredentials
from .httpsession import SharedSSLHTTPSession, shared_ssl_context
from .loaders import shared_loader
from .session import EndpointSession
from .signers import inject_request_credentials
from .useragent import cache_user_agent

__all__ = [
    "EndpointSession",
    "LeanClientContext",
    "SharedSSLHTTPSession",
    "UnboundCredentials",
    "cache_user_agent",
    "config_key",
    "inject_request_credentials",
    "merge_config",
    "shared_loader",
    "shared_ssl_context",
    "use_lean_client_context",
]
