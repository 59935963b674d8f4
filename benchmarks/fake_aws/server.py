"""The fake AWS endpoint: one aiohttp low-level server speaking six AWS wire protocols.

It exists because moto costs milliseconds of CPU per call and cannot throttle: this
server's own handling costs tens of microseconds per request on top of aiohttp's (about
0.25 ms of server CPU per request in all on the 2-core benchmark VM, against several ms
for botocore to make the same request), injects latency, throttling and faults on demand,
and counts everything it sees, so benchmarks measure the client rather than the fake.

Routing is by the SigV4 ``Authorization`` header's credential scope (region and service;
the signature is never checked), the account by the access key (``ASIA`` + account +
serial for keys this server issued by AssumeRole, any other key is the management
account).  Control endpoints live under ``/_fake/``, a prefix no AWS protocol uses.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import json
import logging
import math
import random
import socket
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote, unquote_plus

from aiohttp import web

from aiokit.testing import _wire

from . import protocols as p
from .model import (
    FakeConfig,
    best_pattern,
    bucket_name,
    expected_items,
    object_keys,
    parse_bucket_name,
    pattern_match,
    reservation_id,
)

log = logging.getLogger("fake_aws")

Answer = p.Answer
CONTROL_PREFIX = "/_fake/"
ADMIN_ARN_USER = "fake-admin"
_EPOCH_ISO = "2024-01-01T00:00:00.000Z"


def parse_scope(authorization: str) -> tuple[str, str, str]:
    """(access key, region, service) from a SigV4 Authorization header, cheaply."""
    start = authorization.find("Credential=")
    if start < 0:
        return "", "us-east-1", ""
    end = authorization.find(",", start)
    scope = authorization[start + 11 : end if end >= 0 else None].strip().split("/")
    if len(scope) < 5:
        return scope[0] if scope else "", "us-east-1", ""
    return scope[0], scope[2], scope[3]


def account_of_key(access_key: str, management: str) -> str:
    # Keys AssumeRole issued are ASIA + 12-digit account + 4 chars: the account is in the
    # key itself, so routing a request needs no lookup table.
    if len(access_key) == 20 and access_key.startswith("ASIA") and access_key[4:16].isdigit():
        return access_key[4:16]
    return management


def _b36(n: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for _ in range(width):
        n, r = divmod(n, 36)
        out.append(digits[r])
    return "".join(reversed(out))


class TokenBucket(_wire.TokenBucket):
    """The testing kit's token bucket, remembering the config version it was made for
    (parameters are re-read when the config changes)."""

    __slots__ = ("version",)

    def __init__(self, burst: float, rate: float, version: int) -> None:
        super().__init__(rate, burst)
        self.version = version


class Stats:
    """Counters served by ``GET /_fake/stats``."""

    def __init__(self) -> None:
        self.requests = 0
        self.by_action: Counter[str] = Counter()
        self.ok_by_action: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.throttled = 0
        self.throttled_by_action: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.by_target: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        # What the clients' HTTP makes the server do: connections opened (distinct peer
        # addresses), and the request heads it parsed (header bytes).
        self.peers: set[Any] = set()
        self.header_bytes = 0
        self.started = time.monotonic()
        self.cpu_started = time.process_time()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requests": self.requests,
            "ok": sum(self.ok_by_action.values()),
            "by_action": dict(self.by_action),
            "ok_by_action": dict(self.ok_by_action),
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "errors": dict(self.errors),
            "throttled": self.throttled,
            "throttled_by_action": dict(self.throttled_by_action),
            "faults": dict(self.faults),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "connections": len(self.peers),
            "header_bytes": self.header_bytes,
            "seconds": round(time.monotonic() - self.started, 6),
            # the server's own CPU since start/reset: tells whether the fake kept up
            "cpu_seconds": round(time.process_time() - self.cpu_started, 6),
        }
        if self.by_target:
            out["by_target"] = dict(self.by_target)
        return out


class FakeState:
    """The server's mutable state: config, counters, buckets, fault RNG."""

    def __init__(self, config: FakeConfig) -> None:
        self.config = config
        self.version = 0
        self.stats = Stats()
        self.buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self.rng = random.Random(config.fault_seed)
        self.latency_rng = random.Random(config.fault_seed + 1)
        self.key_serial = itertools.count(1)
        self._bucket_params: dict[str, tuple[float, float] | None] = {}
        self._fault_scope: dict[str, bool] = {}
        self._cache: dict[tuple[str, str, str], list[str]] = {}
        self.pages: dict[tuple[str, str, int, int], str] = {}
        self._configured()

    def _configured(self) -> None:
        # Everything derived from the config is memoised per version, so the hot path
        # does dictionary lookups only.
        self.version += 1
        self._bucket_params.clear()
        self._fault_scope.clear()
        self._cache.clear()
        self.pages.clear()
        c = self.config
        self.fault_total = c.fault_reset + c.fault_stall + c.fault_500 + c.fault_503
        self.members = set(c.all_accounts())

    def reconfigure(self, changes: dict[str, Any]) -> None:
        old_seed = self.config.fault_seed
        self.config = self.config.merged(changes)
        if self.config.fault_seed != old_seed:
            self.rng = random.Random(self.config.fault_seed)
            self.latency_rng = random.Random(self.config.fault_seed + 1)
        self._configured()

    def reset(self) -> None:
        in_flight = self.stats.in_flight
        self.stats = Stats()
        self.stats.in_flight = in_flight
        self.stats.max_in_flight = in_flight
        self.buckets.clear()
        self.rng = random.Random(self.config.fault_seed)
        self.latency_rng = random.Random(self.config.fault_seed + 1)

    def items(self, account: str, region: str, kind: str) -> list[str]:
        key = (account, region, kind)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 100_000:  # bound memory at very large scales
                self._cache.clear()
            found = self._cache[key] = expected_items(self.config, account, region, kind)
        return found

    def bucket_params(self, action_key: str) -> tuple[float, float] | None:
        if action_key not in self._bucket_params:
            pattern = best_pattern(self.config.buckets, action_key)
            params = None
            if pattern is not None:
                burst, rate = self.config.buckets[pattern]
                params = (float(burst), float(rate))
            self._bucket_params[action_key] = params
        return self._bucket_params[action_key]

    def allow(self, account: str, region: str, action_key: str) -> bool:
        params = self.bucket_params(action_key)
        if params is None:
            return True
        key = (account, region, action_key)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(params[0], params[1], self.version)
        elif bucket.version != self.version:
            # Capacity changed mid-run: keep the tokens the bucket has, within the new cap.
            bucket.burst, bucket.rate = params
            bucket.tokens = min(bucket.tokens, bucket.burst)
            bucket.version = self.version
        return bucket.take()

    def fault_applies(self, action_key: str) -> bool:
        scoped = self._fault_scope.get(action_key)
        if scoped is None:
            patterns = self.config.fault_actions
            scoped = not patterns or any(pattern_match(x, action_key) for x in patterns)
            self._fault_scope[action_key] = scoped
        return scoped

    def draw_fault(self) -> str | None:
        c = self.config
        r = self.rng.random()
        for name, rate in (
            ("reset", c.fault_reset),
            ("stall", c.fault_stall),
            ("500", c.fault_500),
            ("503", c.fault_503),
        ):
            if r < rate:
                return name
            r -= rate
        return None

    def latency_s(self) -> float:
        c = self.config
        if c.latency_ms <= 0:
            return 0.0
        if c.latency_sigma > 0:
            return self.latency_rng.lognormvariate(math.log(c.latency_ms / 1000), c.latency_sigma)
        return c.latency_ms / 1000


