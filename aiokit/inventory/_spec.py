"""User resource types from a TOML spec file (``load_spec``), and ``select`` (``--resources``).

A spec file adds entries of the catalogue's own shape::

    [resources."ec2.transit_gateways"]
    service = "ec2"
    operation = "describe_transit_gateways"
    records = "TransitGateways[]"
    primary_key = "TransitGatewayArn"
    params = { }          # optional
    global = false        # optional: derived from botocore's endpoint data when absent

Every mistake is one ``ConfigurationError`` naming the file, the entry and the field, found
before any request: each entry is checked against botocore's models as a crawl would.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._checks import kind
from .._exceptions import ConfigurationError, InvalidParameterError, UnknownServiceError
from .._fleet.listings import Listing
from .._validate import did_you_mean
from ._catalogue import CATALOGUE, NAME, ResourceType

__all__ = ["load_spec", "select"]

_REQUIRED = ("service", "operation", "records", "primary_key")
_OPTIONAL = ("params", "global", "key", "description")
_FIELDS = (*_REQUIRED, *_OPTIONAL)
_TEXT = ("service", "operation", "records", "primary_key", "key", "description")


def load_spec(
    path: str | os.PathLike[str], catalogue: Mapping[str, ResourceType] | None = None
) -> Mapping[str, ResourceType]:
    """The catalogue merged with the resource types of a TOML spec file; blocking.

    An entry of the spec replaces a built-in (or ``catalogue``) entry of the same name:
    that is how a user changes a built-in type's parameters or key. Each entry is checked
    against botocore's models (service, operation, paginability, parameters, result key)
    and its JMESPaths compiled. It reads files: from async code, run it in a worker thread.

    Args:
        path: the spec file.
        catalogue: what to merge into; the built-in ``CATALOGUE`` by default.

    Returns:
        A read-only mapping of name to :class:`ResourceType`: the catalogue's entries in
        their order, replaced in place, then the spec's new ones in the file's order.

    Raises:
        ConfigurationError: the file is missing, a directory, unreadable or not TOML; or an
            entry is malformed (wrong type, unknown or missing field, unknown service,
            operation or parameter, bad JMESPath), naming the file, the entry and the field.
    """
    base = _checked_catalogue(catalogue)
    label, document = _read(path)
    merged = dict(base)
    for name, entry in _entries(label, document).items():
        merged[name] = _resource_type(label, name, entry)
    return MappingProxyType(merged)


def _read(path: object) -> tuple[str, dict[str, Any]]:
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ConfigurationError(f"spec path must be a file path, not {kind(path)} {path!r}")
    file = Path(path)
    label = f"spec file {str(file)!r}"
    try:
        if file.exists() and not file.is_dir() and not file.is_file():
            # A named pipe or a device: reading would wait for a writer, maybe forever.
            raise ConfigurationError(f"{label} is not a regular file")
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"{label} does not exist") from None
    except IsADirectoryError:
        raise ConfigurationError(f"{label} is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigurationError(f"{label} cannot be read: {exc.strerror or exc}") from None
    try:
        return label, tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigurationError(f"{label} is not TOML: it is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{label} is not valid TOML: {exc}") from None


def _entries(label: str, document: dict[str, Any]) -> dict[str, Any]:
    unknown = [k for k in document if k != "resources"]
    if unknown:
        hint = did_you_mean(unknown[0], ["resources"])
        raise ConfigurationError(
            f"{label}: unknown top-level key {unknown[0]!r}{hint} (a spec holds "
            '[resources."service.type"] tables only)'
        )
    resources = document.get("resources")
    if not isinstance(resources, dict) or not resources:
        raise ConfigurationError(
            f'{label} defines no resource types: add a [resources."service.type"] table'
        )
    return resources


def _resource_type(label: str, name: str, entry: object) -> ResourceType:
    where = f"{label}, entry {name!r}"
    _check_entry(where, name, entry)
    assert isinstance(entry, dict)
    try:
        listing = Listing(
            entry["service"],
            entry["operation"],
            entry.get("params"),
            key=entry.get("key"),
            name=name,
            account_wide=entry.get("global"),
        )
    except ConfigurationError as exc:
        raise _field_error(where, name, exc, entry) from None
    try:
        resource = ResourceType(
            name, listing, entry["records"], entry["primary_key"], entry.get("description", "")
        )
        return resource.checked()
    except ConfigurationError as exc:
        raise _field_error(where, name, exc, entry) from None


def _check_entry(where: str, name: str, entry: object) -> None:
    """The entry's shape: a table of known fields, each of its type."""
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where} must be a table of fields, not {kind(entry)}")
    if not NAME.match(name):
        nested = "." not in name and any(isinstance(v, dict) for v in entry.values())
        hint = f' (quote the dotted name: [resources."{name}.<type>"])' if nested else ""
        raise ConfigurationError(
            f"{where}: a resource type's name must look like 'service.type' (lower case, e.g. "
            f"'ec2.transit_gateways'){hint}"
        )
    for field in entry:
        if field not in _FIELDS:
            raise ConfigurationError(
                f"{where}: unknown field {field!r}{did_you_mean(field, _FIELDS)} (fields: "
                f"{', '.join(_FIELDS)})"
            )
    for field in _REQUIRED:
        if field not in entry:
            raise ConfigurationError(f"{where}: field {field!r} is missing (required)")
    for field in _TEXT:
        if field in entry and not isinstance(entry[field], str):
            raise ConfigurationError(
                f"{where}, field {field!r}: must be a string, not {_toml_kind(entry[field])}"
            )
    if "params" in entry and not isinstance(entry["params"], dict):
        raise ConfigurationError(
            f"{where}, field 'params': must be a table, not {_toml_kind(entry['params'])}"
        )
    if "global" in entry and not isinstance(entry["global"], bool):
        raise ConfigurationError(
            f"{where}, field 'global': must be true or false, not {_toml_kind(entry['global'])}"
        )
    if entry["service"] != name.partition(".")[0]:
        raise ConfigurationError(
            f"{where}, field 'service': {entry['service']!r} is not the service its name "
            f"starts with ({name.partition('.')[0]!r}); name it "
            f"'{entry['service']}.{name.partition('.')[2]}'"
        )


