"""The CLI's logging: one line per warning, tracebacks only with ``--debug``, no secrets ever.

botocore's DEBUG records hold what goes over the wire: ``Authorization`` headers (the
credential scope and the signature), ``X-Amz-Security-Token``, AssumeRole answers with the
new secret key and session token, AssumeRole requests with the external id and MFA code.
Every record is passed through :class:`RedactSecrets` before it is written, tracebacks
included, so ``--debug`` output can be pasted in an issue.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

from .._workers import WorkerError

__all__ = ["Once", "OneLine", "RedactSecrets", "configure_logging", "redact"]

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
    """Rewrites each record's message (and traceback) with :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
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


def configure_logging(debug: bool, stream: TextIO | None = None) -> logging.Handler:
    """Log to stderr: warnings as one line each, or everything (redacted) with ``debug``."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactSecrets())
    if debug:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(OneLine())
        handler.addFilter(Once())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.captureWarnings(True)
    return handler
