"""Pins on the botocore / aiobotocore internals aiokit relies on (see ``aiokit/_botocore.py``).

Each test fails when upstream changes the behaviour an override depends on.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import random
import sys
import threading
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
import pytest
from aiobotocore.client import AioBaseClient
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.parsers import AioResponseParserFactory
from aiobotocore.session import AioSession
from aiobotocore.signers import AioRequestSigner
from botocore.context import ClientContext, get_context
from botocore.parsers import QueryParser, ResponseParserFactory
from botocore.useragent import UserAgentString
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from dateutil.tz import tzutc

import aiokit
from aiokit._botocore import (
    LeanClientContext,
    SharedSSLHTTPSession,
    merge_config,
    shared_ssl_context,
    use_lean_client_context,
)
from aiokit._botocore.parsers import parse_timestamp
from aiokit.testing import TEST_CREDENTIALS

if TYPE_CHECKING:
    from tests.conftest import PlainClient

pytestmark = pytest.mark.asyncio


def test_signer_honours_per_request_credentials() -> None:
    source = inspect.getsource(AioRequestSigner.sign)
    assert "request_credentials" in source
    params = inspect.signature(AioRequestSigner.get_auth_instance).parameters
    assert "request_credentials" in params


def test_make_api_call_signature_and_before_call_context() -> None:
    assert list(inspect.signature(AioBaseClient._make_api_call).parameters) == [
        "self",
        "operation_name",
        "api_params",
    ]
    assert "before-call" in inspect.getsource(AioBaseClient._make_api_call)


def test_http_session_connector_hook_is_where_we_expect() -> None:
    params = list(inspect.signature(AIOHTTPSession._create_connector).parameters)
    assert params == ["self", "proxy_url"]
    session = SharedSSLHTTPSession(max_pool_connections=7)
    for name in ("_cert_file", "_verify", "_max_pool_connections", "_connector_args"):
        assert hasattr(session, name), name


async def test_shared_session_reuses_one_ssl_context() -> None:
    a = SharedSSLHTTPSession(max_pool_connections=3)._create_connector(None)
    b = SharedSSLHTTPSession(max_pool_connections=3)._create_connector(None)
    try:
        assert isinstance(a, aiohttp.TCPConnector)
        assert a._ssl is b._ssl
        assert a.limit == 3
    finally:
        await a.close()
        await b.close()


def test_merge_config_keeps_session_class_and_connector_args() -> None:
    base = AioConfig(connector_args={"keepalive_timeout": 3}, http_session_cls=SharedSSLHTTPSession)
    merged = merge_config(base, AioConfig(read_timeout=7, connector_args={"ttl_dns_cache": 5}))
    assert merged.http_session_cls is SharedSSLHTTPSession
    assert merged.connector_args == {"keepalive_timeout": 3, "ttl_dns_cache": 5}
    assert merged.read_timeout == 7
    assert "_user_provided_options" in vars(merged)


async def test_no_model_or_ca_file_is_read_on_the_event_loop(moto_endpoint: str) -> None:
    """Model JSON, endpoint data and the CA bundle load in worker threads only."""
    shared_ssl_context.cache_clear()
    loop_thread = threading.get_ident()
    opened_on_loop: list[str] = []
    active = True

    def hook(event: str, args: Any) -> None:
        if active and event == "open" and threading.get_ident() == loop_thread:
            path = str(args[0])
            if path.endswith((".json", ".json.gz", ".pem", ".crt")):
                opened_on_loop.append(path)

    sys.addaudithook(hook)
    try:
        async with aiokit.SessionPool(endpoint_url=moto_endpoint, region="eu-west-1") as pool:
            # Services this process may not have loaded yet, and a resource model.
            for service in ("cloudtrail", "kinesis", "sns"):
                await pool.client(service)
            await (await pool.client("sns")).list_topics()
            await pool.resource("sqs")
    finally:
        active = False  # audit hooks cannot be removed; this one goes quiet
    assert opened_on_loop == []


def _timestamp_cases() -> list[str]:
    """ISO 8601 strings in the shapes AWS sends, and shapes the fast path must hand back."""
    rng = random.Random(7)
    cases = []
    for _ in range(400):
        moment = datetime.datetime(2000, 1, 1) + datetime.timedelta(
            seconds=rng.randrange(0, 40 * 365 * 86400), microseconds=rng.randrange(10**6)
        )
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        digits = rng.choice([0, 1, 3, 6, 7, 9])
        if digits:
            text += "." + f"{moment.microsecond:06d}{rng.randrange(1000):03d}"[:digits]
        zone = rng.choice(["Z", "", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00"])
        cases.append(text + zone)
    return [
        *cases,
        "2024-02-29T23:59:59.999Z",
        "2024-02-30T10:20:30Z",  # no such day
        "2024-01-15T24:00:00Z",  # no such hour
        "2024-01-15T10:20:60Z",
        "2024-01-15 10:20:30Z",  # space, not T: dateutil's business
        "20240115T102030Z",
        "1700000000",
        "1700000000.5",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "not a date",
    ]


def _parsed(parse: Any, value: Any) -> Any:
    try:
        moment = parse(value)
    except ValueError:
        return ValueError
    return (moment, moment.utcoffset())


def test_parse_timestamp_gives_botocores_instants() -> None:
    for value in [*_timestamp_cases(), 1700000000, 1700000000.25]:
        assert _parsed(parse_timestamp, value) == _parsed(botocore_parse_timestamp, value), value
    utc = parse_timestamp("2024-01-15T10:20:30.5Z")
    assert utc == datetime.datetime(2024, 1, 15, 10, 20, 30, 500000, tzinfo=datetime.UTC)
    assert isinstance(utc.tzinfo, tzutc)
    assert parse_timestamp("2024-01-15T10:20:30").tzinfo is None


def test_parser_factory_hands_its_timestamp_parser_to_every_parser() -> None:
    assert issubclass(AioResponseParserFactory, ResponseParserFactory)
    factory = AioResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)
    parser = factory.create_parser("query")
    assert isinstance(parser, QueryParser)
    assert parser._timestamp_parser is parse_timestamp
    assert "response_parser_factory" in inspect.getsource(AioSession._create_client)


async def test_pool_clients_parse_timestamps_as_botocore_does(
    moto_endpoint: str, plain_client: PlainClient
) -> None:
    """The same S3 listing through a pool client and a plain aiobotocore client."""
    async with aiokit.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        s3 = await pool.client("s3")
        await s3.create_bucket(Bucket="stamps")
        for key in ("a", "b", "c"):
            await s3.put_object(Bucket="stamps", Key=key, Body=b"x")
        ours = (await s3.list_objects_v2(Bucket="stamps"))["Contents"]
    async with plain_client("s3") as plain:
        theirs = (await plain.list_objects_v2(Bucket="stamps"))["Contents"]
    assert [o["LastModified"] for o in ours] == [o["LastModified"] for o in theirs]
    assert all(isinstance(o["LastModified"], datetime.datetime) for o in ours)
    assert all(isinstance(o["LastModified"].tzinfo, tzutc) for o in ours)


async def test_user_agent_cache_keeps_each_requests_features(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """Cached User-Agent strings are the ones botocore builds, feature ids included."""
    s3 = await aiokit_pool.client("s3")
    creator = s3._user_agent_creator
    assert type(creator).__mro__[1] is UserAgentString  # the cache is installed
    sent: list[tuple[str, str]] = []

    def capture(request: Any, **_: Any) -> None:
        # Still inside the request's context: botocore's own, uncached, string for it.
        header = request.headers["User-Agent"]
        sent.append((header.decode(), UserAgentString.to_string(creator)))

    s3.meta.events.register("before-send.s3", capture)
    try:
        await s3.create_bucket(Bucket="agents")
        for _ in range(2):
            await s3.list_objects_v2(Bucket="agents")
            # A paginator's requests carry its feature id, as botocore's own paginator's do.
            pager = aiokit_pool.paginate("s3", "list_objects_v2", Bucket="agents")
            pages = [p async for p in pager]
            assert len(pages) == 1
    finally:
        s3.meta.events.unregister("before-send.s3", capture)
    assert len(sent) == 5
    for header, uncached in sent:
        assert header == uncached
    plain, paginated = sent[1][0], sent[2][0]
    assert plain != paginated  # the paginator's feature id is in one only
    assert [h for h, _ in sent[1:]] == [plain, paginated, plain, paginated]


async def test_lean_client_context_keeps_each_requests_features(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """In a task on a ``LeanClientContext`` (as fan-out workers are), requests report the
    same feature ids as on botocore's own, and none leaks from one request to the next."""
    assert [f.name for f in dataclasses.fields(ClientContext)] == ["features"]
    s3 = await aiokit_pool.client("s3")
    await s3.create_bucket(Bucket="lean-context")
    sent: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        sent.append(request.headers["User-Agent"].decode())

    async def calls() -> None:
        for _ in range(2):
            await s3.list_objects_v2(Bucket="lean-context")
            pager = aiokit_pool.paginate("s3", "list_objects_v2", Bucket="lean-context")
            assert len([p async for p in pager]) == 1

    async def on_lean_context() -> None:
        use_lean_client_context()
        assert type(get_context()) is LeanClientContext
        await calls()
        assert get_context().features == set()  # the task's own context stays empty

    s3.meta.events.register("before-send.s3", capture)
    try:
        await calls()
        async with anyio.create_task_group() as tg:
            tg.start_soon(on_lean_context)
    finally:
        s3.meta.events.unregister("before-send.s3", capture)
    assert get_context() is None or type(get_context()) is ClientContext  # not this task's
    assert len(sent) == 8
    assert sent[4:] == sent[:4]
    assert sent[0] != sent[1]  # the paginator's feature id is in one only