def _field_error(
    where: str, name: str, exc: ConfigurationError, entry: dict[str, Any]
) -> ConfigurationError:
    """``exc`` (from ``Listing``, ``ResourceType`` or ``checked``) said again, naming the
    spec's field."""
    message = str(exc)
    if f"{name!r} records" in message:
        field = "records"
    elif f"{name!r} primary_key" in message:
        field = "primary_key"
    elif isinstance(exc, UnknownServiceError):
        field = "service"
    elif isinstance(exc, InvalidParameterError):
        field = "key" if entry.get("key") is not None and "result keys" in message else "params"
    elif "account_wide" in message:
        field = "global"
    else:
        field = "operation"
    return ConfigurationError(f"{where}, field {field!r}: {exc}")


def _toml_kind(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), kind(value))


def select(
    names: str | Iterable[str], catalogue: Mapping[str, ResourceType] | None = None
) -> tuple[ResourceType, ...]:
    """The resource types ``names`` selects, as ``--resources`` takes them.

    Args:
        names: names, as an iterable or one comma-separated string
            (``"ec2.instances,s3.buckets"``); a glob selects every type it matches
            (``"ec2.*"``: all of EC2's; ``"*"``: all).
        catalogue: what to select from; the built-in ``CATALOGUE`` by default (or what
            :func:`load_spec` returned).

    Returns:
        The types in the order given, each once.

    Raises:
        ConfigurationError: nothing selected, a name the catalogue lacks (close names
            suggested), or a glob matching nothing.
    """
    source = _checked_catalogue(catalogue)
    wanted = _names(names)
    chosen: dict[str, ResourceType] = {}
    for name in wanted:
        if any(c in name for c in "*?["):
            matched = [n for n in source if fnmatch.fnmatchcase(n, name)]
            if not matched:
                services = sorted({n.partition(".")[0] for n in source})
                hint = did_you_mean(name.partition(".")[0], services)
                raise ConfigurationError(f"resources: {name!r} matches no resource type{hint}")
            chosen.update((n, source[n]) for n in matched)
        elif name in source:
            chosen[name] = source[name]
        else:
            raise ConfigurationError(
                f"resources: unknown resource type {name!r}{did_you_mean(name, source)} "
                "(`aiokit.inventory.CATALOGUE` lists them)"
            )
    return tuple(chosen.values())


def _names(names: object) -> list[str]:
    if isinstance(names, str):
        parts = names.split(",")
    elif isinstance(names, Iterable) and not isinstance(names, bytes | Mapping):
        parts = list(names)
        for part in parts:
            if not isinstance(part, str):
                raise ConfigurationError(
                    f"resources must be names (str), not {kind(part)} {part!r}"
                )
    else:
        raise ConfigurationError(
            f"resources must be a comma-separated str or an iterable of names, not {kind(names)}"
        )
    wanted = [p.strip() for p in parts if p.strip()]
    if not wanted:
        raise ConfigurationError(
            "resources: no resource type given (e.g. 'ec2.instances,s3.buckets' or 'ec2.*')"
        )
    return wanted


def _checked_catalogue(catalogue: object) -> Mapping[str, ResourceType]:
    if catalogue is None:
        return CATALOGUE
    if not isinstance(catalogue, Mapping) or not all(
        isinstance(k, str) and isinstance(v, ResourceType) and v.name == k
        for k, v in catalogue.items()
    ):
        raise ConfigurationError(
            "catalogue must be a mapping of name to ResourceType (each under its own name), "
            f"such as aiokit.inventory.CATALOGUE, not {kind(catalogue)}"
        )
    return catalogue
