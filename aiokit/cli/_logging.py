"""The CLI's logging: one line per warning, tracebacks only with ``--debug``, no secrets ever.

botocore's DEBUG records hold what goes over the wire: ``Authorization`` headers (the
credential scope and the signature), ``X-Amz-Security-Token``, AssumeRole answers with the
new secret key and session token, AssumeRole requests with the external id and MFA code.
Every record is passed through :class:`RedactSecrets` before it is written, tracebacks
included, so ``--debug`` output can be pasted in an issue.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from .._workers import WorkerError
from ..logging import JSONFormatter, RedactSecrets, redact

__all__ = ["LEVELS", "Once", "OneLine", "RedactSecrets", "configure_logging", "redact"]


class OneLine(logging.Formatter):
    """``warning: message (ExceptionType: its message)``: one line, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if isinstance(exc, WorkerError):  # from a worker process; it names the type
                text += f" ({exc})"
            else:
                text += f" ({type(exc).__name__}: {exc})"
        return " ".join(redact(text).split())


class Once(logging.Filter):
    """Lets each distinct warning through once: a role denied in one account would
    otherwise warn once per region, the same line again and again."""

    def __init__(self, limit: int = 10_000) -> None:
        super().__init__()
        self._seen: set[tuple[str, int, str]] = set()
        self._limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        key = (record.name, record.levelno, f"{record.getMessage()} {exc}")
        if key in self._seen:
            return False
        if len(self._seen) < self._limit:
            self._seen.add(key)
        return True


LEVELS = ("debug", "info", "warning", "error")


def configure_logging(
    debug: bool,
    stream: TextIO | None = None,
    *,
    level: str | None = None,
    fmt: str = "text",
) -> logging.Handler:
    """Log to stderr, secrets redacted.

    ``level`` (``--log-level``; ``debug`` when ``debug``, else ``warning`` by default) is
    aiokit's level; other libraries' records show from ``warning`` up, or everything at
    ``debug`` (botocore's wire log included, redacted). ``fmt`` (``--log-format``):
    ``text`` writes one line per record (``warning: ...``; with ``--debug`` time, level and
    logger too), each distinct warning once; ``json`` one JSON object per record
    (``aiokit.logging.JSONFormatter``), every record.
    """
    name = level if level is not None else ("debug" if debug else "warning")
    number = getattr(logging, name.upper())
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactSecrets())
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    elif number <= logging.DEBUG:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(OneLine())
        handler.addFilter(Once())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(number if number <= logging.DEBUG else max(number, logging.WARNING))
    logging.getLogger("aiokit").setLevel(number)
    logging.captureWarnings(True)
    return handler
