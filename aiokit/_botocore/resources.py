"""boto3.resources / boto3.utils: an aioboto3 service resource on a client aiokit made.

aioboto3's ``Session.resource()`` makes its own client; the pool builds the resource class
from the service's ``resources-1`` model the way boto3's ``Session.resource`` does
(``ServiceContext``, ``LazyLoadedWaiterModel``, the session's ``resource_factory``), on a
bound client of its own. The classes of boto3's resource objects are named here for the
sync facade, which wraps them (``ServiceResource``, ``CollectionManager``,
``ResourceCollection``).
"""

from __future__ import annotations

from typing import Any

import anyio
import boto3.utils
from boto3.resources.base import ServiceResource
from boto3.resources.collection import CollectionManager, ResourceCollection

from .loaders import shared_loader
from .session import botocore_session

__all__ = [
    "CollectionManager",
    "ResourceCollection",
    "ServiceResource",
    "load_resource_model",
    "make_resource",
]


async def load_resource_model(service: str) -> Any:
    """The service's ``resources-1`` model, read in a worker thread (raises if it has none)."""
    return await anyio.to_thread.run_sync(
        shared_loader().load_service_model, service, "resources-1"
    )


async def make_resource(session: Any, service: str, client: Any, model: Any) -> Any:
    """The service resource of ``model`` (``resources-1``) on ``client``, from ``session``
    (an aioboto3 session)."""
    api_version = client.meta.service_model.api_version
    context = boto3.utils.ServiceContext(
        service_name=service,
        service_model=client.meta.service_model,
        resource_json_definitions=model["resources"],
        service_waiter_model=boto3.utils.LazyLoadedWaiterModel(
            botocore_session(session), service, api_version
        ),
    )
    cls = await session.resource_factory.load_from_definition(
        resource_name=service,
        single_resource_json_definition=model["service"],
        service_context=context,
    )
    return cls(client=client)