def _handler_source(method: Any) -> str:
    """The source of a botocore parser method; for a ``_text_content``-decorated scalar
    handler, the source of the handler it wraps (the decorator is pinned on its own)."""
    if method.__code__.co_name == "_get_text_content":
        (cell,) = method.__closure__
        method = cell.cell_contents
    return inspect.getsource(method)


def test_xml_parsing_is_the_code_aiokit_mirrors() -> None:
    """``aiokit/_botocore/parsers.py`` compiles botocore's XML walk (structures, lists, maps,
    scalars) into per-shape functions; if upstream changes any method mirrored there, the
    mirror must be reviewed (and its digest here updated)."""
    import hashlib

    from botocore import parsers

    xml = parsers.BaseXMLResponseParser
    for method, digest in (
        (xml._handle_structure, "b04ff87ceaf2c61a"),
        (xml._node_tag, "4b3f21d4cbc87aa8"),
        (xml._build_name_to_xml_node, "42c251a94a0c9ef2"),
        (xml._handle_list, "41ac489ed3db1561"),
        (parsers.BaseRestParser._handle_list, "3ee61b25a7e1f4fc"),
        (parsers.ResponseParser._handle_list, "33b3d475e3ad7683"),
        (parsers.ResponseParser._parse_shape, "448f05949c380e13"),
        (xml._handle_map, "7dbf5012e2928ee4"),
        (parsers._text_content, "1da47439c0441d31"),
        (xml._handle_string, "f4dcbcaf01e649d6"),
        (parsers.RestXMLParser._handle_string, "8dca2cf594bcfe50"),
        (parsers.BaseRestParser._handle_string, "3917c02c2c12b007"),
        (xml._handle_integer, "5fd523fa3bbcf611"),
        (xml._handle_float, "857343da735593b9"),
        (xml._handle_boolean, "459a4ce940092c84"),
        (xml._handle_timestamp, "4255955bf4afd963"),
        (xml._handle_blob, "e2f22cecfb3da1aa"),
    ):
        source = _handler_source(method)
        assert hashlib.sha256(source.encode()).hexdigest()[:16] == digest, method
    # The aliases the compiled walk relies on.
    assert xml._handle_long is xml._handle_integer
    assert xml._handle_double is xml._handle_float
    assert xml._handle_character is xml._handle_string