class Call:
    """One parsed AWS request."""

    __slots__ = (
        "access_key",
        "account",
        "action",
        "body",
        "form_fields",
        "query",
        "region",
        "request",
        "service",
    )

    def __init__(self, request: web.BaseRequest, body: bytes, management: str) -> None:
        self.request = request
        self.body = body
        self.access_key, self.region, self.service = parse_scope(
            request.headers.get("Authorization", "")
        )
        self.account = account_of_key(self.access_key, management)
        self.query: dict[str, list[str]] = {}
        self.form_fields: dict[str, str] = {}
        self.action = ""

    @classmethod
    def offline(
        cls, service: str, action: str, account: str, region: str, fields: dict[str, str]
    ) -> Call:
        """A call with no HTTP request behind it (``FakeAWSServer.render``)."""
        call = cls.__new__(cls)
        call.body, call.access_key, call.account = b"", "", account
        call.service, call.region, call.action = service, region, action
        call.form_fields = dict(fields)
        call.query = {k: [v] for k, v in fields.items()}
        return call

    def form(self) -> dict[str, str]:
        return parse_form(self.body)

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        data = json.loads(self.body)
        return data if isinstance(data, dict) else {}


def parse_form(body: bytes) -> dict[str, str]:
    """A form-encoded body as a dict (first value wins), cheaper than urllib's parse_qs.

    Most fields of these requests need no unquoting at all, so only values that contain
    an escape pay for ``unquote_plus``.
    """
    out: dict[str, str] = {}
    for pair in body.decode().split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        out.setdefault(key, value)
    return out


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _offset(token: str | None, prefix: str) -> int | None:
    """Offset encoded in a pagination token this server issued; None if malformed."""
    if not token:
        return 0
    if not token.startswith(prefix) or not token[len(prefix) :].isdigit():
        return None
    return int(token[len(prefix) :])


