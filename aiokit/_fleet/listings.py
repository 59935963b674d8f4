"""``Listing``: one paginated request (service, operation, parameters, result key) as a value.

::

    listing = aiokit.Listing("ec2", "describe_snapshots", {"OwnerIds": ["self"]})
    listing.checked()      # against botocore's models; raises what a crawl would raise
    listing.is_global      # False: EC2 is listed per region
    pool.paginate(listing.service, listing.operation, **listing.request_params())

A listing is what an inventory crawls many of: frozen, hashable (its parameters are frozen
deeply, so ``{"Filters": [{"Name": ..., "Values": [...]}]}`` hashes) and picklable (it
travels to worker processes). Construction runs the cheap checks, without reading a model
file; :meth:`Listing.checked` runs the crawl's own ``check_listing`` against botocore's
service and paginator models, so a bad operation, parameter or key is found before any
request, with the same error the crawl would raise.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterator, Mapping
from typing import Any

from botocore import xform_name

from .. import _validate
from .._checks import kind
from .._endpoints import endpoint_prefix, is_global_service
from .._exceptions import (
    ConfigurationError,
    InvalidParameterError,
    UnknownOperationError,
    UnknownServiceError,
    translated,
)
from .._paginate import check_listing
from .._where import Scope

__all__ = ["FrozenParams", "Listing"]

# The leaf values a request parameter may hold: what botocore's serializers take.
_SCALARS = (str, int, float, bool, bytes, datetime.datetime, datetime.date, type(None))


class FrozenParams(Mapping[str, Any]):
    """A listing's request parameters, read-only all the way down and hashable.

    Nested dicts are ``FrozenParams`` too and lists are tuples (botocore's validator takes
    tuples for lists); :meth:`thaw` gives back plain dicts and lists for a request.
    """

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[str, Any], where: str = "params") -> None:
        frozen: dict[str, Any] = {}
        for key, value in items.items():
            if not isinstance(key, str) or not key:
                raise InvalidParameterError(
                    f"{where}: parameter names must be non-empty str, not {kind(key)} {key!r}"
                )
            frozen[key] = _freeze(value, f"{where}[{key!r}]")
        self._items = frozen
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenParams):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self.thaw() == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        # Names, not values: request parameters are never echoed (a filter may hold data
        # the user would not want in a log).
        return f"FrozenParams({', '.join(self._items)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenParams, (self.thaw(),))

    def thaw(self) -> dict[str, Any]:
        """A fresh, plain, mutable copy: dicts and lists, as boto3 takes them."""
        return {key: _thaw(value) for key, value in self._items.items()}


def _freeze(value: Any, where: str) -> Any:
    if isinstance(value, FrozenParams):
        return value
    if isinstance(value, Mapping):
        return FrozenParams(value, where)
    if isinstance(value, list | tuple):
        return tuple(_freeze(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, _SCALARS):
        return value
    raise InvalidParameterError(
        f"{where} must be a str, number, bool, bytes, datetime, list or dict, not {kind(value)}"
    )


def _thaw(value: Any) -> Any:
    if isinstance(value, FrozenParams):
        return value.thaw()
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


class Listing:
    """One paginated request of an inventory: what to list, with which parameters.

    Args:
        service: botocore's service name (``"ec2"``).
        operation: the paginated operation, snake_case or CamelCase
            (``"describe_instances"`` or ``"DescribeInstances"``); kept in snake_case.
        params: the request's parameters (a dict; copied and frozen).
        key: which result key to flatten, for operations with several (see
            ``Paginator.items``); ``None``: the first.
        name: a label for reports; ``"<service>.<operation>"`` by default.
        account_wide: whether the listing runs once per account rather than once per
            region. ``None`` (the default) derives it from botocore's endpoint data: a
            service with one endpoint per partition (IAM, Organizations, Route 53,
            CloudFront...) is global. The override exists because the endpoint data knows
            services, not operations: S3 is a regional service, yet ``ListBuckets``
            answers with every region's buckets from any region, so listing it per region
            would repeat each bucket once per region; ``True`` says so. ``False`` forces a
            per-region listing of a global service.

    Listings compare and hash by all of these. Construction checks types and spelling
    only; :meth:`checked` checks against botocore's models.

    Raises:
        ConfigurationError: a value of the wrong type or shape, named (the subclasses
            UnknownServiceError, UnknownOperationError and InvalidParameterError say
            which).
    """

    __slots__ = ("account_wide", "key", "name", "operation", "params", "service")

    service: str
    operation: str
    params: FrozenParams
    key: str | None
    name: str
    account_wide: bool | None

    def __init__(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        name: str | None = None,
        account_wide: bool | None = None,
    ) -> None:
        _validate.service(service)
        _validate.text("Listing operation", operation, error=UnknownOperationError)
        _validate.text("Listing key", key, optional=True, error=InvalidParameterError)
        _validate.text("Listing name", name, optional=True)
        if account_wide is not None and not isinstance(account_wide, bool):
            raise ConfigurationError(
                f"Listing account_wide must be True, False or None, not {kind(account_wide)} "
                f"{account_wide!r}"
            )
        if service != service.strip().lower() or " " in service:
            raise UnknownServiceError(
                f"service must be botocore's lower-case service name such as 's3', not {service!r}"
            )
        snake = xform_name(operation.strip())
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise InvalidParameterError(
                f"{service} {snake}: parameters must be a dict, not {kind(params)}",
                service=service,
                operation=snake,
            )
        try:
            frozen = FrozenParams(params, f"{service} {snake} params")
        except RecursionError:  # a list holding itself, or nesting no request has
            raise InvalidParameterError(
                f"{service} {snake}: parameters nested too deep (does a list or dict contain "
                "itself?)",
                service=service,
                operation=snake,
            ) from None
        _validate.pagination_config(service, snake, params.get("PaginationConfig"))
        for attr, value in (
            ("service", service),
            ("operation", snake),
            ("params", frozen),
            ("key", key),
            ("name", name if name is not None else f"{service}.{snake}"),
            ("account_wide", account_wide),
        ):
            object.__setattr__(self, attr, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"aiokit.Listing is frozen: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"aiokit.Listing is frozen: cannot delete {name!r}")

    def _fields(self) -> tuple[Any, ...]:
        return (self.service, self.operation, self.params, self.key, self.name, self.account_wide)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Listing):
            return self._fields() == other._fields()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._fields())

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.service, self.operation, self.params.thaw(), *self._fields()[3:]))

    def __repr__(self) -> str:
        # Short, and parameter names only: values are never echoed (see FrozenParams).
        extra = "" if self.name == f"{self.service}.{self.operation}" else f" as {self.name!r}"
        params = f" params={','.join(self.params)}" if self.params else ""
        return f"aiokit.Listing({self.service}.{self.operation}{params}{extra})"

    def request_params(self) -> dict[str, Any]:
        """The parameters as a fresh plain dict, for ``pool.paginate(..., **params)``."""
        return self.params.thaw()

    @property
    def is_global(self) -> bool:
        """Whether the listing runs once per account (not once per region).

        ``account_wide`` when given; else whether botocore's endpoint data has one endpoint
        for the whole partition for the service. The first call for a service reads
        botocore's data files (blocking, as :meth:`checked`); later ones are cached.
        """
        if self.account_wide is not None:
            return self.account_wide
        return _global_service(self.service)

    def checked(self) -> Listing:
        """This listing, checked against botocore's models as a crawl checks it; blocking.

        The same checks, and errors, as ``pool.crawl`` before its first request: the
        service, the operation and that it paginates, the parameters (botocore's validator
        on the operation's input shape), ``PaginationConfig`` and ``key``. It may read model
        files: from async code, run it in a worker thread.

        Returns:
            ``self``.

        Raises:
            UnknownServiceError, UnknownOperationError, InvalidParameterError: naming the
                service, the operation and the parameter.
        """
        check_listing(self.service, self.operation, self.request_params(), self.key)
        return self


def _rebuild(
    service: str,
    operation: str,
    params: dict[str, Any],
    key: str | None,
    name: str,
    account_wide: bool | None,
) -> Listing:
    return Listing(service, operation, params, key=key, name=name, account_wide=account_wide)


@functools.cache
def _global_service(service: str) -> bool:
    with translated(Scope(None, None, service)):
        return is_global_service(endpoint_prefix(service))
