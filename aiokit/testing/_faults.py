"""A fault-injecting HTTP proxy in front of an AWS emulator (moto), on 127.0.0.1.

Put it between the code under test and moto to see how that code behaves when AWS
throttles, answers 500s, resets or stalls connections, denies a role, has a region disabled
or lets credentials expire: point the code's ``endpoint_url`` (a ``SessionPool``'s, or
boto3's) at :attr:`FaultProxy.endpoint_url`; every request it does not fault goes on to
moto unchanged, and its answer comes back unchanged.

Faults are decided from what the request says, as AWS would: the access key, region and
service of the SigV4 ``Authorization`` header's credential scope, the ``RoleArn`` of an
STS ``AssumeRole`` body. Error answers are encoded in the service's protocol (EC2 XML,
query XML, S3 XML, JSON, REST-JSON), so botocore parses them into the codes AWS sends.

The proxy serves from a thread of its own (its own event loop), so it works under any test
runner, sync or async code, and stops with its context manager, its fixture, or the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._exceptions import ConfigurationError
from ._organization import MANAGEMENT_ACCOUNT
from ._wire import INVALID_TOKEN, Answer, TokenBucket, error_in

__all__ = ["FaultProxy", "FaultStatistics", "aws_faults"]

# (HTTP status, headers, body)

FAULT_KINDS = ("throttle", "error", "reset", "stall", "denied", "region_disabled", "expired")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "expect",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
}
_ACCESS_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")


@dataclasses.dataclass(frozen=True)
class FaultStatistics:
    """What the proxy saw since it was last configured or reset.

    Attributes:
        requests: AWS requests received (moto's own ``/moto-api`` calls not counted).
        forwarded: requests passed on to the upstream endpoint (stalled ones included).
        throttles: requests answered with a throttling error.
        faults: injected faults by kind: ``throttle``, ``error`` (HTTP 500), ``reset``,
            ``stall``, ``denied`` (AssumeRole refused), ``region_disabled``, ``expired``.
    """

    requests: int
    forwarded: int
    throttles: int
    faults: Mapping[str, int]


@dataclasses.dataclass(frozen=True)
class _Faults:
    throttle: Mapping[str, tuple[float, float]]
    fail_rate: float
    reset_rate: float
    stall_rate: float
    stall_seconds: float
    deny_accounts: frozenset[str]
    disable_regions: frozenset[str]
    disable_regions_by_account: Mapping[str, frozenset[str]]
    expire_credentials_after: float | None
    seed: int


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _rate(name: str, value: float) -> float:
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ConfigurationError(f"aws_faults: {name} must be a fraction in [0, 1], not {value!r}")
    return float(value)


def _seconds(name: str, value: object, *, finite: bool = True) -> float:
    """Seconds >= 0; finite for a stall (an infinite one would hold its test forever)."""
    top = math.inf if finite else math.nan
    if not _is_number(value) or not 0.0 <= value or value == top:  # type: ignore[operator]
        raise ConfigurationError(f"aws_faults: {name} must be seconds >= 0, not {value!r}")
    return float(value)  # type: ignore[arg-type]


def _ids(name: str, value: object, what: str) -> frozenset[str]:
    """A collection of ids or names (one string is refused: it would be its characters)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ConfigurationError(f"aws_faults: {name} must be a list of {what}, not {value!r}")
    return frozenset(str(v) for v in value)


def _build(
    *,
    throttle: Mapping[str, tuple[float, float]] | None,
    fail_rate: float,
    reset_rate: float,
    stall_rate: float,
    stall_seconds: float,
    deny_accounts: Iterable[str],
    disable_regions: Iterable[str] | Mapping[str, Iterable[str]],
    expire_credentials_after: float | None,
    seed: int,
) -> _Faults:
    buckets: dict[str, tuple[float, float]] = {}
    if throttle is not None and not isinstance(throttle, Mapping):
        raise ConfigurationError(
            f"aws_faults: throttle must be {{service: (rate, burst)}}, not {throttle!r}"
        )
    for service, spec in (throttle or {}).items():
        if not isinstance(service, str) or not service:
            raise ConfigurationError(
                f"aws_faults: throttle's keys are service signing names ('sqs', '*'), "
                f"not {service!r}"
            )
        try:
            rate, burst = spec
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"aws_faults: throttle[{service!r}] must be (rate per second, burst), not {spec!r}"
            ) from None
        if not (_is_number(rate) and _is_number(burst)) or not rate > 0 or not burst >= 1:
            raise ConfigurationError(
                f"aws_faults: throttle[{service!r}] needs a rate > 0 and a burst >= 1, not {spec!r}"
            )
        buckets[service] = (float(rate), float(burst))
    rates = {n: _rate(n, v) for n, v in [("fail_rate", fail_rate), ("reset_rate", reset_rate)]}
    rates["stall_rate"] = _rate("stall_rate", stall_rate)
    if sum(rates.values()) > 1.0:
        raise ConfigurationError("aws_faults: fail_rate + reset_rate + stall_rate exceed 1")
    stall_seconds = _seconds("stall_seconds", stall_seconds)
    if expire_credentials_after is not None:
        expire_credentials_after = _seconds(
            "expire_credentials_after", expire_credentials_after, finite=False
        )
    denied = _ids("deny_accounts", deny_accounts, "account ids")
    everywhere: frozenset[str] = frozenset()
    by_account: dict[str, frozenset[str]] = {}
    if isinstance(disable_regions, Mapping):
        by_account = {
            str(a): _ids(f"disable_regions[{a!r}]", r, "regions")
            for a, r in disable_regions.items()
        }
    else:
        everywhere = _ids("disable_regions", disable_regions, "regions")
    return _Faults(
        throttle=buckets,
        fail_rate=rates["fail_rate"],
        reset_rate=rates["reset_rate"],
        stall_rate=rates["stall_rate"],
        stall_seconds=float(stall_seconds),
        deny_accounts=denied,
        disable_regions=everywhere,
        disable_regions_by_account=by_account,
        expire_credentials_after=expire_credentials_after,
        seed=seed,
    )


