"""Async paginators: pages, flattened items, JMESPath search, resume tokens, per-page retry.

``Paginator`` drives botocore's own page iterator (``aiobotocore``'s ``AioPageIterator``): the
paginator model, token handling, ``MaxItems`` truncation and resume-token format are
botocore's. aiokit adds:

- validation before the first request (operation, paginability, parameter names and types,
  JMESPath);
- a resume token after *every* page, in botocore's format, so a run stopped anywhere can be
  resumed with ``StartingToken`` with no item missed or repeated;
- per-page retry: when botocore's own attempts for a page are spent on a transient failure
  (throttling, 5xx, connection trouble), the same page is requested again with backoff
  inside a time budget. Iteration never restarts from page one.

Nothing is held open between pages (botocore reads each response whole), so abandoning an
iteration early (``break``, an exception, cancellation) leaks nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, cast, overload

import anyio
import jmespath
from botocore import xform_name
from botocore.exceptions import DataNotFoundError
from botocore.exceptions import PaginationError as BotocorePaginationError
from jmespath.exceptions import JMESPathError

from . import _validate
from ._botocore.loaders import model_loader
from ._botocore.model import ServiceModel
from ._botocore.paginate import (
    PageIterator,
    encode_token,
    merge_non_aggregate,
    merge_page,
    page_config,
    page_iterator,
)
from ._botocore.validate import validate_parameters
from ._dynamodb import Plain, check_plain
from ._exceptions import (
    AiokitError,
    InvalidParameterError,
    PaginationError,
    UnknownOperationError,
    translated,
)
from ._observe import call_stats
from ._retry import backoff, is_transient
from ._where import Scope, describe, scope_of_client

__all__ = ["Paginator", "check_listing", "operation_names"]

if TYPE_CHECKING:
    # A page is a plain dict and an item Any unless a typed face (``aiokit/_typed.pyi``,
    # with the ``types-aiobotocore-<service>`` stubs installed) says which TypedDicts; the
    # defaults keep a bare ``Paginator`` annotation meaning what it always did. (PEP 696
    # defaults need typing_extensions on 3.11: imported for type checkers only.)
    from typing_extensions import TypeVar

    PageT = TypeVar("PageT", covariant=True, default=dict[str, Any])
    ItemT = TypeVar("ItemT", covariant=True, default=Any)
else:
    from typing import TypeVar

    PageT = TypeVar("PageT", covariant=True)
    ItemT = TypeVar("ItemT", covariant=True)

logger = logging.getLogger("aiokit")

# The page retry's backoff: full jitter, from 0.25 s doubling up to 10 s.
_PAGE_BACKOFF = {"base": 0.25, "cap": 10.0}


def operation_names(client: Any, operation: str) -> tuple[str, str]:
    """``(snake_case, CamelCase)`` names of an operation, accepting either spelling.

    Raises:
        UnknownOperationError: the service has no such operation (close names suggested).
    """
    mapping: dict[str, str] = client.meta.method_to_api_mapping
    return _lookup(mapping, client.meta.service_model.service_name, operation)


def _lookup(mapping: Mapping[str, str], service: str, operation: str) -> tuple[str, str]:
    if operation in mapping:
        return operation, mapping[operation]
    for snake, camel in mapping.items():
        if camel == operation:
            return snake, camel
    hint = _validate.did_you_mean(operation, [*mapping, *mapping.values()])
    raise UnknownOperationError(
        f"{service} has no operation {operation!r}{hint}", service=service, operation=operation
    )


def _as_built(service: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """The parameters as botocore validates them, after its ``before-parameter-build``
    handlers: Glacier's fills in ``accountId="-"`` (``botocore.handlers.inject_account_id``),
    so ``list_vaults()`` with no account id is valid, as in boto3."""
    if service == "glacier" and params.get("accountId") is None:
        return {**params, "accountId": "-"}
    return params


def _names(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _check_config(
    service: str,
    operation: str,
    config: Mapping[str, Any],
    page_config: Mapping[str, Any],
    region: str | None = None,
    account: str | None = None,
) -> None:
    """What of ``PaginationConfig`` only the paginator model can judge."""
    if config.get("PageSize") is not None and "limit_key" not in page_config:
        # botocore would raise its own PaginationError, outside aiokit's tree.
        raise InvalidParameterError(
            f"{describe(service, operation, region, account)}: PaginationConfig PageSize is "
            "not supported by this operation (AWS sets its page size); use MaxItems to stop "
            "early",
            service=service,
            operation=operation,
            region=region,
            account=account,
        )
    if config.get("StartingToken") is not None:
        _validate.decode_token(
            service,
            operation,
            config["StartingToken"],
            _names(page_config["input_token"]),
            region_=region,
            account=account,
        )


def check_listing(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    key: str | None,
    plain: bool = False,
) -> str:
    """Check a paginated request against the service's models, without a client or request.

    What a crawl checks once before it starts, rather than once per target: the service,
    the operation and that it paginates, the parameters (botocore's own validator against
    the operation's input shape; with ``plain``, once serialised), ``PaginationConfig``
    and ``key``. Blocking (it may read model files): run it in a worker thread.

    Returns:
        The operation's CamelCase name.

    Raises:
        UnknownServiceError, UnknownOperationError, InvalidParameterError: as the paginator
            would raise them for every target.
    """
    loader = model_loader()
    where = Scope(None, None, service)
    with translated(where):
        model = ServiceModel(loader.load_service_model(service, "service-2"), service)
    mapping = {xform_name(name): name for name in model.operation_names}
    snake, camel = _lookup(mapping, service, operation)
    try:
        pagination = loader.load_service_model(service, "paginators-1")["pagination"]
    except DataNotFoundError:
        pagination = {}
    if camel not in pagination:
        raise UnknownOperationError(
            f"{service} {camel} is not paginated; call client.{snake}() directly",
            service=service,
            operation=camel,
        )
    page_config = pagination[camel]
    request = dict(params)
    config = _validate.pagination_config(service, camel, request.pop("PaginationConfig", None))
    operation_model = model.operation_model(camel)
    if check_plain(service, camel, plain):
        request = Plain(operation_model).params(request)
    with translated(where, camel):
        validate_parameters(_as_built(service, request), operation_model.input_shape)
    _check_config(service, camel, config, page_config)
    names = _names(page_config.get("result_key", []))
    if key is not None and key not in names:
        raise InvalidParameterError(
            f"{service} {camel} has result keys {names}, not {key!r}",
            service=service,
            operation=camel,
        )
    return camel


class Paginator(Generic[PageT, ItemT]):
    """An async iterable of an operation's pages; see ``SessionPool.paginate``.

    Iterate it for pages, or use :meth:`items` and :meth:`search`. Each iteration starts from
    ``StartingToken`` (or the beginning). After every page, :attr:`resume_token` is the token
    to pass as ``PaginationConfig={"StartingToken": ...}`` to continue after that page
    (``None`` once the last page has been seen). While :meth:`items` hands out a page's
    records, it is the token that continues after the last record handed out (botocore's
    own in-page form, as ``MaxItems`` makes), so stopping mid-page loses and repeats
    nothing; resume with the same ``PageSize``.

    Generic in its page and item types for type checkers: ``dict[str, Any]`` and ``Any`` by
    default, the operation's TypedDicts where the ``types`` extra's stubs say (see the
    guide "Pool and credentials", Typed clients).

    Args:
        get_client: the pool's client for the request, made at the first iteration.
        service, operation, params: what to paginate.
        scope_of: where that client's requests go, as the pool tells it (account, region,
            partition; by default the scope the pool bound the client with); the
            paginator's errors and logs say so.
        page_retries, retry_budget, plain: see ``SessionPool.paginate``.

    Attributes:
        resume_token: where to resume after the last page yielded.
        pages: pages fetched by the latest iteration.
        retries: page requests retried by aiokit (on top of botocore's own attempts).
    """

    def __init__(
        self,
        get_client: Callable[[], Awaitable[Any]],
        service: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        scope_of: Callable[[Any], Scope] = scope_of_client,
        page_retries: int = 5,
        retry_budget: float = 60.0,
        plain: bool = False,
    ) -> None:
        _validate.service(service)
        _validate.text("operation", operation, error=UnknownOperationError)
        self._plain_pages = check_plain(service, operation, plain)
        self._plain: Plain | None = None  # made with the operation's model, at the start
        _validate.count("page_retries", page_retries, minimum=0)
        _validate.seconds("retry_budget", retry_budget, zero=True)
        params = dict(params)
        config = _validate.pagination_config(
            service, operation, params.pop("PaginationConfig", None)
        )
        self._get_client = get_client
        self._scope_of = scope_of
        self._service = service
        self._operation = operation
        self._params = params
        self._config = config
        self._page_retries = page_retries
        self._retry_budget = retry_budget
        # Where the requests go: known once the client is (region and account until then
        # unknown, as the errors raised before the first request say).
        self._scope = Scope(None, None, service)
        self._resume_token: str | None = config.get("StartingToken")
        self._next_token: dict[str, Any] | None = None  # encoded only when asked for
        self.pages = 0
        self.retries = 0
        # Where the page being handed out by items() began (None: the first page, from
        # StartingToken or the beginning), its records, and how many were handed out.
        self._iterator: Any = None
        self._page_start: dict[str, Any] | None = None
        self._in_page: int | None = None
        self._taken = 0

    @property
    def resume_token(self) -> str | None:
        """Where to resume after the last page (or :meth:`items` record) yielded."""
        if self._in_page is not None and self._taken < self._in_page:
            return self._token_in_page()
        if self._next_token is not None:
            self._resume_token = encode_token(self._next_token)
            self._next_token = None
        return self._resume_token

    def _set_token(self, token: str | None) -> None:
        self._resume_token, self._next_token = token, None

    def _token_in_page(self) -> str:
        """botocore's token for "this page, less its first records": the page's own input
        token and ``boto_truncate_amount``, counted from the page as the service sends it."""
        iterator = self._iterator
        if self._page_start is not None:
            start, offset = dict(self._page_start), 0
        elif self._config.get("StartingToken") is not None:
            start, offset = iterator.starting_token()  # what it already skipped
        else:
            start, offset = {name: None for name in iterator.input_token_names()}, 0
        start["boto_truncate_amount"] = offset + self._taken
        return encode_token(start)

    def __repr__(self) -> str:
        return f"<aiokit.Paginator {self._service} {self._operation} pages={self.pages}>"

    def __aiter__(self) -> AsyncIterator[PageT]:
        return cast("AsyncIterator[PageT]", self._pages())

    async def _start(self) -> PageIterator:
        client = await self._get_client()
        snake, camel = operation_names(client, self._operation)
        self._operation = camel
        self._scope = self._scope_of(client)
        if not client.can_paginate(snake):
            raise UnknownOperationError(
                f"{self._describe()} is not paginated; call client.{snake}() directly",
                service=self._service,
                operation=camel,
            )
        model = client.meta.service_model.operation_model(camel)
        params = self._params
        if self._plain_pages:
            self._plain = Plain(model)
            params = self._plain.params(params)
        with translated(self._scope, camel):
            validate_parameters(_as_built(self._service, params), model.input_shape)
        config = page_config(client, camel)
        scope = self._scope
        _check_config(self._service, camel, self._config, config, scope.region, scope.account)
        method = getattr(client, snake)
        return page_iterator(method, config, model, params, self._config, self._request_page)

    async def _pages(self) -> AsyncIterator[dict[str, Any]]:
        iterator = await self._start()
        self.pages = 0
        self._iterator, self._page_start, self._in_page = iterator, None, None
        max_items = self._config.get("MaxItems")
        primary = iterator.result_keys[0]
        seen = 0
        pages = iterator.__aiter__()
        try:
            while True:
                try:
                    page = await pages.__anext__()
                except StopAsyncIteration:
                    return
                except (BotocorePaginationError, ValueError) as exc:
                    if isinstance(exc, AiokitError):
                        raise
                    # A token botocore cannot decode, or a service repeating its token.
                    raise PaginationError(
                        f"{self._describe()}: {exc}",
                        service=self._service,
                        operation=self._operation,
                        region=self._scope.region,
                        account=self._scope.account,
                    ) from exc
                self.pages += 1
                seen += len(primary.search(page) or [])
                if max_items is not None and seen >= int(max_items):
                    # The last page: botocore sets its resume token (with any truncation)
                    # when its generator finishes, which needs no further request.
                    with contextlib.suppress(StopAsyncIteration):
                        await pages.__anext__()
                    self._set_token(iterator.resume_token)
                    yield self._plain.page(page) if self._plain else page
                    return
                token = iterator.next_token(page)
                if all(value is None for value in token.values()):
                    self._set_token(None)
                else:
                    self._next_token = token
                # A copy in plain values: botocore's iterator keeps the page as sent.
                yield self._plain.page(page) if self._plain else page
                self._page_start = token  # the next page's input token
        finally:
            await pages.aclose()

    @overload
    def items(self, key: None = None) -> AsyncIterator[ItemT]: ...
    @overload
    def items(self, key: str) -> AsyncIterator[Any]: ...

    async def items(self, key: str | None = None) -> AsyncIterator[Any]:
        """Yield the records of every page, flattened.

        Args:
            key: which result key to flatten, for operations with several (S3
                ``ListObjectsV2`` has ``Contents`` and ``CommonPrefixes``). By default the
                operation's first result key in botocore's paginator model.

        Raises:
            InvalidParameterError: ``key`` is not one of the operation's result keys.
        """
        iterator = await self._start()
        names = [k.expression for k in iterator.result_keys]
        if key is not None and key not in names:
            raise InvalidParameterError(
                f"{self._describe()} has result keys {names}, not {key!r}",
                service=self._service,
                operation=self._operation,
            )
        expression = jmespath.compile(key or names[0])
        if key is not None and key != names[0]:
            # botocore's in-page tokens count the first result key only: page tokens here.
            async for page in self:
                for record in expression.search(page) or ():
                    yield record
            return
        async for page in self:
            records = expression.search(page) or ()
            self._in_page, self._taken = len(records), 0
            for record in records:
                self._taken += 1
                yield record
            self._in_page = None

    async def full_result(self) -> dict[str, Any]:
        """Every page merged into one response, as botocore's ``build_full_result`` (and
        so the AWS CLI) merges them: each result key's lists concatenated across pages
        (numbers summed, strings joined), the paginator model's non-aggregate keys of the
        first page, and ``NextToken`` (the :attr:`resume_token`) when ``MaxItems`` cut the
        listing short. Holds every item in memory: iterate for large listings."""
        merged: dict[str, Any] = {}
        async for page in self._pages():
            merge_page(merged, page, self._iterator.result_keys)
        if self._iterator is not None:
            merge_non_aggregate(merged, self._iterator.non_aggregate())
        token = self.resume_token
        if token is not None:
            merged["NextToken"] = token
        return merged

    def search(self, expression: str) -> AsyncIterator[Any]:
        """Yield the JMESPath ``expression``'s matches on each page (lists are flattened).

        Raises:
            InvalidParameterError: the expression does not parse (raised here, at once), or
                fails on a page (a function given the wrong type, raised at that page).
        """
        try:
            compiled = jmespath.compile(expression)
        except JMESPathError as exc:
            raise InvalidParameterError(
                f"invalid JMESPath expression {expression!r}: {exc}",
                service=self._service,
                operation=self._operation,
            ) from exc
        return self._search(compiled)

    async def _search(self, compiled: Any) -> AsyncIterator[Any]:
        async for page in self:
            try:
                found = compiled.search(page)
            except JMESPathError as exc:  # parses, but fails on the page: abs() of a string
                raise InvalidParameterError(
                    f"JMESPath expression {compiled.expression!r} fails on a page of "
                    f"{self._describe()}: {exc}",
                    service=self._service,
                    operation=self._operation,
                ) from exc
            if isinstance(found, list):
                for value in found:
                    yield value
            elif found is not None:
                yield found

    async def _request_page(self, method: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        """One page's request, retried on transient failure without moving the token."""
        attempt = 0
        slept = 0.0
        while True:
            try:
                return await method(**kwargs)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                delay = backoff(attempt + 1, **_PAGE_BACKOFF)
                if attempt >= self._page_retries or slept + delay > self._retry_budget:
                    # The error keeps its type (callers catch ThrottlingError etc.); the note
                    # says aiokit retried too.
                    exc.add_note(
                        f"aiokit retried page {self.pages + 1} {attempt} times over {slept:.1f} s"
                    )
                    raise
                attempt += 1
                self.retries += 1
                stats = call_stats.get()
                if stats is not None:
                    stats.page_retries += 1
                logger.debug(
                    "%s: retrying page %d (retry %d) after %s",
                    self._describe(),
                    self.pages + 1,
                    attempt,
                    type(exc).__name__,
                    extra={
                        "service": self._service,
                        "operation": self._operation,
                        "region": self._scope.region,
                        "account": self._scope.account,
                        "attempt": attempt,
                    },
                )
                await anyio.sleep(delay)
                slept += delay

    def _describe(self) -> str:
        return describe(self._service, self._operation, self._scope.region, self._scope.account)
