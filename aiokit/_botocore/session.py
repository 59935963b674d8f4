"""aiobotocore.session: the clients botocore's credential providers make go to the
pool's ``endpoint_url``; the botocore session inside an aioboto3 one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aioboto3
from aiobotocore.session import AioSession

from .client import SharedMethods
from .loaders import shared_loader
from .parsers import ParserFactory


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


def botocore_session(session: Any) -> Any:
    """The botocore (aiobotocore) session an aioboto3 session wraps (its ``_session``)."""
    return session._session


def profile_session(profile: str | None, endpoint_for: Callable[[str], str | None]) -> Any:
    """A botocore session of ``profile`` (botocore's default chain for ``None``) whose
    credential providers' clients go where the pool's would, reading the shared models."""
    session = EndpointSession(profile=profile)
    session.aiokit_endpoint = endpoint_for
    session.register_component("data_loader", shared_loader())
    return session


def pool_session(profile: str | None, endpoint_for: Callable[[str], str | None]) -> Any:
    """The aioboto3 session of a pool, its config files read (call it in a worker thread).

    Raises botocore's errors (a missing profile, a malformed config file) as they come.
    """
    core = profile_session(profile, endpoint_for)
    # Same results as botocore's parsers, with less CPU (see parsers).
    core.register_component("response_parser_factory", ParserFactory())
    core.get_scoped_config()
    session = aioboto3.Session(botocore_session=core)
    # Last: after botocore's and boto3's handlers that add class attributes.
    core.get_component("event_emitter").register_last("creating-client-class", SharedMethods())
    # boto3 adds its own data path on every session; keep the shared loader's list short.
    loader = shared_loader()
    paths = loader.search_paths
    paths[:] = list(dict.fromkeys(paths))
    core._get_internal_component("endpoint_resolver")
    # Data every client creation reads: load it here, in this worker thread.
    for name in ("sdk-default-configuration", "partitions", "_retry"):
        loader.load_data(name)
    return session
