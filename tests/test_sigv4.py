"""aiokit's SigV4 signer: botocore's signature, byte for byte.

Two ways: the same requests signed by both at the same instant give the same headers; and
a loopback server that checks every signature with botocore's own code accepts what pool
clients send over real HTTP.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp.web
import botocore.auth
import botocore.session
import pytest
import pytest_asyncio
from aiobotocore.credentials import AioCredentials
from aiobotocore.signers import AioRequestSigner
from botocore.auth import S3SigV4Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import (
    AWSRequest,
    HeadersDict,
    create_request_object,
    prepare_request_dict,
)
from botocore.compat import HAS_CRT
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.serialize import create_serializer

import aiokit
from aiokit._botocore.signers import LeanRequestSigner, LeanSigV4Auth
from aiokit.testing import serve_on_loopback

KEYS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////"

# (service, operation, params, endpoint): one shape per protocol and URL oddity
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "sts",
        "AssumeRole",
        {"RoleArn": "arn:aws:iam::123456789012:role/R", "RoleSessionName": "s p a c e"},
        "https://sts.us-east-1.amazonaws.com",
    ),
    (
        "ec2",
        "DescribeInstances",
        {"Filters": [{"Name": "tag:Name", "Values": ["a b", "ü~*"]}], "MaxResults": 5},
        "https://ec2.eu-west-1.amazonaws.com",
    ),
    (
        "dynamodb",
        "Query",
        {"TableName": "t", "KeyConditionExpression": "#k = :v", "Limit": 3},
        "http://127.0.0.1:4566",
    ),
    ("lambda", "ListFunctions", {"MaxItems": 5, "Marker": "x y/z+&="}, "https://[::1]:8443"),
    ("apigateway", "GetRestApi", {"restApiId": "a b/ü~"}, "https://apigateway.amazonaws.com:443"),
    (
        "route53",
        "ListResourceRecordSets",
        {"HostedZoneId": "Z1", "StartRecordName": "www.example.com.", "StartRecordType": "A"},
        "https://route53.amazonaws.com",
    ),
    (
        "sqs",
        "ListQueues",
        {"QueueNamePrefix": "q"},
        "https://sqs.us-east-1.amazonaws.com/a/../b//c",
    ),
]


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime.datetime]]:
    """botocore.auth's clock, set by the test: both signers read it."""
    now = [datetime.datetime(2026, 11, 22, 23, 59, 59)]
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now[0])
    yield now


def _request(service: str, operation: str, params: dict[str, Any], endpoint: str) -> AWSRequest:
    model = botocore.session.get_session().get_service_model(service)
    serializer = create_serializer(model.metadata["protocol"], include_validation=True)
    request_dict = serializer.serialize_to_request(params, model.operation_model(operation))
    prepare_request_dict(request_dict, endpoint_url=endpoint)
    request = create_request_object(request_dict)
    request.headers["User-Agent"] = "aiokit-test"  # not signed
    request.headers["X-Amz-Meta-Spaced"] = "  a   b \t c  "  # signed, whitespace trimmed
    return request


def _signed_both(
    request: AWSRequest, credentials: ReadOnlyCredentials, service: str, region: str
) -> tuple[AWSRequest, AWSRequest]:
    ours, theirs = _copy(request), _copy(request)
    LeanSigV4Auth(credentials, service, region).add_auth(ours)
    SigV4Auth(credentials, service, region).add_auth(theirs)
    return ours, theirs


def _copy(request: AWSRequest) -> AWSRequest:
    clone = AWSRequest(
        method=request.method,
        url=request.url,
        headers=dict(request.headers.items()),
        data=request.data,
        params=request.params,
    )
    clone.context = dict(request.context)
    return clone