# -- the errors, each in the protocol the request came in


def _request_protocol(service: str, headers: Mapping[str, str]) -> str:
    if service == "s3":
        return "s3"
    if service == "ec2":
        return "ec2"
    content_type = headers.get("Content-Type", "")
    if "x-amz-json" in content_type or "X-Amz-Target" in headers:
        return "json"
    if "x-www-form-urlencoded" in content_type:
        return "query"
    return "rest-json"


_THROTTLE = {
    # service -> (HTTP status, code) as each answers; else by protocol
    "ec2": (503, "RequestLimitExceeded"),
    "s3": (503, "SlowDown"),
    "dynamodb": (400, "ThrottlingException"),
    "organizations": (400, "TooManyRequestsException"),
    "sts": (400, "Throttling"),
}
_THROTTLE_BY_PROTOCOL = {
    "query": (400, "Throttling"),
    "json": (400, "ThrottlingException"),
    "rest-json": (429, "TooManyRequestsException"),
}


def _throttle_error(service: str, protocol: str) -> Answer:
    status, code = _THROTTLE.get(service) or _THROTTLE_BY_PROTOCOL[protocol]
    return error_in(protocol, status, code, "Rate exceeded")


def _region_disabled_error(service: str, protocol: str) -> Answer:
    """What AWS answers a call into a region the caller's account has not enabled."""
    if protocol == "ec2":
        return error_in(
            protocol,
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
        )
    if protocol == "s3":
        return error_in(
            protocol,
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    if protocol == "query":
        return error_in(protocol, 403, "InvalidClientTokenId", INVALID_TOKEN)
    # DynamoDB (JSON) answers every client error, this one included, with HTTP 400.
    status = 400 if protocol == "json" else 403
    return error_in(protocol, status, "UnrecognizedClientException", INVALID_TOKEN)


def _expired_error(protocol: str) -> Answer:
    if protocol in ("json", "rest-json"):
        return error_in(
            protocol,
            400,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        )
    return error_in(
        protocol, 400, "ExpiredToken", "The security token included in the request is expired"
    )


def _scope(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str, str, str]:
    """(access key, region, service) of a SigV4 request: header or presigned query."""
    authorization = headers.get("Authorization", "")
    start = authorization.find("Credential=")
    if start >= 0:
        end = authorization.find(",", start)
        credential = authorization[start + 11 : end if end >= 0 else None].strip()
    else:
        credential = query.get("X-Amz-Credential", "")
    parts = credential.split("/")
    if len(parts) < 5:
        return (parts[0] if parts else ""), "", ""
    return parts[0], parts[2], parts[3]


def _form(body: bytes) -> dict[str, str]:
    try:
        return {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        return {}


class FaultProxy:
    """A fault-injecting HTTP proxy on 127.0.0.1 in front of ``upstream`` (moto's URL).

    Use it as a context manager, sync or async (``with`` / ``async with``), or through
    the ``aws_faults`` pytest fixture; it starts when entered or when
    :attr:`endpoint_url` is first read, and stops on exit.

    Parameters (each also accepted by :meth:`configure`):
        upstream: the AWS emulator's URL; must be on loopback.
        throttle: ``{service: (rate, burst)}``: a token bucket per (account, region,
            service) scope, ``rate`` requests per second with ``burst`` at once; a request
            finding it empty gets the service's throttling error. ``"*"`` is any service.
            The service is the signing name of the credential scope (``ec2``, ``sqs``...).
        fail_rate: the fraction of requests answered HTTP 500 ``InternalError``.
        reset_rate: the fraction whose connection is reset (TCP RST, no answer).
        stall_rate: the fraction held ``stall_seconds`` before they are passed on.
        stall_seconds: how long a stalled request is held.
        deny_accounts: account ids into which ``sts:AssumeRole`` is refused with
            ``AccessDenied``.
        disable_regions: regions every account has disabled, or ``{account: regions}``;
            requests signed for them get the answer AWS gives for a region not enabled
            (``AuthFailure`` from EC2, ``InvalidClientTokenId`` / ``UnrecognizedClientException``
            elsewhere). The account of a request is the one whose role issued its keys;
            other keys are the management account's (moto's ``123456789012``).
        expire_credentials_after: seconds after the proxy first sees an access key (or
            issues it, for AssumeRole) from which requests signed with it get
            ``ExpiredToken`` (``ExpiredTokenException`` on JSON services).
        seed: the seed of the random draws for ``*_rate`` faults (reproducible runs).

    Raises:
        ConfigurationError: a parameter out of range, or an upstream not on loopback.
    """

    def __init__(
        self,
        upstream: str,
        *,
        throttle: Mapping[str, tuple[float, float]] | None = None,
        fail_rate: float = 0.0,
        reset_rate: float = 0.0,
        stall_rate: float = 0.0,
        stall_seconds: float = 2.0,
        deny_accounts: Iterable[str] = (),
        disable_regions: Iterable[str] | Mapping[str, Iterable[str]] = (),
        expire_credentials_after: float | None = None,
        seed: int = 0,
    ) -> None:
        if not _is_loopback(upstream):
            raise ConfigurationError(
                f"aws_faults: upstream {upstream!r} is not on loopback (127.0.0.1, ::1, "
                "localhost): the fault proxy only fronts a local AWS emulator"
            )
        self.upstream = upstream.rstrip("/")
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._url = ""
        self.configure(
            throttle=throttle,
            fail_rate=fail_rate,
            reset_rate=reset_rate,
            stall_rate=stall_rate,
            stall_seconds=stall_seconds,
            deny_accounts=deny_accounts,
            disable_regions=disable_regions,
            expire_credentials_after=expire_credentials_after,
            seed=seed,
        )

    def __repr__(self) -> str:
        return f"aiokit.testing.FaultProxy({self._url or 'not started'} -> {self.upstream})"

    # -- configuration and counters

    def configure(
        self,
        *,
        throttle: Mapping[str, tuple[float, float]] | None = None,
        fail_rate: float = 0.0,
        reset_rate: float = 0.0,
        stall_rate: float = 0.0,
        stall_seconds: float = 2.0,
        deny_accounts: Iterable[str] = (),
        disable_regions: Iterable[str] | Mapping[str, Iterable[str]] = (),
        expire_credentials_after: float | None = None,
        seed: int = 0,
    ) -> FaultProxy:
        """Replace every fault setting (those not given are off) and :meth:`reset`."""
        faults = _build(
            throttle=throttle,
            fail_rate=fail_rate,
            reset_rate=reset_rate,
            stall_rate=stall_rate,
            stall_seconds=stall_seconds,
            deny_accounts=deny_accounts,
            disable_regions=disable_regions,
            expire_credentials_after=expire_credentials_after,
            seed=seed,
        )
        with self._lock:
            self._faults = faults
        self.reset()
        return self

    def reset(self) -> None:
        """Zero the counters; refill the buckets; restart the credential clocks and RNG."""
        with self._lock:
            self._requests = 0
            self._forwarded = 0
            self._counts: Counter[str] = Counter()
            self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
            self._first_seen: dict[str, float] = {}
            self._key_accounts: dict[str, str] = {}
            self._rng = random.Random(self._faults.seed)

    def statistics(self) -> FaultStatistics:
        """A snapshot of the counters."""
        with self._lock:
            return FaultStatistics(
                requests=self._requests,
                forwarded=self._forwarded,
                throttles=self._counts["throttle"],
                faults={kind: self._counts[kind] for kind in FAULT_KINDS},
            )

    @property
    def requests(self) -> int:
        """AWS requests received."""
        return self.statistics().requests

    @property
    def throttles(self) -> int:
        """Requests answered with a throttling error."""
        return self.statistics().throttles

    @property
    def faults(self) -> Mapping[str, int]:
        """Injected faults by kind (see :class:`FaultStatistics`)."""
        return self.statistics().faults

    # -- lifecycle

    @property
    def endpoint_url(self) -> str:
        """The proxy's URL (``http://127.0.0.1:PORT``); starts the proxy if need be."""
        if not self._url:
            self.start()
        return self._url

    def start(self) -> None:
        """Start serving on a free loopback port (a no-op when already started)."""
        if self._thread is not None:
            return
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self._serve(ready))
            except BaseException as exc:  # reported to start(), or lost with the thread
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=run, name="aiokit-fault-proxy", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        if failure or not self._url:
            self._thread = None
            raise ConfigurationError(f"aws_faults: the proxy did not start: {failure[:1]!r}")

    def stop(self) -> None:
        """Stop serving and close every connection; idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        self._url = ""

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FaultProxy:
        import anyio.to_thread

        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import anyio.to_thread

        await anyio.to_thread.run_sync(self.stop)

    # -- the server (in the proxy's own thread and event loop)

    async def _serve(self, ready: threading.Event) -> None:
        from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
        from multidict import CIMultiDict

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        session = ClientSession(
            connector=TCPConnector(limit=0),
            timeout=ClientTimeout(total=None),
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding", "User-Agent", "Accept", "Content-Type"),
        )

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            body = await request.read()
            if request.path.startswith("/moto-api"):  # the emulator's own controls
                return await forward(request, body)
            fault, answer = self._decide(request, body)
            if fault == "reset":
                self._abort(request)
                return web.Response(status=500)
            if answer is not None:
                status, headers, payload = answer
                return web.Response(status=status, headers=headers, body=payload)
            if fault == "stall":
                await asyncio.sleep(self._faults.stall_seconds)
            response = await forward(request, body)
            if response.status == 200 and body and b"AssumeRole" in body:
                self._learn_keys(body, response.body)
            return response

        async def forward(request: web.BaseRequest, body: bytes) -> web.Response:
            with self._lock:
                self._forwarded += 1
            headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
            async with session.request(
                request.method,
                self.upstream + request.raw_path,
                headers=headers,
                data=body,
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                back = CIMultiDict(
                    (k, v)
                    for k, v in upstream.headers.items()
                    if k.lower() not in _HOP_BY_HOP and k.lower() not in ("date", "server")
                )
                return web.Response(status=upstream.status, headers=back, body=payload)

        server = web.Server(handle, access_log=None, handler_cancellation=True)
        runner = web.ServerRunner(server, shutdown_timeout=0.5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._url = f"http://127.0.0.1:{port}"
            ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()
            await session.close()

    def _decide(self, request: Any, body: bytes) -> tuple[str | None, Answer | None]:
        """The fault for this request (and its answer, if it gets one instead of moto's)."""
        headers = request.headers
        key, region, service = _scope(headers, request.query)
        protocol = _request_protocol(service, headers)
        now = time.monotonic()
        with self._lock:
            faults = self._faults
            self._requests += 1
            account = self._key_accounts.get(key, MANAGEMENT_ACCOUNT)
            first = self._first_seen.setdefault(key, now) if key else now
            if (
                faults.expire_credentials_after is not None
                and key
                and now - first >= faults.expire_credentials_after
            ):
                self._counts["expired"] += 1
                return "expired", _expired_error(protocol)
            if service == "sts" and faults.deny_accounts:
                role_arn = self._assumed_role(headers, body)
                if role_arn is not None:
                    parts = role_arn.split(":")
                    if len(parts) > 4 and parts[4] in faults.deny_accounts:
                        self._counts["denied"] += 1
                        return "denied", error_in(
                            protocol,
                            403,
                            "AccessDenied",
                            f"User: arn:aws:iam::{account}:user/testing is not authorized to "
                            f"perform: sts:AssumeRole on resource: {role_arn}",
                        )
            if region and (
                region in faults.disable_regions
                or region in faults.disable_regions_by_account.get(account, ())
            ):
                self._counts["region_disabled"] += 1
                return "region_disabled", _region_disabled_error(service, protocol)
            spec = faults.throttle.get(service) or faults.throttle.get("*")
            if spec is not None:
                scope = (account, region, service)
                bucket = self._buckets.get(scope)
                if bucket is None:
                    bucket = self._buckets[scope] = TokenBucket(*spec)
                if not bucket.take():
                    self._counts["throttle"] += 1
                    return "throttle", _throttle_error(service, protocol)
            if faults.fail_rate or faults.reset_rate or faults.stall_rate:
                draw = self._rng.random()
                if draw < faults.fail_rate:
                    self._counts["error"] += 1
                    return "error", error_in(
                        protocol,
                        500,
                        "InternalError",
                        "We encountered an internal error. Please try again.",
                    )
                draw -= faults.fail_rate
                if draw < faults.reset_rate:
                    self._counts["reset"] += 1
                    return "reset", None
                draw -= faults.reset_rate
                if draw < faults.stall_rate:
                    self._counts["stall"] += 1
                    return "stall", None
        return None, None

    @staticmethod
    def _assumed_role(headers: Mapping[str, str], body: bytes) -> str | None:
        target = headers.get("X-Amz-Target", "")
        if target:
            if not target.endswith(".AssumeRole"):
                return None
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                arn = json.loads(body).get("RoleArn")
                return arn if isinstance(arn, str) else None
            return None
        form = _form(body)
        if form.get("Action") != "AssumeRole":
            return None
        return form.get("RoleArn")

    def _learn_keys(self, request_body: bytes, response_body: Any) -> None:
        """Remember which account an AssumeRole's new access key belongs to."""
        role_arn = self._assumed_role({}, request_body)
        if role_arn is None or not isinstance(response_body, bytes):
            return
        match = _ACCESS_KEY.search(response_body)
        parts = role_arn.split(":")
        if match is None or len(parts) < 5:
            return
        key = match.group(1).decode()
        with self._lock:
            self._key_accounts[key] = parts[4]
            self._first_seen.setdefault(key, time.monotonic())

    @staticmethod
    def _abort(request: Any) -> None:
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER 0 makes close() send RST, a real "connection reset by peer".
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


def aws_faults(
    upstream: str,
    *,
    throttle: Mapping[str, tuple[float, float]] | None = None,
    fail_rate: float = 0.0,
    reset_rate: float = 0.0,
    stall_rate: float = 0.0,
    stall_seconds: float = 2.0,
    deny_accounts: Iterable[str] = (),
    disable_regions: Iterable[str] | Mapping[str, Iterable[str]] = (),
    expire_credentials_after: float | None = None,
    seed: int = 0,
) -> FaultProxy:
    """A :class:`FaultProxy` in front of ``upstream``, to use as ``with`` or ``async with``::

    with aws_faults(moto_endpoint, throttle={"ec2": (10, 20)}, fail_rate=0.05) as faults:
        async with aiokit.SessionPool(endpoint_url=faults.endpoint_url, ...) as pool:
            ...
        assert faults.throttles > 0
    """
    return FaultProxy(
        upstream,
        throttle=throttle,
        fail_rate=fail_rate,
        reset_rate=reset_rate,
        stall_rate=stall_rate,
        stall_seconds=stall_seconds,
        deny_accounts=deny_accounts,
        disable_regions=disable_regions,
        expire_credentials_after=expire_credentials_after,
        seed=seed,
    )
