"""aiobotocore.session: the clients botocore's credential providers make go to the
pool's ``endpoint_url``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiobotocore.session import AioSession


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
