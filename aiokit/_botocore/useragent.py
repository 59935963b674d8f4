"""botocore.useragent: a cached User-Agent.

botocore rebuilds the header from a dozen components twice per request; it depends only on
the client and the request's feature ids, so each client keeps the strings it has built,
keyed by those ids.
"""

from __future__ import annotations

from typing import Any

from botocore.context import get_context
from botocore.useragent import UserAgentString


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
