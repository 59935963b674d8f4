"""aiobotocore.httpsession: one SSL context per CA bundle, shared by every client.

aiobotocore otherwise loads the CA bundle for every client it makes.
"""

from __future__ import annotations

import functools
import ssl

import aiohttp
from aiobotocore.httpsession import AIOHTTPSession
from botocore.httpsession import create_urllib3_context, get_cert_path


@functools.lru_cache(maxsize=8)
def shared_ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """One verifying SSL context per CA bundle path, built once (call it off the event loop)."""
    context: ssl.SSLContext = create_urllib3_context()
    # urllib3 checks the host name itself, so botocore's context leaves it off; aiohttp and
    # asyncio rely on the context, so it is on here.
    context.check_hostname = True
    if ca_bundle:
        context.load_verify_locations(ca_bundle, None, None)
    return context


class SharedSSLHTTPSession(AIOHTTPSession):  # type: ignore[misc]
    """aiobotocore's HTTP session, reusing one SSL context instead of loading one per client.

    Only the common case is changed (verification on, no proxy, no client certificate);
    anything else goes through aiobotocore's own code.
    """

    def _create_connector(self, proxy_url: str | None) -> aiohttp.TCPConnector:
        if proxy_url or self._cert_file or not self._verify:
            connector: aiohttp.TCPConnector = super()._create_connector(proxy_url)
            return connector
        return aiohttp.TCPConnector(
            limit=self._max_pool_connections,
            ssl=shared_ssl_context(get_cert_path(self._verify)),
            **self._connector_args,
        )


def load_default_ssl_context() -> None:
    """Build the SSL context of botocore's CA bundle now (call it off the event loop)."""
    shared_ssl_context(get_cert_path(True))