@pytest.mark.parametrize("token", [None, TOKEN], ids=["keys", "session-token"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_the_signature_is_botocores(
    case: tuple[str, str, dict[str, Any], str], token: str | None, frozen_clock: Any
) -> None:
    credentials = ReadOnlyCredentials(*KEYS, token)
    ours, theirs = _signed_both(_request(*case), credentials, case[0], "eu-west-1")
    assert ours.headers["Authorization"] == theirs.headers["Authorization"]
    assert dict(ours.headers.items()) == dict(theirs.headers.items())
    assert ours.context["timestamp"] == theirs.context["timestamp"] == "20261122T235959Z"


def test_cached_signing_keys_follow_date_region_service_and_secret(frozen_clock: Any) -> None:
    """The derived key is remembered; a new day, region, service or secret gets its own."""
    request = _request(*CASES[0])
    signatures = set()
    for day, region, service, secret in [
        (22, "us-east-1", "sts", KEYS[1]),
        (23, "us-east-1", "sts", KEYS[1]),  # the clock passed midnight
        (23, "eu-west-1", "sts", KEYS[1]),
        (23, "eu-west-1", "iam", KEYS[1]),
        (23, "eu-west-1", "iam", "another-secret"),
        (22, "us-east-1", "sts", KEYS[1]),  # back to the first: its key again
    ]:
        frozen_clock[0] = datetime.datetime(2026, 11, day, 0, 0, 1)
        credentials = ReadOnlyCredentials(KEYS[0], secret, None)
        for _ in range(2):  # the second signing uses the remembered key
            ours, theirs = _signed_both(request, credentials, service, region)
            assert ours.headers["Authorization"] == theirs.headers["Authorization"]
        signatures.add(ours.headers["Authorization"])
    assert len(signatures) == 5


@pytest.mark.asyncio
async def test_only_plain_sigv4_is_replaced() -> None:
    signer = AioRequestSigner(
        service_id=botocore.session.get_session().get_service_model("s3").service_id,
        region_name="us-east-1",
        signing_name="s3",
        signature_version="v4",
        credentials=AioCredentials(*KEYS),
        event_emitter=botocore.session.get_session().get_component("event_emitter"),
    )
    signer.__class__ = LeanRequestSigner
    plain = await signer.get_auth_instance("sqs", "us-east-1", "v4")
    s3 = await signer.get_auth_instance("s3", "us-east-1", "s3v4")
    presign = await signer.get_auth_instance("sqs", "us-east-1", "v4-query")
    assert type(plain) is LeanSigV4Auth
    # the others are whatever botocore maps them to: its own classes, or the CRT's
    assert type(s3) is botocore.auth.AUTH_TYPE_MAPS["s3v4"]
    assert type(presign) is botocore.auth.AUTH_TYPE_MAPS["v4-query"]
    if not HAS_CRT:
        assert type(s3) is S3SigV4Auth
        assert type(presign) is SigV4QueryAuth


# -- over real HTTP: a server that checks each signature with botocore -------------------


class VerifyingServer:
    """Answers a few operations, after checking the request's SigV4 signature with
    botocore's ``SigV4Auth`` over what arrived on the wire."""

    def __init__(self) -> None:
        self.verified = 0
        self.rejected: list[str] = []
        self.url = ""

    async def handle(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        body = await request.read()
        authorization = request.headers["Authorization"]
        credential = authorization.split("Credential=")[1].split(",")[0]
        key_id, _, region, service, _ = credential.split("/")
        signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
        signature = authorization.split("Signature=")[1]
        wire = AWSRequest(
            method=request.method,
            url=f"http://{request.headers['Host']}{request.raw_path}",
            data=body,
        )
        for name in signed_names:  # every value of a header sent more than once
            if name != "host":
                for value in request.headers.getall(name):
                    wire.headers[name] = value  # HTTPHeaders: adds another
        wire.context["timestamp"] = request.headers["X-Amz-Date"]
        auth = SigV4Auth(Credentials(key_id, KEYS[1]), service, region)
        canonical = auth.canonical_request(wire)
        expected = auth.signature(auth.string_to_sign(wire, canonical), wire)
        if signature != expected or key_id != KEYS[0]:
            self.rejected.append(f"{service} {request.method} {request.raw_path}")
            return aiohttp.web.Response(
                status=403,
                content_type="application/x-amz-json-1.0",
                text=json.dumps({"__type": "InvalidSignatureException", "message": "bad"}),
            )
        self.verified += 1
        if service == "sts":
            return aiohttp.web.Response(
                content_type="text/xml",
                text=(
                    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                    "<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/u</Arn>"
                    "<UserId>AIDA</UserId><Account>123456789012</Account>"
                    "</GetCallerIdentityResult></GetCallerIdentityResponse>"
                ),
            )
        if service == "dynamodb":
            return aiohttp.web.Response(
                content_type="application/x-amz-json-1.0", text='{"TableNames": ["t"]}'
            )
        return aiohttp.web.Response(content_type="application/json", text='{"Functions": []}')


@pytest_asyncio.fixture
async def verifying_server() -> AsyncIterator[VerifyingServer]:
    server = VerifyingServer()
    async with serve_on_loopback(server.handle) as server.url:
        yield server


@pytest.mark.asyncio
async def test_pool_clients_signatures_check_out_on_the_wire(
    verifying_server: VerifyingServer,
) -> None:
    async with aiokit.SessionPool(
        endpoint_url=verifying_server.url,
        region="eu-west-1",
        credentials=aiokit.StaticKeys(KEYS[0], KEYS[1]),
    ) as pool:
        sts = await pool.client("sts")
        ddb = await pool.client("dynamodb")
        lam = await pool.client("lambda")
        assert type(sts._request_signer) is LeanRequestSigner
        for _ in range(2):
            identity = await sts.get_caller_identity()
            tables = await ddb.list_tables(ExclusiveStartTableName="a b", Limit=5)
            functions = await lam.list_functions(MaxItems=5, Marker="x y/z+&=ü")
    assert identity["Account"] == "123456789012"
    assert tables["TableNames"] == ["t"]
    assert functions["Functions"] == []
    assert verifying_server.rejected == []
    assert verifying_server.verified == 6


# -- with awscrt installed (boto3[crt]): botocore maps v4 to its CRT signer ---------------

needs_crt = pytest.mark.skipif(
    not HAS_CRT, reason="awscrt is not installed (the [test] extra has it)"
)


def _lean_signer() -> LeanRequestSigner:
    signer = AioRequestSigner(
        service_id=botocore.session.get_session().get_service_model("sqs").service_id,
        region_name="us-east-1",
        signing_name="sqs",
        signature_version="v4",
        credentials=AioCredentials(*KEYS),
        event_emitter=botocore.session.get_session().get_component("event_emitter"),
    )
    signer.__class__ = LeanRequestSigner
    return signer  # type: ignore[return-value]


@needs_crt
@pytest.mark.asyncio
async def test_plain_v4_is_aiokits_signer_when_botocore_would_use_the_crts() -> None:
    from botocore.crt.auth import CrtSigV4Auth

    assert botocore.auth.AUTH_TYPE_MAPS["v4"] is CrtSigV4Auth  # what botocore does with awscrt
    auth = await _lean_signer().get_auth_instance("sqs", "eu-west-1", "v4")
    assert type(auth) is LeanSigV4Auth
    assert (auth._service_name, auth._region_name) == ("sqs", "eu-west-1")
    assert (auth.credentials.access_key, auth.credentials.secret_key) == KEYS
    # the default signature version of the signer is v4 too
    assert type(await _lean_signer().get_auth_instance("sqs", "eu-west-1")) is LeanSigV4Auth


@needs_crt
@pytest.mark.asyncio
async def test_other_crt_signers_stay_the_crts_and_still_sign() -> None:
    from botocore.crt.auth import CrtS3SigV4Auth, CrtSigV4AsymAuth, CrtSigV4QueryAuth

    signer = _lean_signer()
    v4a = await signer.get_auth_instance("s3", "*", "v4a")
    s3 = await signer.get_auth_instance("s3", "us-east-1", "s3v4")
    presign = await signer.get_auth_instance("sqs", "us-east-1", "v4-query")
    assert type(v4a) is CrtSigV4AsymAuth
    assert type(s3) is CrtS3SigV4Auth
    assert type(presign) is CrtSigV4QueryAuth
    request = _request(*CASES[2])
    v4a.add_auth(request)
    assert request.headers["Authorization"].startswith("AWS4-ECDSA-P256-SHA256 Credential=")
    assert request.headers["X-Amz-Region-Set"] == "*"


@needs_crt
@pytest.mark.parametrize("token", [None, TOKEN], ids=["keys", "session-token"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_the_signature_is_the_crts_too(
    case: tuple[str, str, dict[str, Any], str],
    token: str | None,
    frozen_clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CRT signer aiokit replaces gives the same Authorization header."""
    import botocore.crt.auth
    from botocore.crt.auth import CrtSigV4Auth

    # the CRT signer reads its own clock, timezone-aware
    now = frozen_clock[0].replace(tzinfo=datetime.UTC)
    monkeypatch.setattr(botocore.crt.auth, "get_current_datetime", lambda **_: now)
    credentials = ReadOnlyCredentials(*KEYS, token)
    ours, crts = _copy(_request(*case)), _copy(_request(*case))
    LeanSigV4Auth(credentials, case[0], "eu-west-1").add_auth(ours)
    CrtSigV4Auth(credentials, case[0], "eu-west-1").add_auth(crts)
    assert ours.headers["Authorization"] == crts.headers["Authorization"]
    assert ours.headers["X-Amz-Date"] == crts.headers["X-Amz-Date"]


@pytest.mark.asyncio
async def test_pool_clients_sign_v4_with_aiokits_signer_on_the_wire(
    verifying_server: VerifyingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every v4 request a pool client sends is signed by LeanSigV4Auth, awscrt or not."""
    signed_by: list[str] = []
    lean_add_auth = LeanSigV4Auth.add_auth

    def counting_add_auth(self: LeanSigV4Auth, request: Any) -> None:
        signed_by.append(type(self).__name__)
        lean_add_auth(self, request)

    monkeypatch.setattr(LeanSigV4Auth, "add_auth", counting_add_auth)
    if HAS_CRT:
        from botocore.crt.auth import CrtSigV4Auth

        crt_add_auth = CrtSigV4Auth.add_auth

        def crt_counting_add_auth(self: Any, request: Any) -> None:
            signed_by.append(type(self).__name__)
            crt_add_auth(self, request)

        monkeypatch.setattr(CrtSigV4Auth, "add_auth", crt_counting_add_auth)
    async with aiokit.SessionPool(
        endpoint_url=verifying_server.url,
        region="eu-west-1",
        credentials=aiokit.StaticKeys(KEYS[0], KEYS[1]),
    ) as pool:
        sts = await pool.client("sts")
        ddb = await pool.client("dynamodb")
        await sts.get_caller_identity()
        await ddb.list_tables(Limit=5)
    assert verifying_server.rejected == []
    assert verifying_server.verified == 2
    assert signed_by == ["LeanSigV4Auth", "LeanSigV4Auth"]


# -- a header sent twice ---------------------------------------------------------------------


def _with_repeated_headers(case: tuple[str, str, dict[str, Any], str]) -> AWSRequest:
    request = _request(*case)
    request.headers["X-Amz-Meta-Twice"] = "one"
    request.headers["X-Amz-Meta-Twice"] = " two  words "  # HTTPHeaders keeps both
    request.headers.add_header("x-amz-meta-cased", "A")
    request.headers.add_header("X-AMZ-META-CASED", "B")
    return request


@pytest.mark.parametrize("case", CASES[:3], ids=[f"{c[0]}-{c[1]}" for c in CASES[:3]])
def test_a_header_given_twice_is_signed_as_it_is_sent(
    case: tuple[str, str, dict[str, Any], str], frozen_clock: Any
) -> None:
    """The one place aiokit's signature is not botocore's, on purpose.

    botocore's prepared request keeps one value per header name (the last one), and that
    is what goes on the wire; botocore's signer signs every value, comma-joined, so AWS
    refuses the request. aiokit signs what is sent: botocore's signature of the request
    as prepared.
    """
    credentials = ReadOnlyCredentials(*KEYS, TOKEN)
    ours = _with_repeated_headers(case)
    LeanSigV4Auth(credentials, case[0], "eu-west-1").add_auth(ours)
    sent = _with_repeated_headers(case)
    folded = HeadersDict(sent.headers.items())  # what AWSRequest.prepare() sends
    assert folded["X-Amz-Meta-Twice"] == " two  words " and folded["x-amz-meta-cased"] == "B"
    as_sent = AWSRequest(sent.method, sent.url, data=sent.data, params=sent.params)
    for name, value in folded.items():
        as_sent.headers[name] = value
    SigV4Auth(credentials, case[0], "eu-west-1").add_auth(as_sent)
    assert ours.headers["Authorization"] == as_sent.headers["Authorization"]


@pytest.mark.asyncio
async def test_a_header_added_twice_by_a_handler_checks_out_on_the_wire(
    verifying_server: VerifyingServer,
) -> None:
    """Where a plain aiobotocore client is refused (InvalidSignatureException)."""

    def twice(request: Any, **_: Any) -> None:
        request.headers.add_header("X-Amz-Meta-Twice", "one")
        request.headers.add_header("X-Amz-Meta-Twice", "two")

    async with aiokit.SessionPool(
        endpoint_url=verifying_server.url,
        region="eu-west-1",
        credentials=aiokit.StaticKeys(KEYS[0], KEYS[1]),
    ) as pool:
        ddb = await pool.client("dynamodb")
        ddb.meta.events.register("before-sign.dynamodb.ListTables", twice)
        tables = await ddb.list_tables(Limit=5)
    assert tables["TableNames"] == ["t"]
    assert verifying_server.rejected == []
