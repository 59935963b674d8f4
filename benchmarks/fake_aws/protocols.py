"""Wire encoders for the fake AWS endpoint: each service's success and error shapes.

Everything is string templates (no XML/JSON framework on the hot path) so one request
costs tens of microseconds.  The shapes follow botocore's service models (element names,
XML namespaces, ``__type`` forms, error headers) closely enough that unmodified botocore
parses every answer, error codes included.  Each function returns ``(status, headers,
body)``; the server wraps that into an HTTP response.
"""

from __future__ import annotations

import itertools
import json
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


# -- one error, said in each protocol's own words


def error_for(service: str, status: int, code: str, message: str) -> Answer:
    """``code``/``message`` encoded the way ``service`` reports errors."""
    if service == "ec2":
        return ec2_error(status, code, message)
    if service == "dynamodb":
        return json_error(status, code, message, "1.0", "com.amazonaws.dynamodb.v20120810#")
    if service == "organizations":
        return json_error(status, code, message, "1.1")
    if service == "lambda":
        return rest_json_error(status, code, message)
    if service == "s3":
        return s3_error(status, code, message)
    # sts and anything unknown: the query protocol's XML error
    return query_error(status, code, message)


THROTTLE: dict[str, tuple[int, str, str]] = {
    # service -> (HTTP status, error code, message) as each service really answers
    "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
    "dynamodb": (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "sts": (400, "Throttling", "Rate exceeded"),
    "organizations": (
        400,
        "TooManyRequestsException",
        "AWS Organizations can't complete your request because it was throttled. Try again later.",
    ),
    "lambda": (429, "TooManyRequestsException", "Rate exceeded"),
    "s3": (503, "SlowDown", "Please reduce your request rate."),
}


def throttle_error(service: str, retry_after_ms: int = 0) -> Answer:
    status, code, message = THROTTLE.get(service, THROTTLE["sts"])
    if service == "lambda":
        status, headers, body = rest_json_error(
            status, code, message, Reason="CallerRateLimitExceeded"
        )
    else:
        status, headers, body = error_for(service, status, code, message)
    if retry_after_ms > 0:
        headers["x-amz-retry-after"] = str(retry_after_ms)
    return status, headers, body


INVALID_TOKEN = "The security token included in the request is invalid."


def region_disabled_error(service: str) -> Answer:
    """What AWS answers a call into a region the caller's account has not enabled."""
    if service == "ec2":
        return ec2_error(
            401, "AuthFailure", "AWS was not able to validate the provided access credentials"
        )
    if service == "sts":
        return query_error(403, "InvalidClientTokenId", INVALID_TOKEN)
    if service == "dynamodb":
        # DynamoDB answers every client error, this one included, with HTTP 400.
        return error_for(service, 400, "UnrecognizedClientException", INVALID_TOKEN)
    if service == "s3":
        return s3_error(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    return error_for(service, 403, "UnrecognizedClientException", INVALID_TOKEN)


def server_error(service: str, status: int) -> Answer:
    """The injected 500/503 faults, in the service's error shape."""
    if status == 503:
        return error_for(
            service,
            503,
            "ServiceUnavailable",
            "The service is unavailable. Please try again shortly.",
        )
    return error_for(
        service, 500, "InternalError", "An internal error has occurred. Please try again."
    )
