"""AWS wire encoders shared by the testing kit's fault proxy (``_faults``) and the
benchmarks' fake AWS endpoint (``benchmarks/fake_aws``): each protocol's success and error
shapes, and the token bucket both throttle with.

Everything is string templates (no XML/JSON framework on the hot path) so one request
costs tens of microseconds.  The shapes follow botocore's service models (element names,
XML namespaces, ``__type`` forms, error headers) closely enough that unmodified botocore
parses every answer, error codes included.  Each function returns ``(status, headers,
body)``; the server wraps that into an HTTP response.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from xml.sax.saxutils import escape

Answer = tuple[int, dict[str, str], bytes]

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"

XML = "text/xml"
_counter = itertools.count(1)


def request_id() -> str:
    # A uuid-shaped counter: unique per process and far cheaper than uuid4().
    n = next(_counter)
    return f"00000000-0000-4000-8000-{n:012x}"


# -- query protocol (STS): XML answers wrapped in <ActionResponse><ActionResult>


def query_ok(action: str, result_xml: str, ns: str = STS_NS) -> Answer:
    rid = request_id()
    body = (
        f'<{action}Response xmlns="{ns}"><{action}Result>{result_xml}</{action}Result>'
        f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return 200, {"Content-Type": XML, "x-amzn-RequestId": rid}, body.encode()


def query_error(status: int, code: str, message: str, ns: str = STS_NS) -> Answer:
    rid = request_id()
    kind = "Receiver" if status >= 500 else "Sender"
    body = (
        f'<ErrorResponse xmlns="{ns}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{rid}</RequestId>"
        "</ErrorResponse>"
    )
    return status, {"Content-Type": XML, "x-amzn-RequestId": rid}, body.encode()


# -- ec2 protocol: <ActionResponse> with requestId, no Result wrapper; errors in
# <Response><Errors><Error>


def ec2_ok(action: str, inner_xml: str) -> Answer:
    rid = request_id()
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_NS}">'
        f"<requestId>{rid}</requestId>{inner_xml}</{action}Response>"
    )
    return 200, {"Content-Type": XML}, body.encode()


def ec2_error(status: int, code: str, message: str) -> Answer:
    rid = request_id()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>"
        f"<RequestID>{rid}</RequestID></Response>"
    )
    return status, {"Content-Type": XML}, body.encode()


# -- json protocol (1.0 DynamoDB, 1.1 Organizations): X-Amz-Target in, JSON out; errors
# carry "__type" (DynamoDB prefixes it with its namespace and "#", botocore strips that).


def json_ok(payload: dict[str, Any], version: str = "1.0") -> Answer:
    rid = request_id()
    return (
        200,
        {"Content-Type": f"application/x-amz-json-{version}", "x-amzn-RequestId": rid},
        json.dumps(payload, separators=(",", ":")).encode(),
    )


def json_error(
    status: int, code: str, message: str, version: str = "1.0", type_prefix: str = ""
) -> Answer:
    rid = request_id()
    payload = {"__type": f"{type_prefix}{code}", "message": message}
    return (
        status,
        {"Content-Type": f"application/x-amz-json-{version}", "x-amzn-RequestId": rid},
        json.dumps(payload, separators=(",", ":")).encode(),
    )


# -- rest-json (Lambda): plain JSON; errors name themselves in x-amzn-ErrorType


def rest_json_ok(payload: dict[str, Any]) -> Answer:
    rid = request_id()
    return (
        200,
        {"Content-Type": "application/json", "x-amzn-RequestId": rid},
        json.dumps(payload, separators=(",", ":")).encode(),
    )


def rest_json_error(status: int, code: str, message: str, **extra: str) -> Answer:
    rid = request_id()
    payload = {"Type": "User" if status < 500 else "Service", "message": message, **extra}
    headers = {
        "Content-Type": "application/json",
        "x-amzn-RequestId": rid,
        "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazonaws.fake/",
    }
    return status, headers, json.dumps(payload, separators=(",", ":")).encode()


# -- rest-xml (S3): bare XML documents; errors as <Error> at the root


def s3_ok(xml: str) -> Answer:
    rid = request_id()
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n{xml}'
    return 200, {"Content-Type": "application/xml", "x-amz-request-id": rid}, body.encode()


def s3_error(status: int, code: str, message: str, resource: str = "") -> Answer:
    rid = request_id()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{rid}</RequestId>"
        f"<HostId>fake</HostId></Error>"
    )
    return status, {"Content-Type": "application/xml", "x-amz-request-id": rid}, body.encode()


def error_in(protocol: str, status: int, code: str, message: str) -> Answer:
    """``code``/``message`` in a protocol's error shape: ``json`` (1.0), ``rest-json``,
    ``ec2``, ``s3`` (rest-xml) or ``query``."""
    if protocol == "json":
        return json_error(status, code, message)
    if protocol == "rest-json":
        return rest_json_error(status, code, message)
    if protocol == "ec2":
        return ec2_error(status, code, message)
    if protocol == "s3":
        return s3_error(status, code, message)
    return query_error(status, code, message)


INVALID_TOKEN = "The security token included in the request is invalid."


class TokenBucket:
    """A lazily refilled token bucket: ``burst`` tokens, ``rate`` more per second."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
