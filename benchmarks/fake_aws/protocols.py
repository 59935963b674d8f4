"""Wire encoders for the fake AWS endpoint: each service's success and error shapes.

The per-protocol encoders live in ``aiokit.testing._wire`` (the testing kit's fault proxy
speaks the same shapes); this module says which one each service uses, and how each service
words its throttles, disabled regions and server errors. Each function returns ``(status,
headers, body)``; the server wraps that into an HTTP response.
"""

from __future__ import annotations

from aiokit.testing._wire import (
    EC2_NS,
    INVALID_TOKEN,
    S3_NS,
    STS_NS,
    XML,
    Answer,
    ec2_error,
    ec2_ok,
    json_error,
    json_ok,
    query_error,
    query_ok,
    request_id,
    rest_json_error,
    rest_json_ok,
    s3_error,
    s3_ok,
)

__all__ = [
    "EC2_NS",
    "INVALID_TOKEN",
    "S3_NS",
    "STS_NS",
    "THROTTLE",
    "XML",
    "Answer",
    "ec2_error",
    "ec2_ok",
    "error_for",
    "json_error",
    "json_ok",
    "query_error",
    "query_ok",
    "region_disabled_error",
    "request_id",
    "rest_json_error",
    "rest_json_ok",
    "s3_error",
    "s3_ok",
    "server_error",
    "throttle_error",
]


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
