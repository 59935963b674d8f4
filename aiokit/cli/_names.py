"""Operation and waiter names as the AWS CLI spells them: ``describe-instances``,
``list-objects-v2``, ``instance-running``.

The library takes snake_case or CamelCase; the command line takes kebab-case too. A kebab
name is mapped through the service's own model (``xform_name(name, "-")`` of its operation
or waiter names, as the AWS CLI builds its commands), not by swapping ``-`` for ``_``: an
unknown one gets an error with the close kebab-case names, before any request. Blocking (it
may read model files): run it in a worker thread.
"""

from __future__ import annotations

from typing import Any

from botocore import xform_name
from botocore.exceptions import DataNotFoundError

import aiokit

from .._botocore.loaders import shared_loader
from .._exceptions import translated
from .._validate import did_you_mean
from .._where import Scope

__all__ = ["operation_name", "waiter_name"]


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
