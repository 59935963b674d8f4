"""The few places where aiokit reaches into botocore / aiobotocore, kept small and pinned.

Each override here has a test in ``tests/test_botocore_pins.py`` that fails when upstream
changes the thing it relies on.

- One botocore data loader per process: service models are parsed once, not once per session.
- One SSL context per CA bundle: aiobotocore otherwise loads the CA bundle (~30 ms of CPU)
  for every client it makes.
- Per-request signing credentials: one botocore client per (region, service, config) serves
  every identity; each request is signed with its own identity's credentials through the
  ``request_credentials`` entry of the request's signing context, which botocore's
  ``RequestSigner.sign`` honours.
- Faster response parsing (timestamps, compiled XML walks): see ``_parsers``; the pool
  installs its parser factory.
- A cached User-Agent: botocore rebuilds the header from a dozen components twice per
  request (~115 us each); it depends only on the client and the request's feature ids, so
  each client keeps the strings it has built, keyed by those ids.
- A cheaply copied botocore context (``LeanClientContext``) for fan-out workers.
- ``EndpointSession``: the clients botocore's credential providers make for themselves
  (the STS hop of a profile's ``role_arn``, SSO) go to the pool's ``endpoint_url``.
- Elsewhere: the HTTP session (``_http``) and the SigV4 signer (``_sigv4``).
"""

from __future__ import annotations

import functools
import ssl
import threading
from collections.abc import Callable
from typing import Any

import aiohttp
from aiobotocore._constants import DEFAULT_KEEPALIVE_TIMEOUT
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.session import AioSession
from botocore.context import ClientContext, get_context, set_context
from botocore.httpsession import create_urllib3_context, get_cert_path
from botocore.loaders import Loader, create_loader
from botocore.useragent import UserAgentString

from ._exceptions import CredentialsError

__all__ = [
    "EndpointSession",
    "SharedSSLHTTPSession",
    "UnboundCredentials",
    "merge_config",
    "config_key",
    "shared_loader",
    "shared_ssl_context",
    "inject_request_credentials",
    "cache_user_agent",
    "LeanClientContext",
    "use_lean_client_context",
]

_lock = threading.Lock()
_loader: Loader | None = None


def shared_loader() -> Loader:
    """The process-wide botocore loader; its instance cache holds every parsed model."""
    global _loader
    with _lock:
        if _loader is None:
            _loader = create_loader()
        return _loader


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


class EndpointSession(AioSession):  # type: ignore[misc]
    """An ``AioSession`` whose clients default to the pool's endpoint URLs.

    botocore's credential providers make clients of their own from the session (the STS
    client that assumes a profile's ``role_arn`` from its ``source_profile``, SSO's), with
    no ``endpoint_url``; a pool's ``endpoint_url`` promises every request, those included.
    ``aiokit_endpoint(service)`` gives the URL, or ``None`` for botocore's own resolution
    (``AWS_ENDPOINT_URL`` and the config files still apply then).
    """

    aiokit_endpoint: Callable[[str], str | None] | None = None

    def create_client(self, *args: Any, **kwargs: Any) -> Any:
        endpoint = self.aiokit_endpoint
        # endpoint_url is create_client's sixth parameter: given positionally, it stands.
        if endpoint is not None and len(args) < 6 and kwargs.get("endpoint_url") is None:
            service = args[0] if args else kwargs.get("service_name")
            url = endpoint(service) if isinstance(service, str) else None
            if url is not None:
                kwargs["endpoint_url"] = url
        return super().create_client(*args, **kwargs)


def merge_config(base: AioConfig, override: AioConfig | None) -> AioConfig:
    """``base`` overridden by ``override``, keeping connector args and the HTTP session class.

    ``AioConfig.merge`` drops the other config's ``connector_args`` and ``http_session_cls``.
    """
    if override is None:
        return base
    options = {**base._user_provided_options, **override._user_provided_options}
    extra = dict(override.connector_args or {})
    # AioConfig fills in a default keepalive_timeout; that default must not undo the base's.
    if extra.get("keepalive_timeout") == DEFAULT_KEEPALIVE_TIMEOUT:
        del extra["keepalive_timeout"]
    connector_args = {**(base.connector_args or {}), **extra}
    session_cls = (
        override.http_session_cls
        if override.http_session_cls is not AIOHTTPSession
        else base.http_session_cls
    )
    return AioConfig(connector_args=connector_args, http_session_cls=session_cls, **options)


