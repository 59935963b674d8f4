"""Argument checks shared by the public API: bad input is refused at the call, by name.

Every check raises a :class:`~aiokit.ConfigurationError` subclass (a ``ValueError`` too)
whose message names the parameter, what it got and what it takes; none sends a request, so
they run before anything reaches AWS. ``bool`` is refused where a number is expected
(``True`` is an ``int`` to Python, never a count or a number of seconds to a caller), and so
are NaN and infinities: ``timeout=float("nan")`` would otherwise never expire.

The checks live here, not in each function, so the same mistake gets the same words from
``SessionPool(...)``, ``pool.crawl(...)`` and ``aiokit.sync``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from aiobotocore.config import AioConfig
from botocore.config import Config

from ._botocore.config import user_options
from ._botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url
from ._checks import ACCOUNT_ID, account_id, count, seconds, text
from ._checks import kind as _kind
from ._exceptions import (
    ConfigurationError,
    InvalidParameterError,
    InvalidRegionError,
    InvalidRoleError,
    UnknownServiceError,
)
from ._identity import check_identity as identity
from ._where import describe

__all__ = [
    "ACCOUNT_ID",
    "account_id",
    "callable_or_none",
    "hook_result",
    "client_args",
    "config",
    "count",
    "endpoint_url",
    "identity",
    "pool_options",
    "region",
    "seconds",
    "service",
    "text",
]


def did_you_mean(word: str, choices: Iterable[str], n: int = 3, cutoff: float = 0.6) -> str:
    """``"; did you mean a, b?"`` for the close matches of ``word`` among ``choices``, or ``""``.

    The one "did you mean" of aiokit's error messages (operations, waiters, regions, names).
    """
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=cutoff)
    return f"; did you mean {', '.join(close)}?" if close else ""


_RETRY_MODES = ("shared", "adaptive", "standard")
# The most targets a fan-out runs at once: far above any AWS quota, and a task per slot.
MAX_CONCURRENCY = 100_000


def callable_or_none(name: str, value: object) -> None:
    """``value`` is ``None`` or a plain (not async) callable: a hook aiokit calls, not awaits."""
    if value is not None and not callable(value):
        raise ConfigurationError(f"{name} must be callable or None, not {_kind(value)} {value!r}")
    if inspect.iscoroutinefunction(value) or inspect.isasyncgenfunction(value):
        # Called and never awaited, it would do nothing but warn "never awaited".
        raise ConfigurationError(
            f"{name} is called, not awaited: it must be a plain function (def, not async "
            f"def), not {getattr(value, '__qualname__', value)!r}"
        )


def hook_result(name: str, result: object) -> None:
    """What a plain hook returned: an awaitable means an async hook in disguise, said so."""
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if close is not None:
            close()  # no "never awaited" warning on top of the error
        raise ConfigurationError(
            f"{name} is called, not awaited: it must be a plain function, and it returned "
            f"{type(result).__name__}"
        )


def service(value: object) -> None:
    """A service name: a non-empty, lower-case botocore name such as ``"s3"``."""
    if not isinstance(value, str) or not value.strip():
        raise UnknownServiceError(
            f"service must be a service name such as 's3', not {_kind(value)} {value!r}"
        )


def region(name: str, value: object) -> None:
    """A region name or ``None`` (whether it exists is checked where the data is at hand)."""
    if value is None:
        return
    if not isinstance(value, str) or not value.strip():
        raise InvalidRegionError(
            f"{name} must be a region name such as 'us-east-1' or None, not "
            f"{_kind(value)} {value!r}"
        )


def endpoint_url(name: str, value: object) -> None:
    """``None`` or an ``http://`` / ``https://`` URL with a host."""
    if value is None:
        return
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a URL string, not {_kind(value)} {value!r}")
    problem = None
    if not value or any(c.isspace() for c in value):
        problem = "it is empty or contains white space"
    else:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            problem = "the scheme must be http:// or https://"
        elif not parts.hostname:
            problem = "it names no host"
        elif not (is_valid_endpoint_url(value) or is_valid_ipv6_endpoint_url(value)):
            problem = "the host name is malformed"
        else:
            try:
                parts.port  # noqa: B018  (raises ValueError for a port out of range)
            except ValueError:
                problem = "the port is not a number from 0 to 65535"
    if problem is not None:
        raise ConfigurationError(
            f"{name}={value!r} is not a usable endpoint URL: {problem} "
            "(e.g. 'http://127.0.0.1:5000')"
        )


def config(name: str, value: object) -> AioConfig | None:
    """An ``AioConfig``, ``None``, or a plain botocore ``Config`` (converted to one)."""
    if value is None:
        return None
    if isinstance(value, Config):
        _config_values(name, user_options(value))
        if isinstance(value, AioConfig):
            return value
        # What a boto3 user has at hand; aiobotocore needs its own subclass.
        return AioConfig(**user_options(value))
    raise ConfigurationError(
        f"{name} must be an aiobotocore.config.AioConfig (e.g. AioConfig(retries=...)), not "
        f"{_kind(value)}"
    )


