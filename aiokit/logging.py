"""Logging: aiokit's records, a JSON formatter, and the filter that keeps secrets out.

::

    import logging, aiokit.logging

    logging.getLogger().addHandler(aiokit.logging.handler("json"))  # the one line
    logging.getLogger("aiokit").setLevel(logging.INFO)

aiokit logs under the ``aiokit`` logger and never configures logging itself (no handler,
no level: that is the application's choice). Levels:

- ``INFO``: lifecycle a person wants to see: a crawl or fan-out started (targets) and
  finished (ok / skipped / failed / items), each target skipped or failed with its reason.
- ``DEBUG``: every API call and every HTTP attempt.
- ``WARNING``: what the caller should act on (a page retried, a region left out).

Records carry structured fields as attributes (``extra=``): ``account``, ``region``,
``service``, ``operation``, ``attempt``, ``duration``, ``error_code``, ``request_id``,
``status``, ``reason``, ``event``; :class:`JSONFormatter` writes them as keys.

botocore's own DEBUG records hold what goes over the wire (``Authorization`` headers,
session tokens, AssumeRole answers with new secret keys): :class:`RedactSecrets`, a filter,
rewrites every record that passes it, and :func:`handler` attaches it. Add it to any
handler of yours that may see botocore's DEBUG records.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import sys
from typing import Any, Literal, TextIO

from ._exceptions import ConfigurationError

__all__ = ["FIELDS", "JSONFormatter", "RedactSecrets", "handler", "redact"]

#: The structured fields aiokit's records may carry, in the order JSON output lists them.
FIELDS = (
    "event",
    "account",
    "region",
    "service",
    "operation",
    "attempt",
    "duration",
    "status",
    "reason",
    "error_code",
    "request_id",
    "targets",
    "ok",
    "skipped",
    "failed",
    "items",
)

# Names whose value is a secret (or, for Credential, the key id that goes with one).
_SECRET_NAMES = (
    r"aws_secret_access_key|secret_access_key|secretaccesskey|secret_key|secretkey"
    r"|aws_session_token|session_token|sessiontoken|x-amz-security-token|security_token"
    r"|token|x-amz-signature|signature|x-amz-credential|credential|authorization"
    r"|aws_access_key_id|access_key_id|accesskeyid|access_key"
    # An AssumeRole request's external id and MFA code.
    r"|externalid|external_id|tokencode|token_code"
)
# name, then what separates it from its value (quotes, ':', '=', space, newline), then the
# value up to the next quote, separator or end of line.
_NAME_VALUE = re.compile(
    rf"(?<![\w-])({_SECRET_NAMES})(['\"]?\s*[:=]\s*b?['\"]?)([^'\"\s&,;<>()\[\]{{}}]+)",
    re.IGNORECASE,
)
# <SecretAccessKey>...</SecretAccessKey> and its kin in XML answers.
_XML = re.compile(r"<(SecretAccessKey|SessionToken|AccessKeyId|Token)>[^<]*</\1>", re.IGNORECASE)
# Whatever else looks like a key id: AKIA... (long-term), ASIA... (temporary).
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b")
REDACTED = "***"


def redact(text: str) -> str:
    """``text`` with every AWS secret it seems to hold replaced by ``***``."""
    text = _XML.sub(lambda m: f"<{m.group(1)}>{REDACTED}</{m.group(1)}>", text)
    text = _NAME_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _KEY_ID.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """A filter that rewrites each record's message (and traceback) with :func:`redact`.

    It never drops a record; attach it to a handler (``handler.addFilter(...)``), so it
    sees botocore's records too (a logger's filters see only that logger's own).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always ``True``."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep what can be kept
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per record, on one line.

    Keys: ``time`` (ISO-8601, UTC, milliseconds), ``level``, ``logger``, ``message``, then
    each of :data:`FIELDS` the record was given (``null`` when not known), then ``exception``
    (``{"type", "message", "traceback"}``) when the record has one. Every string is
    redacted (:func:`redact`), whether or not a :class:`RedactSecrets` filter ran.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        stamp = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        out: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in FIELDS:
            if name in record.__dict__:  # given (``None``: not known, e.g. the account)
                out[name] = _plain(record.__dict__[name])
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = record.exc_text or self.formatException(record.exc_info)
            out["exception"] = {
                "type": type(exc).__name__,
                "message": redact(str(exc)),
                "traceback": redact(text),
            }
        elif record.exc_text:
            out["exception"] = {"traceback": redact(record.exc_text)}
        return json.dumps(out, ensure_ascii=False, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    return redact(str(value))


def handler(
    format: Literal["text", "json"] = "text", stream: TextIO | None = None
) -> logging.Handler:
    """A ``StreamHandler`` (stderr by default) with :class:`RedactSecrets` and a formatter.

    Args:
        format: ``"json"`` (:class:`JSONFormatter`) or ``"text"`` (``time level logger:
            message``).
        stream: where to write; ``sys.stderr`` when ``None``.

    Raises:
        ConfigurationError: ``format`` is neither ``"text"`` nor ``"json"``.
    """
    if not isinstance(format, str) or format not in ("text", "json"):
        raise ConfigurationError(
            f"aiokit.logging.handler: format must be 'text' or 'json', not {format!r}"
        )
    out = logging.StreamHandler(stream if stream is not None else sys.stderr)
    out.addFilter(RedactSecrets())
    if format == "json":
        out.setFormatter(JSONFormatter())
    else:
        out.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return out
