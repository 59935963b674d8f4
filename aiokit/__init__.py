"""aiokit: an async AWS access layer.

A :class:`SessionPool` owns sessions, credentials and clients; identities say who a request
is made as; every error aiokit raises derives from :class:`AiokitError`.
"""

from typing import TYPE_CHECKING

from ._exceptions import (
    AccessDeniedError,
    AiokitError,
    AssumeRoleError,
    AWSError,
    ConfigurationError,
    CredentialsError,
    EndpointError,
    InvalidCredentialsError,
    InvalidParameterError,
    InvalidRegionError,
    InvalidRoleError,
    MissingDependencyError,
    PaginationError,
    PoolClosedError,
    ProfileNotFoundError,
    RetryableError,
    ThrottlingError,
    UnknownOperationError,
    UnknownServiceError,
    UsageError,
    WaiterError,
    WaiterFailed,
    WaiterTimeout,
)
from ._fleet.crawl import Crawl, Item, Report
from ._fleet.discovery import Organization, Profiles
from ._fleet.fanout import Context, FanOut
from ._fleet.listings import Listing
from ._fleet.outcomes import FanOutStatistics, Outcome, Progress, Status
from ._fleet.runners import Processes
from ._fleet.targets import Target
from ._identity import AssumeRole, DefaultCredentials, Identity, Profile, StaticKeys
from ._paginate import Paginator
from ._pool import PoolStatistics
from ._ratelimit import RetrySettings, ScopeKey, ScopeStatistics
from ._retry import retry
from ._waiters import WaitResult

if TYPE_CHECKING:
    # For type checkers only, the same class with one overload per service name: typed
    # clients, resources and pages where the types-aiobotocore stubs are installed (the
    # `types` extra), Any where not. Never imported at run time (aiokit/_typed.pyi).
    from ._typed import SessionPool
else:
    from ._pool import SessionPool

__version__ = "0.1.0.dev0"

__all__ = [
    "AWSError",
    "AccessDeniedError",
    "AiokitError",
    "AssumeRole",
    "AssumeRoleError",
    "ConfigurationError",
    "Context",
    "Crawl",
    "CredentialsError",
    "DefaultCredentials",
    "EndpointError",
    "FanOut",
    "FanOutStatistics",
    "Identity",
    "InvalidCredentialsError",
    "InvalidParameterError",
    "InvalidRegionError",
    "InvalidRoleError",
    "Item",
    "Listing",
    "MissingDependencyError",
    "Organization",
    "Outcome",
    "PaginationError",
    "Paginator",
    "PoolClosedError",
    "PoolStatistics",
    "Processes",
    "Profile",
    "ProfileNotFoundError",
    "Profiles",
    "Progress",
    "Report",
    "RetrySettings",
    "RetryableError",
    "ScopeKey",
    "ScopeStatistics",
    "SessionPool",
    "StaticKeys",
    "Status",
    "Target",
    "ThrottlingError",
    "UnknownOperationError",
    "UnknownServiceError",
    "UsageError",
    "WaitResult",
    "WaiterError",
    "WaiterFailed",
    "WaiterTimeout",
    "__version__",
    "retry",
]

# Public names say where users import them from.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("aiokit._"):
        _obj.__module__ = "aiokit"
del _name, _obj
