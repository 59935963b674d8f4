"""Plain DynamoDB values (``plain=True``): what boto3's resource layer does, done by aiokit.

boto3's DynamoDB resource turns plain Python values into ``AttributeValue`` s in every
request and back in every response by registering handlers on its client
(``boto3.dynamodb.transform``). A pool's clients are shared by every caller, so aiokit never
registers anything on one (the isolation invariant, docs/design.md): ``plain=True`` makes
the same walk in aiokit's own code, over the operation's input shape before the request is
validated and over each page after it is parsed, with boto3's own ``TypeSerializer`` and
``TypeDeserializer``: numbers are ``Decimal``, sets ``set``, binary ``Binary``, as
``Table.query()`` / ``Table.scan()`` give them.

What is walked is every ``AttributeValue`` the model has in that place: in a request
``ExpressionAttributeValues``, ``ExclusiveStartKey`` and the legacy ``QueryFilter`` /
``ScanFilter`` / ``KeyConditions`` values; in a page ``Items`` and ``LastEvaluatedKey``.
Resume tokens are botocore's, made from the page as DynamoDB sent it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._checks import kind
from ._errors import ConfigurationError, InvalidParameterError

__all__ = ["PLAIN_OPERATIONS", "Plain", "check_plain"]

# What ``plain=True`` is for: DynamoDB's paginated reads of items.
PLAIN_OPERATIONS = {"query": "Query", "scan": "Scan", "Query": "Query", "Scan": "Scan"}

_TARGET = "AttributeValue"


def check_plain(service: str, operation: object, plain: object) -> bool:
    """``plain`` is a bool, and true only for DynamoDB ``query`` / ``scan``.

    Raises:
        ConfigurationError: ``plain`` is not a bool.
        InvalidParameterError: ``plain=True`` for another service or operation.
    """
    if not isinstance(plain, bool):
        raise ConfigurationError(f"plain must be True or False, not {kind(plain)} {plain!r}")
    if plain and (service != "dynamodb" or operation not in PLAIN_OPERATIONS):
        raise InvalidParameterError(
            f"plain=True is for dynamodb query and scan (their items as plain Python "
            f"values), not {service} {operation}",
            service=service,
            operation=operation if isinstance(operation, str) else None,
        )
    return plain


class Plain:
    """The two walks of one operation: its parameters in, its pages out.

    Args:
        operation_model: botocore's model of the operation (``Query`` or ``Scan``).
    """

    def __init__(self, operation_model: Any) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._operation = operation_model.name
        self._input = operation_model.input_shape
        self._output = operation_model.output_shape
        self._serialize: Callable[[Any], Any] = TypeSerializer().serialize
        self._deserialize: Callable[[Any], Any] = TypeDeserializer().deserialize
        self._holds: dict[str, bool] = {}

    def params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters with every plain value where an ``AttributeValue`` goes serialised.

        Raises:
            InvalidParameterError: a value DynamoDB cannot hold (a ``float``: use
                ``Decimal``; NaN, infinity, too many digits; an object of another type),
                naming the parameter, not the value.
        """
        return dict(self._walk(params, self._input, self._in, ""))

    def page(self, page: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``page`` with its items and keys as plain Python values."""
        return dict(self._walk(page, self._output, self._out, None))

    def _in(self, value: Any, path: str | None) -> Any:
        try:
            return self._serialize(value)
        except (TypeError, ValueError, ArithmeticError) as exc:
            # boto3's messages echo the value: a parameter may be a secret, so not here.
            from decimal import Decimal  # imported by boto3's serializer by now

            if _has(value, float):
                why = "a float: use decimal.Decimal for numbers"
            elif isinstance(exc, ArithmeticError) or _has(value, Decimal):
                why = "a Decimal DynamoDB cannot store: NaN, infinity, or over 38 digits"
            else:
                why = "of a type DynamoDB has no value for"
            raise InvalidParameterError(
                f"dynamodb {self._operation}: {(path or '').lstrip('.')} holds {why} "
                f"(plain=True; found a {kind(value)})",
                service="dynamodb",
                operation=self._operation,
            ) from None

    def _out(self, value: Any, path: str | None) -> Any:
        return self._deserialize(value)

    def _walk(
        self,
        value: Any,
        shape: Any,
        convert: Callable[[Any, str | None], Any],
        path: str | None,
    ) -> Any:
        """``value`` with ``convert`` applied at each ``AttributeValue`` of ``shape``;
        ``path`` names where, for errors (``None``: not kept, as for pages)."""
        if shape is None or not self._has_target(shape):
            return value
        if shape.name == _TARGET:
            return convert(value, path)
        if shape.type_name == "structure" and isinstance(value, Mapping):
            members = shape.members
            return {
                k: self._walk(v, members[k], convert, None if path is None else f"{path}.{k}")
                if k in members
                else v
                for k, v in value.items()
            }
        if shape.type_name == "map" and isinstance(value, Mapping):
            return {
                k: self._walk(v, shape.value, convert, None if path is None else f"{path}[{k!r}]")
                for k, v in value.items()
            }
        if shape.type_name == "list" and isinstance(value, list | tuple):
            return [
                self._walk(v, shape.member, convert, None if path is None else f"{path}[{i}]")
                for i, v in enumerate(value)
            ]
        return value  # not of the shape's type: botocore's validator says so

    def _has_target(self, shape: Any) -> bool:
        """Whether an ``AttributeValue`` is in ``shape`` (memoised by shape name)."""
        name = shape.name
        if name in self._holds:
            return self._holds[name]
        self._holds[name] = False  # a shape inside itself: no deeper than this
        if name == _TARGET:
            found = True
        elif shape.type_name == "structure":
            found = any(self._has_target(m) for m in shape.members.values())
        elif shape.type_name == "map":
            found = self._has_target(shape.value)
        elif shape.type_name == "list":
            found = self._has_target(shape.member)
        else:
            found = False
        self._holds[name] = found
        return found


def _has(value: Any, cls: type) -> bool:
    """Whether ``value`` is, or holds, an instance of ``cls``."""
    if isinstance(value, cls):
        return True
    if isinstance(value, Mapping):
        return any(_has(v, cls) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has(v, cls) for v in value)
    return False
