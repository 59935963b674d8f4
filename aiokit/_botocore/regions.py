"""botocore.regions: the resolver of botocore's endpoint data (``endpoints.json``).

``EndpointResolver.get_available_endpoints`` lists the regions of a service in a partition;
aiokit's ``_endpoints`` module is its one user.
"""

from __future__ import annotations

from botocore.regions import EndpointResolver

__all__ = ["EndpointResolver"]