def test_aiokit_xml_parsers_use_the_handlers_aiokit_compiles() -> None:
    """Each aiokit XML parser class resolves every type's handler to the botocore function
    ``aiokit/_botocore/parsers.py`` mirrors (anything else would silently take the slow path)."""
    from botocore import parsers

    from aiokit._botocore.parsers import _LIST_HANDLERS, _MAP_HANDLERS, _SCALARS, ParserFactory

    for protocol in ("query", "ec2", "rest-xml"):
        parser_class = type(ParserFactory().create_parser(protocol))
        assert parser_class._handle_list in _LIST_HANDLERS
        assert parser_class._handle_map in _MAP_HANDLERS
        for type_name, (_, handlers) in _SCALARS.items():
            assert getattr(parser_class, f"_handle_{type_name}") in handlers, type_name
        expected_string = (
            parsers.RestXMLParser._handle_string
            if protocol == "rest-xml"
            else parsers.BaseXMLResponseParser._handle_string
        )
        assert parser_class._handle_string is expected_string


async def test_paginator_config_and_credential_clock_are_where_aiokit_reads_them(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """``_paginate`` builds botocore's paginator from ``client._cache['page_config']``
    (filled by ``can_paginate``); ``_pool`` hands role credentials a UTC clock."""
    from aiobotocore.credentials import AioDeferredRefreshableCredentials

    s3 = await aiokit_pool.client("s3")
    assert s3.can_paginate("list_objects_v2")
    assert "ListObjectsV2" in s3._cache["page_config"]
    assert s3._PY_TO_OP_NAME["list_objects_v2"] == "ListObjectsV2"
    params = inspect.signature(AioDeferredRefreshableCredentials.__init__).parameters
    assert "time_fetcher" in params


async def test_shared_retry_pools_drop_botocores_one_attempt_retry_handler(
    plain_client: PlainClient, aiokit_pool: aiokit.SessionPool
) -> None:
    """botocore registers its retry handler under the id aiokit unregisters it by; pool
    clients in the default (shared) retry mode have none, aiokit's limiter retries."""
    async with plain_client("sqs") as plain:
        assert "retry-config-sqs" in plain.meta.events._emitter._unique_id_handlers
    sqs = await aiokit_pool.client("sqs")
    assert "retry-config-sqs" not in sqs.meta.events._emitter._unique_id_handlers
    assert (await sqs.list_queues())["ResponseMetadata"]["HTTPStatusCode"] == 200


async def test_client_parts_that_emit_events_are_where_bound_events_rewire_them(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    # BoundEvents (aiokit/_clients.py) copies the emitter on the first change and points
    # the client's endpoint, endpoint resolver and signer at the copy; the signing handler
    # is found in botocore's prefix trie and replaced in place.
    from botocore.client import ClientMeta
    from botocore.hooks import NodeList, _PrefixTrie

    ddb = await aiokit_pool.client("dynamodb")
    raw = ddb._aiokit.raw.client
    assert "events" in vars(raw.meta) and "_client_config" in vars(raw.meta)
    assert inspect.getsource(ClientMeta.config.fget).strip().endswith("return self._client_config")
    for part in (raw._endpoint, raw._ruleset_resolver, raw._request_signer):
        assert hasattr(part, "_event_emitter"), type(part)
    assert "self._request_signer.handler" in inspect.getsource(
        type(raw).__mro__[-2]._register_handlers
    )
    emitter = raw.meta.events._emitter
    assert isinstance(emitter._handlers, _PrefixTrie)
    assert set(emitter._handlers._root) == {"chunk", "children", "values"}
    assert NodeList._fields == ("first", "middle", "last")
    assert "_lookup_cache" in vars(emitter)
    # Rewired: a handler on the bound client's copy sees requests the endpoint emits.
    seen: list[str] = []
    ddb.meta.events.register("before-send.dynamodb", lambda **_: seen.append("sent"))
    assert ddb._endpoint is not raw._endpoint
    assert ddb._endpoint.http_session is raw._endpoint.http_session  # connections shared
    assert ddb._request_signer.handler in emitter_handlers(
        ddb.meta.events, "request-created.dynamodb.X"
    )
    assert raw._request_signer.handler not in emitter_handlers(
        ddb.meta.events, "request-created.dynamodb.X"
    )
    await ddb.list_tables()
    assert seen == ["sent"]


def emitter_handlers(events: Any, name: str) -> list[Any]:
    return list(events._emitter._handlers.prefix_search(name))


def test_credential_providers_make_their_clients_through_the_session() -> None:
    # EndpointSession (aiokit/_botocore.py) gives those clients the pool's endpoint_url.
    from aiobotocore import credentials as aio_credentials

    params = list(inspect.signature(AioSession.create_client).parameters)
    assert params[:2] == ["self", "args"]  # create_client(*args, **kwargs)
    inner = list(inspect.signature(AioSession._create_client).parameters)
    assert inner.index("endpoint_url") == 6  # after self: the sixth positional
    assert "create_nested_client" in inspect.getsource(aio_credentials._get_client_creator)
    from aiobotocore.utils import create_nested_client

    assert "session.create_client(" in inspect.getsource(create_nested_client)