def _page(requested: int, maximum: int) -> int:
    # Honour a smaller client limit; never exceed the server's maximum page size.
    return min(requested, maximum) if requested > 0 else maximum


class FakeAWSServer:
    """Request handling: control endpoints, then the per-service operations."""

    def __init__(self, config: FakeConfig) -> None:
        self.state = FakeState(config)
        self._ops: dict[str, Callable[[Call], Answer]] = {
            "sts:AssumeRole": self.sts_assume_role,
            "sts:GetCallerIdentity": self.sts_get_caller_identity,
            "organizations:ListAccounts": self.org_list_accounts,
            "ec2:DescribeRegions": self.ec2_describe_regions,
            "ec2:DescribeInstances": self.ec2_describe_instances,
            "dynamodb:ListTables": self.ddb_list_tables,
            "lambda:ListFunctions": self.lambda_list_functions,
            "s3:ListBuckets": self.s3_list_buckets,
            "s3:ListObjectsV2": self.s3_list_objects_v2,
        }

    def render(
        self,
        service: str,
        action: str,
        account: str,
        region: str,
        fields: dict[str, str] | None = None,
    ) -> Answer:
        """The answer to one operation, without HTTP, latency, faults or throttling.

        For canned responses: the benchmark's CPU floor parses exactly what the server
        sends.  Operations that read HTTP headers (GetCallerIdentity's session token, S3's
        bucket path) are not supported here.
        """
        return self._ops[f"{service}:{action}"](
            Call.offline(service, action, account, region, fields or {})
        )

    # -- entry point

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await self.control(request)
        stats = self.state.stats
        stats.in_flight += 1
        if stats.in_flight > stats.max_in_flight:
            stats.max_in_flight = stats.in_flight
        transport = request.transport
        if transport is not None:
            stats.peers.add(transport.get_extra_info("peername"))
        stats.header_bytes += sum(len(k) + len(v) + 4 for k, v in request.raw_headers)
        try:
            answer = await self.aws(request)
        finally:
            # reset() may have swapped the Stats object meanwhile: count on the live one.
            self.state.stats.in_flight -= 1
        if answer is None:  # connection reset fault: nothing to send
            return web.Response(status=500)
        status, headers, body = answer
        return web.Response(status=status, headers=headers, body=body)

    async def aws(self, request: web.BaseRequest) -> Answer | None:
        state = self.state
        config = state.config
        body = await request.read()
        call = Call(request, body, config.management_account)
        self.identify(call)
        key = f"{call.service}:{call.action}"
        stats = state.stats
        stats.requests += 1
        stats.by_action[key] += 1
        if config.stats_by_target:
            stats.by_target[f"{call.account}/{call.region}/{key}"] += 1

        delay = state.latency_s()
        if delay > 0:
            await asyncio.sleep(delay)
        if state.fault_total > 0 and state.fault_applies(key):
            fault = state.draw_fault()
            if fault is not None:
                stats.faults[fault] += 1
                if fault == "reset":
                    self.abort(request)
                    return None
                if fault == "stall":
                    # Meant to outlast the client's read timeout; the answer that follows
                    # is normal, for a client patient enough to wait.
                    await asyncio.sleep(config.stall_seconds)
                else:
                    return self.count(key, p.server_error(call.service, int(fault)))

        if not config.region_enabled(call.account, call.region) and call.service not in (
            "organizations",
        ):
            return self.count(key, p.region_disabled_error(call.service))
        if config.throttle and not state.allow(call.account, call.region, key):
            stats.throttled += 1
            stats.throttled_by_action[key] += 1
            return self.count(key, p.throttle_error(call.service, config.retry_after_ms))
        op = self._ops.get(key)
        if op is None:
            answer = p.error_for(
                call.service,
                400,
                "InvalidAction",
                f"The action {call.action or '?'} is not valid for this fake endpoint.",
            )
        else:
            try:
                answer = op(call)
            except Exception:  # a bug in the fake must still answer, and be visible
                log.exception("fake_aws: %s failed", key)
                answer = p.server_error(call.service, 500)
        return self.count(key, answer)

    def count(self, key: str, answer: Answer) -> Answer:
        stats = self.state.stats
        status = answer[0]
        stats.by_status[status] += 1
        if status < 300:
            stats.ok_by_action[key] += 1
        return answer

    @staticmethod
    def abort(request: web.BaseRequest) -> None:
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER 0 makes close() send RST, a real "connection reset by peer",
            # rather than a polite FIN.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def identify(self, call: Call) -> None:
        """Fill call.action (and call.service when the scope did not say)."""
        request = call.request
        target = request.headers.get("X-Amz-Target")
        if target:
            prefix, _, call.action = target.partition(".")
            if not call.service:
                call.service = "dynamodb" if prefix.startswith("DynamoDB") else "organizations"
            return
        if not call.service:
            call.service = "s3" if request.method == "GET" else "sts"
        if call.service == "s3":
            call.query = parse_qs(request.query_string, keep_blank_values=True)
            path = request.path
            if path == "/":
                call.action = "ListBuckets"
            elif path.count("/") == 1 and call.query.get("list-type") == ["2"]:
                call.action = "ListObjectsV2"
            else:
                call.action = f"{request.method}Unsupported"
            return
        if call.service == "lambda":
            call.query = parse_qs(request.query_string, keep_blank_values=True)
            if request.method == "GET" and request.path.rstrip("/") == "/2015-03-31/functions":
                call.action = "ListFunctions"
            else:
                call.action = f"{request.method}Unsupported"
            return
        # query and ec2 protocols: a form-encoded body with Action=
        call.form_fields = call.form()
        call.action = call.form_fields.get("Action", "")

    # -- STS (query protocol)

    def sts_assume_role(self, call: Call) -> Answer:
        state = self.state
        config = state.config
        form = call.form_fields
        arn = form.get("RoleArn", "")
        session = form.get("RoleSessionName", "")
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/") or not session:
            return p.query_error(400, "ValidationError", f"Invalid RoleArn or session: {arn}")
        account = parts[4]
        role = parts[5].rsplit("/", 1)[-1]
        caller = (
            f"arn:aws:iam::{call.account}:user/{ADMIN_ARN_USER}"
            if call.account == config.management_account
            else f"arn:aws:sts::{call.account}:assumed-role/caller/session"
        )
        if (
            account not in state.members
            or account in config.suspended_accounts
            or config.role_denied(account, role)
        ):
            state.stats.errors["AccessDenied"] += 1
            return p.query_error(
                403,
                "AccessDenied",
                f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {arn}",
            )
        serial = next(state.key_serial)
        access_key = f"ASIA{account}{_b36(serial, 4)}"
        secret = f"fakesecret{account}{serial:08d}".ljust(40, "x")
        token = f"fake-token:{account}:{role}:{session}:{serial}"
        duration = _int(form.get("DurationSeconds"), 3600)
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + duration))
        role_id = f"AROA{account}FAKE"
        result = (
            f"<Credentials><AccessKeyId>{access_key}</AccessKeyId>"
            f"<SecretAccessKey>{secret}</SecretAccessKey>"
            f"<SessionToken>{token}</SessionToken><Expiration>{expires}</Expiration>"
            f"</Credentials><AssumedRoleUser><AssumedRoleId>{role_id}:{session}"
            f"</AssumedRoleId><Arn>arn:aws:sts::{account}:assumed-role/{role}/{session}</Arn>"
            f"</AssumedRoleUser><PackedPolicySize>0</PackedPolicySize>"
        )
        return p.query_ok("AssumeRole", result)

    def sts_get_caller_identity(self, call: Call) -> Answer:
        token = call.request.headers.get("X-Amz-Security-Token", "")
        parts = token.split(":")
        if call.access_key.startswith("ASIA") and len(parts) == 5 and parts[0] == "fake-token":
            _, account, role, session, _serial = parts
            arn = f"arn:aws:sts::{account}:assumed-role/{role}/{session}"
            user_id = f"AROA{account}FAKE:{session}"
        else:
            account = call.account
            arn = f"arn:aws:iam::{account}:user/{ADMIN_ARN_USER}"
            user_id = "AIDAFAKEADMIN0000000"
        return p.query_ok(
            "GetCallerIdentity",
            f"<UserId>{user_id}</UserId><Account>{account}</Account><Arn>{arn}</Arn>",
        )

    # -- Organizations (json 1.1)

    def org_list_accounts(self, call: Call) -> Answer:
        config = self.state.config
        if call.account != config.management_account:
            return p.json_error(
                400,
                "AccessDeniedException",
                "You don't have permissions to access this resource.",
                "1.1",
            )
        data = call.json()
        start = _offset(data.get("NextToken"), "accounts-")
        if start is None:
            return p.json_error(400, "InvalidInputException", "Invalid NextToken", "1.1")
        size = _page(_int(data.get("MaxResults"), 0), config.page_size.get("ListAccounts", 20))
        ids = self.state.items("", "", "accounts")
        suspended = set(config.suspended_accounts)
        page = []
        for account in ids[start : start + size]:
            status = "SUSPENDED" if account in suspended else "ACTIVE"
            page.append(
                {
                    "Id": account,
                    "Arn": f"arn:aws:organizations::{config.management_account}:account/"
                    f"o-fake000000/{account}",
                    "Email": f"aws+{account}@example.com",
                    "Name": f"account-{account}",
                    "Status": status,
                    "State": status,
                    "JoinedMethod": "CREATED",
                    "JoinedTimestamp": 1704067200.0,
                }
            )
        payload: dict[str, Any] = {"Accounts": page}
        if start + size < len(ids):
            payload["NextToken"] = f"accounts-{start + size}"
        return p.json_ok(payload, "1.1")

    # -- EC2 (ec2 protocol)

    def ec2_describe_regions(self, call: Call) -> Answer:
        config = self.state.config
        form = call.form_fields
        all_regions = form.get("AllRegions", "false").lower() == "true"
        wanted = {v for k, v in form.items() if k.startswith("RegionName.")}
        items = []
        for region in config.regions:
            if wanted and region not in wanted:
                continue
            enabled = config.region_enabled(call.account, region)
            if region in config.opt_in_regions:
                status = "opted-in" if enabled else "not-opted-in"
            elif enabled:
                status = "opt-in-not-required"
            else:
                continue
            if not enabled and not all_regions:
                continue
            items.append(
                f"<item><regionName>{region}</regionName>"
                f"<regionEndpoint>ec2.{region}.amazonaws.com</regionEndpoint>"
                f"<optInStatus>{status}</optInStatus></item>"
            )
        return p.ec2_ok("DescribeRegions", f"<regionInfo>{''.join(items)}</regionInfo>")

    def ec2_describe_instances(self, call: Call) -> Answer:
        state = self.state
        config = state.config
        form = call.form_fields
        start = _offset(form.get("NextToken"), "instances-")
        if start is None:
            return p.ec2_error(400, "InvalidParameterValue", "Invalid value for nextToken")
        size = _page(
            _int(form.get("MaxResults"), 0), config.page_size.get("DescribeInstances", 1000)
        )
        account, region = call.account, call.region
        ids = state.items(account, region, "instances")
        end = min(start + size, len(ids))
        page_key = (account, region, start, end)
        reservations = state.pages.get(page_key)
        if reservations is None:
            # Rendering a page is most of this operation's cost, and crawls ask for the
            # same pages again and again: keep them (bounded; cleared on reconfigure).
            if len(state.pages) > 20_000:
                state.pages.clear()
            reservations = state.pages[page_key] = self._render_instances(
                account, region, ids, start, end
            )
        token = f"<nextToken>instances-{end}</nextToken>" if end < len(ids) else ""
        return p.ec2_ok(
            "DescribeInstances", f"<reservationSet>{reservations}</reservationSet>{token}"
        )

    def _render_instances(
        self, account: str, region: str, ids: list[str], start: int, end: int
    ) -> str:
        per_res = max(1, self.state.config.instances_per_reservation)
        # Reservations group consecutive instances; one split by a page boundary appears
        # on both pages with disjoint instances, as a grouping on a real page might.
        groups: dict[int, list[str]] = {}
        for index in range(start, end):
            groups.setdefault(index // per_res, []).append(
                f"<item><instanceId>{ids[index]}</instanceId>"
                "<imageId>ami-0fake00000000000</imageId>"
                "<instanceState><code>16</code><name>running</name></instanceState>"
                f"<privateDnsName>ip-10-0-{index // 250 % 256}-{index % 250 + 1}.internal"
                "</privateDnsName><instanceType>t3.micro</instanceType>"
                f"<amiLaunchIndex>0</amiLaunchIndex><launchTime>{_EPOCH_ISO}</launchTime>"
                f"<placement><availabilityZone>{region}a</availabilityZone>"
                "<tenancy>default</tenancy></placement>"
                "<monitoring><state>disabled</state></monitoring>"
                "<architecture>x86_64</architecture></item>"
            )
        return "".join(
            f"<item><reservationId>{reservation_id(account, region, res)}</reservationId>"
            f"<ownerId>{account}</ownerId><groupSet/>"
            f"<instancesSet>{''.join(items)}</instancesSet></item>"
            for res, items in groups.items()
        )

    # -- DynamoDB (json 1.0)

    def ddb_list_tables(self, call: Call) -> Answer:
        config = self.state.config
        data = call.json()
        names = self.state.items(call.account, call.region, "tables")
        start_name = data.get("ExclusiveStartTableName")
        start = bisect.bisect_right(names, start_name) if start_name else 0
        size = _page(_int(data.get("Limit"), 0), config.page_size.get("ListTables", 100))
        page = names[start : start + size]
        payload: dict[str, Any] = {"TableNames": page}
        if start + size < len(names):
            payload["LastEvaluatedTableName"] = page[-1]
        return p.json_ok(payload, "1.0")

    # -- Lambda (rest-json)

    def lambda_list_functions(self, call: Call) -> Answer:
        config = self.state.config
        query = call.query
        start = _offset(query.get("Marker", [""])[0], "functions-")
        if start is None:
            return p.rest_json_error(400, "InvalidParameterValueException", "Invalid Marker")
        size = _page(
            _int(query.get("MaxItems", ["0"])[0], 0), config.page_size.get("ListFunctions", 50)
        )
        names = self.state.items(call.account, call.region, "functions")
        account, region = call.account, call.region
        functions = [
            {
                "FunctionName": name,
                "FunctionArn": f"arn:aws:lambda:{region}:{account}:function:{name}",
                "Runtime": "python3.12",
                "Role": f"arn:aws:iam::{account}:role/lambda-exec",
                "Handler": "app.handler",
                "CodeSize": 1024,
                "Description": "",
                "Timeout": 3,
                "MemorySize": 128,
                "LastModified": "2024-01-01T00:00:00.000+0000",
                "CodeSha256": "ZmFrZQ==",
                "Version": "$LATEST",
                "PackageType": "Zip",
                "Architectures": ["x86_64"],
            }
            for name in names[start : start + size]
        ]
        payload: dict[str, Any] = {"Functions": functions}
        if start + size < len(names):
            payload["NextMarker"] = f"functions-{start + size}"
        return p.rest_json_ok(payload)

    # -- S3 (rest-xml, path-style addressing)

    def s3_list_buckets(self, call: Call) -> Answer:
        state = self.state
        config = state.config
        account = call.account
        names = [
            name
            for region in config.enabled_regions(account)
            for name in state.items(account, region, "buckets")
        ]
        query = call.query
        start = _offset(query.get("continuation-token", [""])[0], "buckets-")
        if start is None:
            return p.s3_error(400, "InvalidArgument", "Invalid continuation token")
        max_buckets = _int(query.get("max-buckets", ["0"])[0], 0)
        size = _page(max_buckets, config.page_size.get("ListBuckets", 10000))
        end = min(start + size, len(names))
        buckets = "".join(
            f"<Bucket><Name>{name}</Name><CreationDate>{_EPOCH_ISO}</CreationDate>"
            f"<BucketRegion>{(parse_bucket_name(name) or ('', '', 0))[1]}</BucketRegion>"
            "</Bucket>"
            for name in names[start:end]
        )
        token = f"<ContinuationToken>buckets-{end}</ContinuationToken>" if end < len(names) else ""
        return p.s3_ok(
            f'<ListAllMyBucketsResult xmlns="{p.S3_NS}"><Owner><ID>{account}</ID>'
            f"<DisplayName>owner-{account}</DisplayName></Owner><Buckets>{buckets}</Buckets>"
            f"{token}</ListAllMyBucketsResult>"
        )

    def s3_list_objects_v2(self, call: Call) -> Answer:
        config = self.state.config
        bucket = call.request.path.strip("/")
        parsed = parse_bucket_name(bucket)
        if (
            parsed is None
            or parsed[2] >= config.item_count(parsed[0], parsed[1], "buckets")
            or bucket_name(*parsed) != bucket
            or not config.region_enabled(parsed[0], parsed[1])
        ):
            return p.s3_error(
                404, "NoSuchBucket", "The specified bucket does not exist", f"/{bucket}"
            )
        if parsed[0] != call.account:
            return p.s3_error(403, "AccessDenied", "Access Denied", f"/{bucket}")
        query = call.query

        def q(name: str, default: str = "") -> str:
            return query.get(name, [default])[0]

        prefix = q("prefix")
        keys = object_keys(config, bucket)
        if prefix:
            keys = [k for k in keys if k.startswith(prefix)]
        token = q("continuation-token")
        start = _offset(token, "keys-")
        if start is None:
            return p.s3_error(
                400, "InvalidArgument", "The continuation token provided is incorrect"
            )
        if not token and q("start-after"):
            start = bisect.bisect_right(keys, q("start-after"))
        size = _page(_int(q("max-keys"), 0), config.page_size.get("ListObjectsV2", 1000))
        end = min(start + size, len(keys))
        url = q("encoding-type") == "url"
        contents = "".join(
            f"<Contents><Key>{quote(k, safe='/') if url else k}</Key>"
            f"<LastModified>{_EPOCH_ISO}</LastModified>"
            '<ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>0</Size>'
            "<StorageClass>STANDARD</StorageClass></Contents>"
            for k in keys[start:end]
        )
        truncated = end < len(keys)
        parts = [
            f'<ListBucketResult xmlns="{p.S3_NS}"><Name>{bucket}</Name>',
            f"<Prefix>{prefix}</Prefix><KeyCount>{end - start}</KeyCount>",
            f"<MaxKeys>{size}</MaxKeys>",
            "<EncodingType>url</EncodingType>" if url else "",
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
            f"<ContinuationToken>{token}</ContinuationToken>" if token else "",
            f"<NextContinuationToken>keys-{end}</NextContinuationToken>" if truncated else "",
            contents,
            "</ListBucketResult>",
        ]
        return p.s3_ok("".join(parts))

    # -- control endpoints

    async def control(self, request: web.BaseRequest) -> web.StreamResponse:
        state = self.state
        name = request.path[len(CONTROL_PREFIX) :].rstrip("/")
        try:
            if name == "stats" and request.method == "GET":
                return _json_response(state.stats.to_dict())
            if name == "reset" and request.method == "POST":
                state.reset()
                return _json_response({"ok": True})
            if name == "config" and request.method == "GET":
                return _json_response(state.config.to_dict())
            if name == "config" and request.method == "POST":
                changes = json.loads(await request.read() or b"{}")
                state.reconfigure(changes)
                return _json_response(state.config.to_dict())
            if name == "truth" and request.method == "GET":
                return _json_response(self.truth(dict(request.query)))
        except (ValueError, TypeError) as exc:
            return _json_response({"error": str(exc)}, status=400)
        return _json_response({"error": f"no control endpoint {request.method} {name}"}, 404)

    def truth(self, query: dict[str, str]) -> dict[str, Any]:
        config = self.state.config
        kind = query.get("kind")
        if kind:
            return {
                "kind": kind,
                "account": query.get("account"),
                "region": query.get("region"),
                "items": expected_items(config, query.get("account"), query.get("region"), kind),
            }
        disabled = {
            account: [r for r in config.regions if not config.region_enabled(account, r)]
            for account in config.all_accounts()
        }
        return {
            "management_account": config.management_account,
            "accounts": config.all_accounts(),
            "members": config.member_accounts(),
            "suspended": list(config.suspended_accounts),
            "regions": list(config.regions),
            "disabled_regions": {a: r for a, r in disabled.items() if r},
            "items_per_target": dict(config.items),
            "item_overrides": dict(config.item_overrides),
            "page_size": dict(config.page_size),
        }


def _json_response(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(payload).encode(), content_type="application/json"
    )


async def serve(
    config: FakeConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the fake until ``stop`` is set; call ``ready(url)`` once it accepts connections."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        # The fake is a load target: it must never be reachable beyond this machine.
        raise ValueError("the fake AWS endpoint listens on loopback only")
    app = FakeAWSServer(config)
    handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]] = app.handle
    # The low-level server skips routing and middleware; access_log=None skips per-request
    # log formatting.  Both are measurable at tens of thousands of requests per second.
    # handler_cancellation: a client that gives up (read timeout on a stalled answer) frees
    # its handler at once, as a real front end would, instead of holding it in flight.
    server = web.Server(handler, access_log=None, keepalive_timeout=75.0, handler_cancellation=True)
    runner = web.ServerRunner(server, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)  # many clients open their pools at once: keep the backlog deep
    site = web.SockSite(runner, sock)
    await site.start()
    bound_port = sock.getsockname()[1]
    try:
        if ready is not None:
            ready(f"http://{'[::1]' if ':' in host else '127.0.0.1'}:{bound_port}")
        await (stop or asyncio.Event()).wait()
    finally:
        await runner.cleanup()
