"""Operation and waiter names as the AWS CLI spells them: ``describe-instances``,
``list-objects-v2``, ``instance-running``.

The library takes snake_case or CamelCase; the command line takes kebab-case too. A kebab
name is mapped through the service's own model (``xform_name(name, "-")`` of its operation
or waiter names, as the AWS CLI builds its commands), not by swapping ``-`` for ``_``: an
unknown one gets an error with the close kebab-case names, before any request. Parameter
keys too: ``--param queue-name=q`` is ``QueueName`` (the operation's input shape's member
whose kebab-case name it is). Blocking (it may read model files): run it in a worker
thread.
"""

from __future__ import annotations

from typing import Any

from botocore import xform_name
from botocore.exceptions import DataNotFoundError

import aiokit

from .._botocore.loaders import shared_loader
from .._botocore.model import ServiceModel
from .._exceptions import translated
from .._validate import did_you_mean
from .._where import Scope

__all__ = ["operation_name", "parameter_names", "waiter_name"]


def _names(service: str, kind: str, key: str) -> dict[str, str]:
    """``{kebab-name: snake_name}`` of the model ``kind``'s ``key`` (operations, waiters)."""
    with translated(Scope(None, None, service)):
        model: dict[str, Any] = shared_loader().load_service_model(service, kind)
    return {str(xform_name(n, "-")): str(xform_name(n)) for n in model.get(key, {})}


def operation_name(service: str, operation: str) -> str:
    """The snake_case name of ``operation`` given in kebab-case; any other spelling as given
    (the library checks it and suggests close names)."""
    if "-" not in operation:
        return operation
    by_kebab = _names(service, "service-2", "operations")
    if operation in by_kebab:
        return by_kebab[operation]
    raise aiokit.UnknownOperationError(
        f"{service} has no operation {operation!r}{did_you_mean(operation, by_kebab)}",
        service=service,
        operation=operation,
    )


def waiter_name(service: str, waiter: str) -> str:
    """The snake_case name of ``waiter`` given in kebab-case (``instance-running``)."""
    if "-" not in waiter:
        return waiter
    _names(service, "service-2", "operations")  # an unknown service is said as such
    try:
        by_kebab = _names(service, "waiters-2", "waiters")
    except (aiokit.UnknownServiceError, DataNotFoundError):  # a service with no waiters file
        by_kebab = {}
    if not by_kebab:
        raise aiokit.UnknownOperationError(f"{service} has no waiters", service=service)
    if waiter in by_kebab:
        return by_kebab[waiter]
    raise aiokit.UnknownOperationError(
        f"{service} has no waiter {waiter!r}{did_you_mean(waiter, by_kebab)} "
        f"(available: {', '.join(sorted(by_kebab))})",
        service=service,
    )


def parameter_names(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the AWS CLI's kebab-case keys (``queue-name``) as the operation's
    input member names (``QueueName``), mapped through the service's model; API names pass
    as they are (the library checks them). An unknown kebab key is an error with the close
    names. Blocking (it may read model files): run it in a worker thread.

    Raises:
        InvalidParameterError: an unknown kebab-case key, or one key given twice.
    """
    kebab = [k for k in params if "-" in k or (k.islower() and k != "PaginationConfig")]
    if not kebab:
        return params
    with translated(Scope(None, None, service)):
        model = ServiceModel(shared_loader().load_service_model(service, "service-2"), service)
    by_snake = {str(xform_name(n)): n for n in model.operation_names}
    camel = by_snake.get(operation, operation)
    if camel not in model.operation_names:
        return params  # the library says what is wrong with the operation
    shape = model.operation_model(camel).input_shape
    names = list(shape.members) if shape is not None else []
    by_kebab = {str(xform_name(n, "-")): n for n in names}
    result: dict[str, Any] = {}
    given: dict[str, str] = {}  # member name -> the key it was given as
    for key, value in params.items():
        name = key
        if key in kebab and key not in names:
            if key not in by_kebab:
                raise aiokit.InvalidParameterError(
                    f"{service} {camel} has no parameter {key!r}"
                    f"{did_you_mean(key, list(by_kebab))}",
                    service=service,
                    operation=camel,
                )
            name = by_kebab[key]
        if name in result:
            raise aiokit.InvalidParameterError(
                f"{name} is given twice (as {given[name]} and {key}): give it once",
                service=service,
                operation=camel,
            )
        result[name], given[name] = value, key
    return result
