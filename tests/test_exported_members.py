"""The public surface is exactly the intended names."""

import aiokit

EXPECTED = {
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
    "retry",
    "__version__",
}


def test_all_is_the_intended_surface() -> None:
    assert set(aiokit.__all__) == EXPECTED
    assert aiokit.__all__ == sorted(aiokit.__all__, key=str.casefold) or aiokit.__all__ == sorted(
        aiokit.__all__
    )


def test_public_classes_say_aiokit() -> None:
    for name in aiokit.__all__:
        obj = getattr(aiokit, name)
        if isinstance(obj, type):
            assert obj.__module__ == "aiokit", name


def test_every_error_derives_from_the_root() -> None:
    for name in aiokit.__all__:
        obj = getattr(aiokit, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, aiokit.AiokitError), name
    assert issubclass(aiokit.WaiterTimeout, TimeoutError)
    assert issubclass(aiokit.ConfigurationError, ValueError)
    assert issubclass(aiokit.PoolClosedError, RuntimeError)
    assert issubclass(aiokit.UsageError, RuntimeError)
    assert issubclass(aiokit.EndpointError, ConnectionError)
