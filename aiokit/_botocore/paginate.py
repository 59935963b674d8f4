"""botocore.paginate / aiobotocore.paginate: the page iterator aiokit drives, and its tokens.

aiokit's ``Paginator`` keeps botocore's paginator model, token handling, ``MaxItems``
truncation and resume-token format, and bends two things, both here:

- each page's request goes through aiokit's per-page retry (``PageIterator.request_page``),
  still tagged with the ``PAGINATOR`` User-Agent feature id as botocore's own is;
- the paginator is built from the client's cached paginator model (``client._cache``, filled
  by ``can_paginate``) without ``client.get_paginator``, which builds a class with a
  docstring on every call (a tenth of a millisecond per target in a crawl).

The iterator's private state aiokit reads (next token, starting token, input token names)
is reached through the methods of ``PageIterator`` only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from aiobotocore.context import with_current_context
from aiobotocore.paginate import AioPageIterator, AioPaginator
from botocore.paginate import TokenDecoder, TokenEncoder
from botocore.useragent import register_feature_id
from botocore.utils import merge_dicts, set_value_from_jmespath

__all__ = [
    "PageIterator",
    "decode_token",
    "encode_token",
    "merge_non_aggregate",
    "merge_page",
    "page_config",
    "page_iterator",
]

RequestPage = Callable[[Callable[..., Any], dict[str, Any]], Awaitable[Any]]


class PageIterator(AioPageIterator):  # type: ignore[misc]
    """botocore's page iterator; each page's request is made by ``request_page``."""

    request_page: RequestPage

    # As botocore's own: the request carries the paginator's feature id (User-Agent metrics).
    @with_current_context(partial(register_feature_id, "PAGINATOR"))  # type: ignore[untyped-decorator]
    async def _make_request(self, current_kwargs: dict[str, Any]) -> Any:
        return await self.request_page(self._method, current_kwargs)

    def next_token(self, page: Any) -> dict[str, Any]:
        """The input token of the page after ``page`` (all values ``None`` after the last)."""
        return dict(self._get_next_token(page))

    def starting_token(self) -> tuple[dict[str, Any], int]:
        """``StartingToken`` decoded: the input token, and the records it skips."""
        start, offset = self._parse_starting_token()
        return dict(start), int(offset)

    def non_aggregate(self) -> dict[str, Any]:
        """The first page's ``non_aggregate_keys`` values (botocore's
        ``non_aggregate_part``)."""
        return dict(self.non_aggregate_part)

    def input_token_names(self) -> list[str]:
        """The names of the operation's input token parameters."""
        return list(self._input_token)


class _Paginator(AioPaginator):  # type: ignore[misc]
    PAGE_ITERATOR_CLS = PageIterator


def page_config(client: Any, operation: str) -> Mapping[str, Any]:
    """The paginator model of ``operation`` (CamelCase), once ``client.can_paginate`` said
    it paginates (botocore caches the service's paginator models on the client then)."""
    config: Mapping[str, Any] = client._cache["page_config"][operation]
    return config


def page_iterator(
    method: Callable[..., Any],
    config: Mapping[str, Any],
    operation_model: Any,
    params: Mapping[str, Any],
    pagination: Mapping[str, Any],
    request_page: RequestPage,
) -> PageIterator:
    """What ``client.get_paginator(...).paginate(**params, PaginationConfig=pagination)``
    makes, its requests made by ``request_page(method, kwargs)``."""
    paginator = _Paginator(method, config, operation_model)
    iterator: PageIterator = paginator.paginate(**params, PaginationConfig=dict(pagination))
    iterator.request_page = request_page
    return iterator


def encode_token(token: Mapping[str, Any]) -> str:
    """botocore's resume token for an input token."""
    return str(TokenEncoder().encode(dict(token)))


def decode_token(token: str) -> Any:
    """A resume token decoded, as botocore decodes ``StartingToken``."""
    return TokenDecoder().decode(token)


def merge_page(merged: dict[str, Any], page: Mapping[str, Any], result_keys: list[Any]) -> None:
    """Add ``page``'s result keys to ``merged``, as botocore's
    ``PageIterator.build_full_result`` does page by page: lists extended, numbers summed and
    strings concatenated (a mirror of its loop body: pinned in tests/test_upstream_pins.py)."""
    for expression in result_keys:
        value = expression.search(page)
        if value is None:
            continue
        existing = expression.search(merged)
        if existing is None:
            set_value_from_jmespath(merged, expression.expression, value)
            continue
        if isinstance(value, list):
            existing.extend(value)
        elif isinstance(value, int | float | str):
            set_value_from_jmespath(merged, expression.expression, existing + value)


def merge_non_aggregate(merged: dict[str, Any], part: Mapping[str, Any]) -> None:
    """``build_full_result``'s last step: the non-aggregate keys merged in."""
    merge_dicts(merged, dict(part))