def config_key(config: AioConfig) -> str:
    """A stable key for a config, so equal configs share one client."""
    options = sorted((k, repr(v)) for k, v in config._user_provided_options.items())
    connector = sorted((k, repr(v)) for k, v in (config.connector_args or {}).items())
    return repr((options, connector, config.http_session_cls.__qualname__))


class UnboundCredentials:
    """The credentials a shared client is built with: using them is a bug, and says so.

    Every request aiokit sends carries its identity's own credentials; a request that reaches
    the signer without them would otherwise be signed as whoever the client was made for.
    """

    method = "aiokit-unbound"

    async def get_frozen_credentials(self) -> Any:
        raise CredentialsError(
            "a shared aiokit client was used without an identity; get clients from "
            "SessionPool.client() rather than from another client's internals"
        )

    def __repr__(self) -> str:
        return "aiokit.UnboundCredentials()"


def inject_request_credentials(request_signer: Any, context: dict[str, Any], **_: Any) -> None:
    """``before-call`` handler: sign this request with its identity's own credentials.

    The signer passed in is the per-identity copy a bound client carries (see ``_clients``);
    it holds that identity's credentials. ``before-call`` runs after the endpoint ruleset
    filled ``context['signing']``, and the signer reads it when the request is created.
    """
    credentials = getattr(request_signer, "aiokit_credentials", None)
    if credentials is not None:
        context.setdefault("signing", {})["request_credentials"] = credentials
        context["aiokit_scope"] = request_signer.aiokit_scope


class _CachingUserAgentString(UserAgentString):  # type: ignore[misc]
    """botocore's User-Agent builder, remembering each string it built.

    Everything the string holds is fixed when the client is made, except the feature ids
    (paginator, waiter, retry mode, credential source ...) registered on the request's
    context; they and the client's own features are the key.
    """

    def to_string(self) -> str:
        context = get_context()
        key = (
            frozenset(context.features) if context is not None else frozenset(),
            frozenset(self._client_features or ()),
        )
        cache: dict[Any, str] = self.__dict__.setdefault("_aiokit_strings", {})
        text = cache.get(key)
        if text is None:
            if len(cache) >= 64:  # feature sets are few; never let the cache grow unbounded
                cache.clear()
            text = cache[key] = super().to_string()
        return text


def cache_user_agent(client: Any) -> None:
    """Make ``client`` reuse the User-Agent strings it builds (see the module docstring).

    The client's builder object is kept, so the ``request-created`` handler botocore
    registered as one of its bound methods uses the cache too. A builder of another class
    (a subclass someone installed) is left alone.
    """
    creator = getattr(client, "_user_agent_creator", None)
    if type(creator) is UserAgentString:
        creator.__class__ = _CachingUserAgentString


class LeanClientContext(ClientContext):  # type: ignore[misc]
    """botocore's per-request context (the feature ids the User-Agent reports), copied
    cheaply.

    aiobotocore deep-copies the current context twice per request (``with_current_context``
    on the paginator and on ``_make_api_call``); ``copy.deepcopy`` of the dataclass costs
    more than the rest of that wrapper. Its one field is a set of strings: a new set is a
    deep copy of it.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> LeanClientContext:
        return LeanClientContext(features=set(self.features))


def use_lean_client_context() -> None:
    """Make the current task's botocore context a ``LeanClientContext`` (keeping its
    feature ids); the copies aiobotocore makes of it inside this task are lean too."""
    current = get_context()
    if current is None or type(current) is ClientContext:
        features = set(current.features) if current is not None else set()
        set_context(LeanClientContext(features=features))
