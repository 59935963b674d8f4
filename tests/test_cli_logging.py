"""The CLI's log redaction and one-line warnings, on the shapes botocore's records take."""

from __future__ import annotations

import io
import logging

import pytest

from aiokit.cli._logging import configure_logging, redact

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ=="
KEY_ID = "ASIAIOSFODNN7EXAMPLE"
SIGNATURE = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"

SHAPES = {
    "xml-answer": f"<Credentials><AccessKeyId>{KEY_ID}</AccessKeyId><SecretAccessKey>{SECRET}"
    f"</SecretAccessKey><SessionToken>{TOKEN}</SessionToken></Credentials>",
    "headers-repr": f"{{'X-Amz-Security-Token': b'{TOKEN}', 'Authorization': b'AWS4-HMAC-SHA256 "
    f"Credential={KEY_ID}/20261201/us-east-1/sqs/aws4_request, SignedHeaders=host, "
    f"Signature={SIGNATURE}'}}",
    "canonical-request": f"host:sqs.us-east-1.amazonaws.com\nx-amz-security-token:{TOKEN}\n",
    "signature-line": f"Signature:\n{SIGNATURE}",
    "presigned-url": f"https://b.s3.amazonaws.com/k?X-Amz-Credential={KEY_ID}%2F2026&"
    f"X-Amz-Security-Token={TOKEN}&X-Amz-Signature={SIGNATURE}",
    "json-answer": f'{{"roleCredentials": {{"accessKeyId": "{KEY_ID}", "secretAccessKey": '
    f'"{SECRET}", "sessionToken": "{TOKEN}"}}}}',
    "credential-dict": f"{{'access_key': '{KEY_ID}', 'secret_key': '{SECRET}', "
    f"'token': '{TOKEN}', 'expiry_time': '2099-01-01'}}",
    "config-file": f"aws_secret_access_key = {SECRET}\naws_session_token={TOKEN}",
    # botocore.endpoint's record of an AssumeRole request: external id and MFA code.
    "assume-role-params": "{'body': {'Action': 'AssumeRole', 'RoleArn': 'arn:aws:iam::1:role/R'"
    f", 'ExternalId': '{SECRET}', 'SerialNumber': 'arn:aws:iam::1:mfa/me', "
    f"'TokenCode': '{TOKEN}'}}",
    "assume-role-body": f"Action=AssumeRole&ExternalId={SECRET}&TokenCode={TOKEN}&Version=1",
    "profile-config": f"external_id = {SECRET}",
}


@pytest.mark.parametrize("text", SHAPES.values(), ids=SHAPES.keys())
def test_every_shape_of_secret_is_redacted(text: str) -> None:
    cleaned = redact(text)
    for secret in (SECRET, TOKEN, KEY_ID, SIGNATURE):
        assert secret not in cleaned
    assert "***" in cleaned


def test_what_is_not_secret_is_left_alone() -> None:
    text = (
        "{'NextToken': 'page-2', 'QueueUrls': ['https://q'], 'MaxResults': 5} "
        "The security token included in the request is invalid. AuthorizationError: no"
    )
    assert redact(text) == text


def test_warnings_are_one_line_once_and_tracebacks_only_with_debug() -> None:
    stream = io.StringIO()
    handler = configure_logging(False, stream)
    try:
        log = logging.getLogger("botocore.credentials")
        for _ in range(3):
            try:
                raise RuntimeError(f"refresh failed\nfor token={TOKEN}")
            except RuntimeError:
                log.warning("Refreshing temporary credentials failed.", exc_info=True)
        logging.getLogger("botocore.endpoint").debug("Sending %s", TOKEN)  # below WARNING
        assert stream.getvalue().splitlines() == [
            "warning: Refreshing temporary credentials failed. "
            "(RuntimeError: refresh failed for token=***)"
        ]

        stream = io.StringIO()
        logging.getLogger().removeHandler(handler)
        handler = configure_logging(True, stream)
        try:
            raise RuntimeError(f"token={TOKEN}")
        except RuntimeError:
            log.warning("failed", exc_info=True)
        logging.getLogger("botocore.endpoint").debug("Sending %s", f"Signature={SIGNATURE}")
        text = stream.getvalue()
        assert "Traceback" in text and "DEBUG botocore.endpoint" in text
        assert TOKEN not in text and SIGNATURE not in text
    finally:
        root = logging.getLogger()
        root.removeHandler(handler)
        root.setLevel(logging.WARNING)
        logging.captureWarnings(False)
