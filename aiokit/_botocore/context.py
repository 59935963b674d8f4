"""botocore.context: a cheaply copied per-request context for fan-out workers."""

from __future__ import annotations

from typing import Any

from botocore.context import ClientContext, get_context, set_context


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