def _config_values(name: str, options: Mapping[str, Any]) -> None:
    """The options botocore takes without a check and fails on later, or never."""
    for key in ("connect_timeout", "read_timeout"):
        if options.get(key) is not None:
            seconds(f"{name} {key}", options[key])
    if options.get("max_pool_connections") is not None:
        # 0 connections: every request waits for one forever.
        count(f"{name} max_pool_connections", options["max_pool_connections"])
    proxies = options.get("proxies")
    if proxies is not None and not (
        isinstance(proxies, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in proxies.items())
    ):
        raise ConfigurationError(
            f"{name} proxies must be a mapping like {{'https': 'http://proxy:3128'}}, not "
            f"{_kind(proxies)}"
        )
    for key in ("user_agent", "user_agent_extra", "user_agent_appid"):
        text(f"{name} {key}", options.get(key), optional=True)
    for key in ("tcp_keepalive", "inject_host_prefix"):
        value = options.get(key)
        if value is not None and not isinstance(value, bool):
            raise ConfigurationError(f"{name} {key} must be True or False, not {value!r}")
    version = options.get("signature_version")
    if version is not None:
        from ._botocore.auth import AUTH_TYPE_MAPS, UNSIGNED

        if version is not UNSIGNED and version not in AUTH_TYPE_MAPS:
            raise ConfigurationError(
                f"{name} signature_version {version!r} is unknown to botocore (e.g. 'v4', "
                "'s3v4', or botocore.UNSIGNED)"
            )


def client_args(
    *,
    service_: object,
    region_: object,
    account: object = None,
    role: object = None,
    identity_: object = None,
    config_: object = None,
    endpoint_url_: object = None,
) -> AioConfig | None:
    """The "where and as whom" arguments of ``pool.client``, ``paginate``, ``wait``...

    Returns ``config`` as an ``AioConfig`` (or ``None``).
    """
    service(service_)
    region("region", region_)
    account_id("account", account)
    text("role", role, optional=True, error=InvalidRoleError)
    identity("identity", identity_)
    endpoint_url("endpoint_url", endpoint_url_)
    return config("config", config_)


def pool_options(
    *,
    profile: object,
    credentials: object,
    region_: object,
    role: object,
    endpoint_url_: object,
    endpoint_urls: object,
    config_: object,
    concurrency: object,
    max_clients: object,
    refresh_before: object,
    sts_concurrency: object,
    retry_mode: object,
    retry: object,
    quotas: object,
    gc_threshold: object,
) -> AioConfig | None:
    """``SessionPool(...)``'s arguments; returns ``config`` as an ``AioConfig`` (or ``None``).

    Raises:
        ConfigurationError: the first argument that is wrong, by name.
    """
    from ._ratelimit import RetrySettings

    if profile is not None and credentials is not None:
        raise ConfigurationError("give profile or credentials, not both")
    text("profile", profile, optional=True)
    identity("credentials", credentials)
    region("region", region_)
    text("role", role, optional=True, error=InvalidRoleError)
    endpoint_url("endpoint_url", endpoint_url_)
    if endpoint_urls is not None:
        if not isinstance(endpoint_urls, Mapping):
            raise ConfigurationError(
                f"endpoint_urls must be a mapping of service name to URL, not "
                f"{_kind(endpoint_urls)}"
            )
        for key, url in endpoint_urls.items():
            service(key)
            endpoint_url(f"endpoint_urls[{key!r}]", url)
    converted = config("config", config_)
    count("concurrency", concurrency)
    count("max_clients", max_clients)
    count("sts_concurrency", sts_concurrency)
    seconds("refresh_before", refresh_before, zero=True)
    if retry_mode not in _RETRY_MODES:
        raise ConfigurationError(
            f"retry_mode must be one of {', '.join(map(repr, _RETRY_MODES))}, not {retry_mode!r}"
        )
    if retry is not None and not isinstance(retry, RetrySettings):
        raise ConfigurationError(
            f"retry must be an aiokit.RetrySettings(...) or None, not {_kind(retry)}"
        )
    for name, value in (("retry", retry), ("quotas", quotas)):
        if value is not None and retry_mode != "shared":
            # Silently ignored otherwise: botocore's own modes know no such settings.
            raise ConfigurationError(
                f"{name}= applies to retry_mode='shared' only, not {retry_mode!r}; for "
                "botocore's modes pass config=AioConfig(retries={...})"
            )
    if quotas is not None:
        if not isinstance(quotas, Mapping):
            raise ConfigurationError(
                "quotas must be a mapping {(service, action group): (rate, burst)}, "
                f"not {_kind(quotas)}"
            )
        for key, value in quotas.items():
            if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str)):
                raise ConfigurationError(
                    f"quotas keys are (service, action group or None) pairs, not {key!r}"
                )
            if not (isinstance(value, tuple | list) and len(value) == 2):
                raise ConfigurationError(
                    f"quotas[{key!r}] must be a (rate per second, burst) pair, not {value!r}"
                )
            seconds(f"quotas[{key!r}] rate", value[0])
            seconds(f"quotas[{key!r}] burst", value[1])
    count("gc_threshold", gc_threshold, optional=True)
    return converted


