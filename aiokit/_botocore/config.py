"""botocore.config / aiobotocore.config: merging configs without losing aiobotocore's
connector arguments, a stable key per config, and a bound client's own copy of one."""

from __future__ import annotations

from typing import Any

from aiobotocore._constants import DEFAULT_KEEPALIVE_TIMEOUT
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from botocore.config import Config


def merge_config(base: AioConfig, override: AioConfig | None) -> AioConfig:
    """``base`` overridden by ``override``, keeping connector args and the HTTP session class.

    ``AioConfig.merge`` drops the other config's ``connector_args`` and ``http_session_cls``.
    """
    if override is None:
        return base
    options = {**base._user_provided_options, **override._user_provided_options}
    extra = dict(override.connector_args or {})
    # AioConfig fills in a default keepalive_timeout; that default must not undo the base's.
    if extra.get("keepalive_timeout") == DEFAULT_KEEPALIVE_TIMEOUT:
        del extra["keepalive_timeout"]
    connector_args = {**(base.connector_args or {}), **extra}
    session_cls = (
        override.http_session_cls
        if override.http_session_cls is not AIOHTTPSession
        else base.http_session_cls
    )
    return AioConfig(connector_args=connector_args, http_session_cls=session_cls, **options)


def config_key(config: AioConfig) -> str:
    """A stable key for a config, so equal configs share one client."""
    options = sorted((k, repr(v)) for k, v in config._user_provided_options.items())
    connector = sorted((k, repr(v)) for k, v in (config.connector_args or {}).items())
    return repr((options, connector, config.http_session_cls.__qualname__))


def own_config(config: AioConfig) -> AioConfig:
    """A copy of a client config for one bound client: its attributes and their dicts."""
    mine = object.__new__(type(config))
    state = config.__dict__.copy()
    for name in _CONFIG_DICTS:
        value = state.get(name)
        if value:
            state[name] = value.copy()
    mine.__dict__ = state
    return mine


# The dict-valued options of botocore's and aiobotocore's Config (the rest are immutable).
_CONFIG_DICTS = (
    "_user_provided_options",
    "retries",
    "s3",
    "proxies",
    "proxies_config",
    "client_context_params",
    "connector_args",
)


def user_options(config: Config) -> dict[str, Any]:
    """The options a ``Config`` was made with (botocore keeps them in
    ``_user_provided_options``; ``Config.merge`` and the client creator read them there)."""
    return dict(config._user_provided_options)
