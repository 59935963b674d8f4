"""Partitions, regions and where services exist: botocore's endpoint data, read once.

One place answers "which partition owns this region", "which services are global (one
endpoint per partition, not per region)" and "in which regions of a partition does this
service exist", for the pool (partition of a request), the limiter (global services share one
scope per account) and discovery (targets per region).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from ._botocore.loaders import model_loader, shared_loader
from ._botocore.regions import EndpointResolver
from ._exceptions import DEFAULT_ENABLED_REGIONS

__all__ = [
    "Coverage",
    "Endpoints",
    "Partition",
    "coverage",
    "endpoint_prefix",
    "endpoints",
    "global_services",
    "is_global_service",
    "load_endpoints",
    "partition_of",
]


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    regions: tuple[str, ...]  # the regions botocore knows, in its order
    regex: re.Pattern[str]
    global_region: str
    services: Mapping[str, Any]

    def owns(self, region: str) -> bool:
        return region in self.regions or bool(self.regex.match(region))

    def default_enabled(self) -> tuple[str, ...]:
        if self.name != "aws":
            return self.regions
        return tuple(r for r in self.regions if r in DEFAULT_ENABLED_REGIONS)


@dataclass(frozen=True, slots=True)
class Endpoints:
    partitions: Mapping[str, Partition]
    resolver: EndpointResolver

    def known(self, region: str) -> Partition | None:
        for partition in self.partitions.values():
            if region in partition.regions:
                return partition
        return None

    def owner(self, region: str) -> Partition | None:
        return self.known(region) or next(
            (p for p in self.partitions.values() if p.regex.match(region)), None
        )


@functools.cache
def load_endpoints() -> Endpoints:
    loader = shared_loader()
    data = loader.load_data("endpoints")
    global_regions = {
        p["id"]: p["outputs"]["implicitGlobalRegion"]
        for p in loader.load_data("partitions")["partitions"]
    }
    partitions = {}
    for p in data["partitions"]:
        name = p["partition"]
        regions = tuple(p["regions"])
        partitions[name] = Partition(
            name=name,
            regions=regions,
            regex=re.compile(p["regionRegex"]),
            global_region=global_regions.get(name, regions[0]),
            services=p["services"],
        )
    return Endpoints(partitions, EndpointResolver(data))


async def endpoints() -> Endpoints:
    """botocore's endpoint data, read in a worker thread (it is file I/O)."""
    # Reading botocore's JSON is file I/O: never on the event loop.
    return await anyio.to_thread.run_sync(load_endpoints)


def endpoint_prefix(service: str) -> str:
    """The key of a service in the endpoint data (``accessanalyzer`` -> ``access-analyzer``)."""
    model = model_loader().load_service_model(service, "service-2")
    return str(model["metadata"].get("endpointPrefix", service))


@dataclass(frozen=True, slots=True)
class Coverage:
    """Where the requested services exist in one partition."""

    global_: bool  # one target per account in the partition's global region
    regional: bool  # per-region targets at all
    only: frozenset[str] | None  # restrict per-region targets to these; None: no restriction


def coverage(endpoints: Endpoints, prefixes: Sequence[str] | None, partition: str) -> Coverage:
    if prefixes is None:
        return Coverage(global_=False, regional=True, only=None)
    data = endpoints.partitions[partition]
    global_ = False
    regional = False
    only: set[str] | None = set()
    for prefix in prefixes:
        entry = data.services.get(prefix)
        if entry is not None and entry.get("isRegionalized", True) is False:
            global_ = True
        elif entry is not None:
            regional = True
            if only is not None:
                only.update(endpoints.resolver.get_available_endpoints(prefix, partition))
        elif not any(prefix in p.services for p in endpoints.partitions.values()):
            # Newer services live only in endpoint rule sets, which list no regions: assume
            # the service is everywhere rather than drop it.
            regional = True
            only = None
        # Otherwise the service exists in other partitions but not in this one.
    return Coverage(global_, regional, None if only is None else frozenset(only))


@functools.cache
def global_services(partition: str = "aws") -> frozenset[str]:
    """The endpoint prefixes of ``partition``'s global services (``isRegionalized: false``):
    IAM, Organizations, Route 53, CloudFront... one endpoint for the whole partition."""
    data = load_endpoints().partitions.get(partition)
    if data is None:
        return frozenset()
    return frozenset(
        name for name, entry in data.services.items() if entry.get("isRegionalized", True) is False
    )


def is_global_service(service: str, partition: str = "aws") -> bool:
    """Whether ``service`` (its endpoint prefix) has one endpoint for the whole partition."""
    return service in global_services(partition)


def partition_of(region: str) -> str | None:
    """The partition owning ``region`` (listed, or matching a partition's region pattern),
    or ``None`` when no partition botocore knows owns it."""
    owner = load_endpoints().owner(region)
    return None if owner is None else owner.name