def pagination_config(service_: str, operation: str, config_: object) -> dict[str, Any]:
    """boto3's ``PaginationConfig``, checked: known keys, sane values, a decodable token."""
    where = f"{service_} {operation}"
    kw: dict[str, Any] = {"service": service_, "operation": operation}
    if config_ is None:
        return {}
    if not isinstance(config_, Mapping):
        raise InvalidParameterError(
            f"{where}: PaginationConfig must be a mapping like {{'PageSize': 50}}, not "
            f"{_kind(config_)}",
            **kw,
        )
    checked = dict(config_)
    keys = ("MaxItems", "PageSize", "StartingToken")
    unknown = set(checked) - set(keys)
    if unknown:
        raise InvalidParameterError(
            f"{where}: unknown PaginationConfig keys {sorted(map(str, unknown))}; expected "
            f"{sorted(keys)}",
            **kw,
        )
    for key in ("MaxItems", "PageSize"):
        value = checked.get(key)
        if value is None:
            continue
        # botocore takes digit strings (the CLI passes them so); turn them into ints here.
        if isinstance(value, str) and value.strip().isdigit():
            value = checked[key] = int(value)
        try:
            count(f"{where}: PaginationConfig {key}", value, error=InvalidParameterError)
        except InvalidParameterError as exc:
            exc.service, exc.operation = service_, operation
            raise
    token = checked.get("StartingToken")
    if token is not None:
        decode_token(service_, operation, token)
    return checked


def decode_token(
    service_: str,
    operation: str,
    token: object,
    input_tokens: Iterable[str] | None = None,
    *,
    region_: str | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    """A resume token in botocore's format, decoded; an unusable one is an error.

    botocore falls back on treating a token it cannot decode as the service's own, so a
    token cut short would restart the listing from the first page without a word.
    """
    from ._botocore.paginate import decode_token as decode

    kw: dict[str, Any] = {
        "service": service_,
        "operation": operation,
        "region": region_,
        "account": account,
    }
    where = describe(service_, operation, region_, account)
    if not isinstance(token, str) or not token:
        raise InvalidParameterError(
            f"{where}: PaginationConfig StartingToken must be a resume token string, not "
            f"{_kind(token)} {token!r}",
            **kw,
        )
    try:
        decoded = decode(token)
    except Exception:
        decoded = None
    if not isinstance(decoded, dict) or not decoded:
        raise InvalidParameterError(
            f"{where}: PaginationConfig StartingToken is not a resume token this paginator "
            "gave (cut short or altered?); pass it exactly as resume_token returned it",
            **kw,
        )
    truncate = decoded.get("boto_truncate_amount")
    if truncate is not None and (
        isinstance(truncate, bool) or not isinstance(truncate, int) or truncate < 0
    ):
        raise InvalidParameterError(
            f"{where}: PaginationConfig StartingToken is malformed (bad truncation amount)",
            **kw,
        )
    if input_tokens is not None:
        names = set(input_tokens)
        found = set(decoded) - {"boto_truncate_amount"}
        if not found or not found <= names:
            raise InvalidParameterError(
                f"{where}: PaginationConfig StartingToken is not a resume token of this "
                f"operation (it holds {sorted(found)}, {operation} pages with {sorted(names)})",
                **kw,
            )
    return decoded


def organization(spec: Any) -> None:
    """``Organization``'s filters: strings (one or a list) and a str-to-str tag mapping."""
    for name in ("ous", "include", "exclude"):
        value = getattr(spec, name)
        if value is None or isinstance(value, str):
            continue
        if isinstance(value, Mapping) or not isinstance(value, Iterable):
            raise ConfigurationError(
                f"Organization {name} must be a str or a list of str, not {_kind(value)}"
            )
        items = list(value)
        object.__setattr__(spec, name, items)  # an iterator is read once, here
        for item in items:
            if not isinstance(item, str) or not item:
                raise ConfigurationError(
                    f"Organization {name} must hold non-empty strings, not {item!r}"
                )
    tags = spec.tags
    if tags is not None and (
        not isinstance(tags, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())
    ):
        raise ConfigurationError(
            f"Organization tags must be a mapping of str to str, not {_kind(tags)} {tags!r}"
        )
    if not isinstance(spec.include_management, bool):
        raise ConfigurationError(
            f"Organization include_management must be True or False, not "
            f"{_kind(spec.include_management)}"
        )


def not_a_typo(region_: str, service_: str, partitions: Iterable[Mapping[str, Any]]) -> None:
    """Refuse a region botocore does not know that is one slip from one it knows.

    botocore takes any name of the right shape (``us-eats-1`` fits the ``aws`` partition's
    pattern) and the mistake shows only as a connection error to a host that does not exist,
    after every retry. Names unlike any known region (an emulator's ``local``) still pass.
    """
    known = [name for partition in partitions for name in partition.get("regions", {})]
    if region_ in known:
        return
    hint = did_you_mean(region_, known, cutoff=0.85)
    if hint:
        raise InvalidRegionError(
            f"unknown region {region_!r} for {service_}{hint}",
            service=service_,
            region=region_,
        )
