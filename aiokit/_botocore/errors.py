"""botocore's internal errors aiokit translates, and its table of throttling codes.

``ResponseParserError`` (``botocore.parsers``: an answer that is not what AWS sends) is
not among ``botocore.exceptions``; the throttling codes are a private attribute of
botocore's retry checker (see ``retries``). ``aiokit._exceptions`` reads both from here.
"""

from __future__ import annotations

from botocore.parsers import ResponseParserError

from .retries import THROTTLED_ERROR_CODES

__all__ = ["THROTTLED_ERROR_CODES", "ResponseParserError"]
