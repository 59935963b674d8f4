"""The contenders of the crawl benchmark, and the child process that runs one of them.

A crawl: for every (account, region) target, credentials for the account by STS
AssumeRole (once per account), then every page of EC2 DescribeInstances in that region,
collecting instance ids (and, when ``Settings.services`` says so, every page of DynamoDB
ListTables beside it: see ``LISTINGS``).  Each contender is one function

    async def run_NAME(endpoint_url, accounts, regions, concurrency) -> list[str]

(``boto3_threads`` is a sync function: it is the thread-pool pattern).  A contender never
raises for a failed target: it calls ``record_error`` and moves on, so the harness can
count the items it lost.

``python -m benchmarks.crawl_contenders`` runs ONE contender, in a fresh process so that
its CPU time and peak RSS are its own; it reads a JSON spec on stdin and prints one
``RESULT {json}`` line.  This module deliberately does not import the fake endpoint (nor
aiohttp's server side): only what the contender itself needs counts against its RSS.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import gc
import inspect
import json
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

ROLE_NAME = "OrganizationAccountAccessRole"


@dataclass
class Settings:
    """What every contender shares, so differences come from structure alone."""

    management_key: str = "AKIAFAKEMANAGEMENT00"
    management_secret: str = "fake-management-secret"
    sts_region: str = "us-east-1"
    role_name: str = ROLE_NAME
    # The same retry policy for all: botocore's standard mode, 10 attempts in all.
    retries: dict[str, Any] = field(
        default_factory=lambda: {"mode": "standard", "total_max_attempts": 10}
    )
    connect_timeout: float = 10.0
    read_timeout: float = 10.0
    max_pool_connections: int = 64
    # What each target lists (keys of LISTINGS), side by side: ["ec2"] is the classic
    # crawl; ["ec2", "dynamodb"] drains two services per target.
    services: list[str] = field(default_factory=lambda: ["ec2"])

    def config_kwargs(self) -> dict[str, Any]:
        return {
            "retries": dict(self.retries),
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "max_pool_connections": self.max_pool_connections,
        }

    def role_arn(self, account: str) -> str:
        return f"arn:aws:iam::{account}:role/{self.role_name}"


SETTINGS = Settings()
ERRORS: list[str] = []
_errors_lock = threading.Lock()


def record_error(target: str, exc: BaseException) -> None:
    """A target failed: remember why (the harness reports counts and a sample)."""
    with _errors_lock:
        ERRORS.append(f"{target}: {type(exc).__name__}: {exc}"[:300])


def _instance_ids(page: dict[str, Any]) -> list[str]:
    return [i["InstanceId"] for r in page.get("Reservations", []) for i in r["Instances"]]


def table_item(account: str, region: str, name: str) -> str:
    """A DynamoDB table as a crawl item: table names repeat across accounts and regions
    (the fake names them ``table-00000``...), so the item says where it was listed."""
    return f"{account}/{region}/{name}"


@dataclass(frozen=True)
class ServiceListing:
    """One service's paginated listing, as every contender runs it.

    ``items(page, account, region)`` turns one page into item ids; ``page_size`` is the
    API's largest page (what a careful crawl asks for: fewer requests where the server
    honours it); ``item_ids(item, account, region)`` does the same for one flattened item
    of ``pool.crawl`` (a reservation, a table name).
    """

    service: str
    operation: str
    page_size: int
    items: Callable[[dict[str, Any], str, str], list[str]]
    item_ids: Callable[[Any, str, str], list[str]]


LISTINGS: dict[str, ServiceListing] = {
    "ec2": ServiceListing(
        "ec2", "describe_instances", 1000,
        lambda page, _a, _r: _instance_ids(page),
        lambda reservation, _a, _r: [i["InstanceId"] for i in reservation["Instances"]],
    ),
    "dynamodb": ServiceListing(
        "dynamodb", "list_tables", 100,
        lambda page, a, r: [table_item(a, r, n) for n in page.get("TableNames", [])],
        lambda name, a, r: [table_item(a, r, name)],
    ),
}  # fmt: skip


def _units(accounts: list[str], regions: list[str]) -> list[tuple[str, str, ServiceListing]]:
    """Every (account, region, listing) of the crawl, account by account."""
    listings = [LISTINGS[s] for s in SETTINGS.services]
    return [(a, r, x) for a in accounts for r in regions for x in listings]


# -- 1. boto3 + threads: the pattern of botocove / c7n-org


def run_boto3_threads(
    endpoint_url: str, accounts: list[str], regions: list[str], concurrency: int
) -> list[str]:
    import boto3
    from botocore.config import Config

    config = Config(**SETTINGS.config_kwargs())
    base = boto3.Session(
        aws_access_key_id=SETTINGS.management_key,
        aws_secret_access_key=SETTINGS.management_secret,
        region_name=SETTINGS.sts_region,
    )
    sts = base.client("sts", endpoint_url=endpoint_url, config=config)  # clients are thread-safe
    sessions: dict[str, boto3.Session] = {}
    # Targets still to run per account: an account's Session (its own copy of the EC2
    # model, ~20 MB) is dropped after its last region, as a careful crawler would; keeping
    # all of them would not fit in memory at 1,000 accounts.
    remaining = dict.fromkeys(accounts, len(regions) * len(SETTINGS.services))
    locks: dict[str, threading.Lock] = {}
    locks_guard = threading.Lock()

    def account_lock(account: str) -> threading.Lock:
        with locks_guard:
            return locks.setdefault(account, threading.Lock())

    def target(account: str, region: str, listing: ServiceListing) -> list[str]:
        lock = account_lock(account)
        # boto3 Sessions are not thread-safe: one lock per account guards both the
        # once-per-account AssumeRole and client creation from the shared Session.
        with lock:
            session = sessions.get(account)
            if session is None:
                creds = sts.assume_role(
                    RoleArn=SETTINGS.role_arn(account), RoleSessionName="crawl"
                )["Credentials"]
                session = sessions[account] = boto3.Session(
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"],
                )
            client = session.client(
                listing.service, region_name=region, endpoint_url=endpoint_url, config=config
            )
            remaining[account] -= 1
            if not remaining[account]:
                del sessions[account]  # no target of this account needs it any more
        try:
            ids: list[str] = []
            for page in client.get_paginator(listing.operation).paginate():
                ids.extend(listing.items(page, account, region))
            return ids
        finally:
            client.close()

    items: list[str] = []
    targets = _units(accounts, regions)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(target, a, r, x) for a, r, x in targets]
        for (account, region, _), future in zip(targets, futures, strict=True):
            try:
                items.extend(future.result())
            except Exception as exc:
                record_error(f"{account}/{region}", exc)
    sts.close()
    return items


# -- 2. aioboto3, naively: a new Session for every target


async def run_aioboto3_naive(
    endpoint_url: str, accounts: list[str], regions: list[str], concurrency: int
) -> list[str]:
    import aioboto3
    from aiobotocore.config import AioConfig

    config = AioConfig(**SETTINGS.config_kwargs())
    semaphore = asyncio.Semaphore(concurrency)
    creds_tasks: dict[str, asyncio.Task[dict[str, str]]] = {}

    async def assume(account: str) -> dict[str, str]:
        session = aioboto3.Session(
            aws_access_key_id=SETTINGS.management_key,
            aws_secret_access_key=SETTINGS.management_secret,
        )
        async with session.client(
            "sts", region_name=SETTINGS.sts_region, endpoint_url=endpoint_url, config=config
        ) as sts:
            answer = await sts.assume_role(
                RoleArn=SETTINGS.role_arn(account), RoleSessionName="crawl"
            )
        return dict(answer["Credentials"])

    async def target(account: str, region: str, listing: ServiceListing) -> list[str]:
        async with semaphore:
            try:
                task = creds_tasks.get(account)
                if task is None:  # once per account; later targets await the same task
                    task = creds_tasks[account] = asyncio.ensure_future(assume(account))
                creds = await task
                session = aioboto3.Session(
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"],
                )
                ids: list[str] = []
                async with session.client(
                    listing.service,
                    region_name=region,
                    endpoint_url=endpoint_url,
                    config=config,
                ) as client:
                    async for page in client.get_paginator(listing.operation).paginate():
                        ids.extend(listing.items(page, account, region))
                return ids
            except Exception as exc:
                record_error(f"{account}/{region}", exc)
                return []

    results = await asyncio.gather(*(target(*u) for u in _units(accounts, regions)))
    return [i for ids in results for i in ids]


# -- 3. aioboto3, tuned: one session, a client per target, credentials cached per account


async def run_aioboto3_tuned(
    endpoint_url: str, accounts: list[str], regions: list[str], concurrency: int
) -> list[str]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(**SETTINGS.config_kwargs())
    session = get_session()  # service models load once, for every client
    semaphore = asyncio.Semaphore(concurrency)
    creds_tasks: dict[str, asyncio.Task[dict[str, str]]] = {}

    async with session.create_client(
        "sts",
        region_name=SETTINGS.sts_region,
        endpoint_url=endpoint_url,
        config=config,
        aws_access_key_id=SETTINGS.management_key,
        aws_secret_access_key=SETTINGS.management_secret,
    ) as sts:

        async def assume(account: str) -> dict[str, str]:
            answer = await sts.assume_role(
                RoleArn=SETTINGS.role_arn(account), RoleSessionName="crawl"
            )
            return dict(answer["Credentials"])

        async def target(account: str, region: str, listing: ServiceListing) -> list[str]:
            async with semaphore:
                try:
                    task = creds_tasks.get(account)
                    if task is None:
                        task = creds_tasks[account] = asyncio.ensure_future(assume(account))
                    creds = await task
                    ids: list[str] = []
                    async with session.create_client(
                        listing.service,
                        region_name=region,
                        endpoint_url=endpoint_url,
                        config=config,
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"],
                    ) as client:
                        async for page in client.get_paginator(listing.operation).paginate():
                            ids.extend(listing.items(page, account, region))
                    return ids
                except Exception as exc:
                    record_error(f"{account}/{region}", exc)
                    return []

        results = await asyncio.gather(*(target(*u) for u in _units(accounts, regions)))
    return [i for ids in results for i in ids]


# -- 4. aioboto3, best: one client per region for every account, per-request credentials

_REQUEST_CREDENTIALS: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "request_credentials", default=None
)


def _sign_with_account(context: dict[str, Any], **_: Any) -> None:
    # before-call handler: aiobotocore's AioRequestSigner.sign() uses
    # context["signing"]["request_credentials"] instead of the client's own credentials,
    # so one client serves every account.  The contextvar is per task: each target's
    # requests carry its own account's credentials, retries included.
    credentials = _REQUEST_CREDENTIALS.get()
    if credentials is not None:
        context.setdefault("signing", {})["request_credentials"] = credentials


async def run_aioboto3_best(
    endpoint_url: str, accounts: list[str], regions: list[str], concurrency: int
) -> list[str]:
    return await _run_best(endpoint_url, accounts, regions, concurrency, aiokit_parts=False)


async def run_best_with_parts(
    endpoint_url: str, accounts: list[str], regions: list[str], concurrency: int
) -> list[str]:
    """The best hand-written crawl given aiokit's per-request savings (its response
    parsers, HTTP session, SigV4 signer and cheaply copied botocore context, the User-Agent
    cache, the collector threshold): not a real-world contender,
    but what separates it from ``aiokit`` is then aiokit's own layer (pool, fan-out,
    limiter, paginator), and what separates it from ``aioboto3_best`` those savings."""
    return await _run_best(endpoint_url, accounts, regions, concurrency, aiokit_parts=True)


async def _run_best(
    endpoint_url: str,
    accounts: list[str],
    regions: list[str],
    concurrency: int,
    aiokit_parts: bool,
) -> list[str]:
    from contextlib import AsyncExitStack, nullcontext

    from aiobotocore.config import AioConfig
    from aiobotocore.credentials import AioCredentials
    from aiobotocore.session import get_session

    config = AioConfig(**SETTINGS.config_kwargs())
    session = get_session()
    collector: Any = nullcontext()
    if aiokit_parts:
        from aiokit._botocore import cache_user_agent, use_lean_client_context
        from aiokit._botocore.http11 import LeanHTTPSession
        from aiokit._botocore.parsers import ParserFactory
        from aiokit._botocore.signers import use_lean_signer
        from aiokit._gc import DEFAULT_GC_THRESHOLD, raised_gc_threshold

        config = AioConfig(**SETTINGS.config_kwargs(), http_session_cls=LeanHTTPSession)
        session.register_component("response_parser_factory", ParserFactory())
        collector = raised_gc_threshold(DEFAULT_GC_THRESHOLD)

    def lean(client: Any) -> Any:
        if aiokit_parts:
            cache_user_agent(client)
            use_lean_signer(client)
        return client

    semaphore = asyncio.Semaphore(concurrency)
    creds_tasks: dict[str, asyncio.Task[AioCredentials]] = {}
    management = {
        "aws_access_key_id": SETTINGS.management_key,
        "aws_secret_access_key": SETTINGS.management_secret,
    }
    async with AsyncExitStack() as stack:
        sts = await stack.enter_async_context(
            session.create_client(
                "sts",
                region_name=SETTINGS.sts_region,
                endpoint_url=endpoint_url,
                config=config,
                **management,
            )
        )
        clients: dict[tuple[str, str], Any] = {}
        for region in regions:
            for service in SETTINGS.services:
                # The client's own credentials sign nothing here: every listing call
                # carries its account's credentials through the handler.
                client = await stack.enter_async_context(
                    session.create_client(
                        service, region_name=region, endpoint_url=endpoint_url,
                        config=config, **management,
                    )
                )  # fmt: skip
                client.meta.events.register(f"before-call.{service}", _sign_with_account)
                clients[region, service] = lean(client)
        lean(sts)

        async def assume(account: str) -> AioCredentials:
            answer = await sts.assume_role(
                RoleArn=SETTINGS.role_arn(account), RoleSessionName="crawl"
            )
            c = answer["Credentials"]
            return AioCredentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

        async def target(account: str, region: str, listing: ServiceListing) -> list[str]:
            if aiokit_parts:
                use_lean_client_context()  # in this target's own task
            async with semaphore:
                try:
                    task = creds_tasks.get(account)
                    if task is None:
                        task = creds_tasks[account] = asyncio.ensure_future(assume(account))
                    token = _REQUEST_CREDENTIALS.set(await task)
                    try:
                        ids: list[str] = []
                        client = clients[region, listing.service]
                        async for page in client.get_paginator(listing.operation).paginate():
                            ids.extend(listing.items(page, account, region))
                        return ids
                    finally:
                        _REQUEST_CREDENTIALS.reset(token)
                except Exception as exc:
                    record_error(f"{account}/{region}", exc)
                    return []

        with collector:
            results = await asyncio.gather(*(target(*u) for u in _units(accounts, regions)))
    return [i for ids in results for i in ids]


# -- 5. aiokit: SessionPool + fan_out


async def run_aiokit(
    endpoint_url: str, accounts: list[str], regions: list[str], concurrency: int
) -> list[str]:
    """aiokit with its default retry: a rate limiter shared per throttling scope."""
    return await _run_aiokit(endpoint_url, accounts, regions, concurrency, "shared")


async def run_aiokit_standard(
    endpoint_url: str, accounts: list[str], regions: list[str], concurrency: int
) -> list[str]:
    """aiokit with botocore's standard retry per client (for the retry comparison)."""
    return await _run_aiokit(endpoint_url, accounts, regions, concurrency, "standard")


async def run_aiokit_adaptive(
    endpoint_url: str, accounts: list[str], regions: list[str], concurrency: int
) -> list[str]:
    """aiokit with botocore's adaptive retry per client (for the retry comparison)."""
    return await _run_aiokit(endpoint_url, accounts, regions, concurrency, "adaptive")


async def run_aiokit_sequential(
    endpoint_url: str, accounts: list[str], regions: list[str], concurrency: int
) -> list[str]:
    """aiokit as a user wrote it before a crawl took many listings (issue 17): one function
    per target draining each service of SETTINGS.services in turn, over ``fan_out``."""
    return await _run_aiokit(endpoint_url, accounts, regions, concurrency, "shared", True)


async def _run_aiokit(
    endpoint_url: str,
    accounts: list[str],
    regions: list[str],
    concurrency: int,
    mode: Any,
    sequential: bool = False,
) -> list[str]:
    from aiobotocore.config import AioConfig

    import aiokit

    config = AioConfig(**SETTINGS.config_kwargs())
    keys = aiokit.StaticKeys(SETTINGS.management_key, SETTINGS.management_secret)

    async def crawl_one(ctx: aiokit.Context) -> list[str]:
        ids: list[str] = []
        async for page in ctx.paginate("ec2", "describe_instances"):
            ids.extend(_instance_ids(page))
        return ids

    async def drain_in_turn(ctx: aiokit.Context) -> list[str]:
        ids: list[str] = []
        for x in (LISTINGS[s] for s in SETTINGS.services):
            async for page in ctx.paginate(x.service, x.operation):
                ids.extend(x.items(page, ctx.target.account or "", ctx.target.region or ""))
        return ids

    found: list[str] = []
    async with aiokit.SessionPool(
        endpoint_url=endpoint_url,
        region=SETTINGS.sts_region,
        credentials=keys,
        config=config,
        concurrency=concurrency,
        retry_mode=mode,
        # What `aiokit crawl` passes (aiokit._gc.DEFAULT_GC_THRESHOLD; a library pool leaves
        # the collector alone by default); a literal, so an older tree can be paired with
        # this one (crawl_bench --baseline).
        gc_threshold=50_000,
    ) as pool:
        # The targets as a user gets them: no request for explicit ids and regions; roles
        # are assumed lazily, once per account, inside the fan-out.
        targets = await pool.targets(accounts, regions, role=SETTINGS.role_name)
        if SETTINGS.services != ["ec2"] and not sequential:
            return await _crawl_many(pool, targets, concurrency)
        fn = drain_in_turn if sequential else crawl_one
        async with pool.fan_out(fn, targets, concurrency=concurrency) as outcomes:
            async for outcome in outcomes:
                if outcome.ok and outcome.value is not None:
                    found.extend(outcome.value)
                else:
                    t = outcome.target
                    record_error(f"{t.account}/{t.region}", outcome.error or Exception("?"))
    return found


async def _crawl_many(pool: Any, targets: Any, concurrency: int) -> list[str]:
    """Every service of SETTINGS.services side by side: one ``pool.crawl`` of many
    listings, a unit per (target, listing)."""
    import aiokit

    chosen = [LISTINGS[s] for s in SETTINGS.services]
    listings = {aiokit.Listing(x.service, x.operation): x for x in chosen}
    found: list[str] = []
    ends: list[dict[str, Any]] | None = [] if os.environ.get("CRAWL_BENCH_SCOPES") else None
    start = time.perf_counter()
    async with pool.crawl(list(listings), targets, concurrency=concurrency) as crawl:
        async for event in crawl.events():
            if isinstance(event, aiokit.Item):
                x = listings[event.listing]
                found.extend(x.item_ids(event.data, event.account, event.region))
            elif ends is not None:  # each unit's end, for CRAWL_BENCH_SCOPES
                t, name = event.target, event.listing.name if event.listing else ""
                at = time.perf_counter() - start
                ends.append({"unit": f"{t.account}/{t.region}/{name}", "end": round(at, 3)})
    if ends is not None:
        _dump_scopes(pool, ends, os.environ["CRAWL_BENCH_SCOPES"])
    for outcome in crawl.report.problems:
        t = outcome.target
        record_error(f"{t.account}/{t.region}", outcome.error or Exception(outcome.reason))
    return found


def _dump_scopes(pool: Any, ends: list[dict[str, Any]], path: str) -> None:
    """For ``CRAWL_BENCH_SCOPES=PATH``: each unit's end (seconds from the crawl's start)
    and each throttling scope's counters, as JSON, to tell a late scope's cause (its
    learning, its throttles, its transient retries) in a slow run."""
    scopes = {
        f"{k.account}/{k.region}/{k.service}/{k.group}": dataclasses.asdict(v)
        for k, v in pool.statistics().scopes.items()
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"ends": ends, "scopes": scopes}, f, indent=1, default=str)


# -- 6. aioboto3, expert: what a careful engineer writes by hand (issue 18)
#
# Everything aioboto3_best does (one client per (region, service) for every account, the
# account's credentials per request), and: one SSL context for all clients (aiobotocore
# builds and loads the CA bundle into one per client), the collector's thresholds raised
# and the warmed-up heap frozen (gc.freeze: the models loaded at start-up are never
# scanned again), pages at the API's maximum size, units of (account, region, service) so
# services run side by side, and tasks started only as the semaphore admits them (a
# crawl of 16,000 units keeps ``concurrency`` tasks alive, not 16,000).  Two things a
# profile of it shows and botocore's public knobs fix: ISO timestamps parsed by
# ``datetime.fromisoformat`` instead of dateutil (``set_parser_defaults``; the same
# aware datetimes), one paginator per client (``get_paginator`` builds its docstrings
# each time), and a User-Agent of its own (``Config(user_agent=...)``: botocore then sends
# that string instead of assembling its own from ~30 components on every request).

EXPERT_GC_THRESHOLD = (50_000, 50, 100)
EXPERT_USER_AGENT = "crawl-bench-expert/1.0"


def _expert_http_session_cls() -> type:
    """aiobotocore's aiohttp session whose connectors share one SSL context (per CA
    bundle: ``verify`` is True, or a path such as ``REQUESTS_CA_BUNDLE``'s)."""
    import ssl

    import aiohttp
    from aiobotocore.httpsession import AIOHTTPSession
    from botocore.httpsession import create_urllib3_context, get_cert_path

    contexts: dict[Any, ssl.SSLContext] = {}

    def shared(verify: Any) -> ssl.SSLContext:
        context = contexts.get(verify)
        if context is None:
            context = contexts[verify] = create_urllib3_context()
            context.load_verify_locations(get_cert_path(verify), None, None)
        return context

    class SharedSSLSession(AIOHTTPSession):  # type: ignore[misc]
        def _create_connector(self, proxy_url: str | None) -> aiohttp.TCPConnector:
            if proxy_url or self._cert_file or not self._verify:
                return super()._create_connector(proxy_url)
            return aiohttp.TCPConnector(
                limit=self._max_pool_connections,
                ssl=shared(self._verify),
                **self._connector_args,
            )

    return SharedSSLSession


def _fast_timestamp(value: Any) -> Any:
    """botocore's timestamp parser, ISO 8601 strings by the standard library first."""
    import datetime

    from botocore.utils import parse_timestamp

    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    return parse_timestamp(value)


async def run_aioboto3_expert(
    endpoint_url: str, accounts: list[str], regions: list[str], concurrency: int
) -> list[str]:
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        **SETTINGS.config_kwargs(),
        http_session_cls=_expert_http_session_cls(),
        user_agent=EXPERT_USER_AGENT,
    )
    session = get_session()
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=_fast_timestamp
    )
    management = {
        "aws_access_key_id": SETTINGS.management_key,
        "aws_secret_access_key": SETTINGS.management_secret,
    }
    old_threshold = gc.get_threshold()
    async with AsyncExitStack() as stack:

        async def client(service: str, region: str) -> Any:
            return await stack.enter_async_context(
                session.create_client(
                    service, region_name=region, endpoint_url=endpoint_url, config=config,
                    **management,
                )
            )  # fmt: skip

        sts = await client("sts", SETTINGS.sts_region)
        paginators: dict[tuple[str, str], Any] = {}  # one per (region, service), reused
        for region in regions:
            for service in SETTINGS.services:
                c = await client(service, region)
                c.meta.events.register(f"before-call.{service}", _sign_with_account)
                paginators[region, service] = c.get_paginator(LISTINGS[service].operation)
        # Warmed up (models loaded, clients built): freeze what is there, collect rarely.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*EXPERT_GC_THRESHOLD)
        try:
            return await _expert_crawl(sts, paginators, accounts, regions, concurrency)
        finally:
            gc.set_threshold(*old_threshold)
            gc.unfreeze()


async def _expert_crawl(
    sts: Any,
    paginators: dict[tuple[str, str], Any],
    accounts: list[str],
    regions: list[str],
    concurrency: int,
) -> list[str]:
    from aiobotocore.credentials import AioCredentials

    semaphore = asyncio.Semaphore(concurrency)
    creds_tasks: dict[str, asyncio.Task[AioCredentials]] = {}
    found: list[str] = []

    async def assume(account: str) -> AioCredentials:
        answer = await sts.assume_role(RoleArn=SETTINGS.role_arn(account), RoleSessionName="crawl")
        c = answer["Credentials"]
        return AioCredentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    async def unit(account: str, region: str, listing: ServiceListing) -> None:
        try:
            task = creds_tasks.get(account)
            if task is None:  # once per account; its other units await the same task
                task = creds_tasks[account] = asyncio.ensure_future(assume(account))
            _REQUEST_CREDENTIALS.set(await task)  # this unit's own task: its own context
            ids: list[str] = []
            paginator = paginators[region, listing.service]
            pages = paginator.paginate(PaginationConfig={"PageSize": listing.page_size})
            async for page in pages:
                ids.extend(listing.items(page, account, region))
            found.extend(ids)  # all or nothing: a unit that fails midway adds none
        except Exception as exc:
            record_error(f"{account}/{region}/{listing.service}", exc)
        finally:
            semaphore.release()

    async with asyncio.TaskGroup() as group:
        for account, region, listing in _units(accounts, regions):
            await semaphore.acquire()  # a task only once it may run
            group.create_task(unit(account, region, listing))
    return found


Contender = Callable[[str, list[str], list[str], int], "list[str] | Awaitable[list[str]]"]

CONTENDERS: dict[str, Contender] = {
    "boto3_threads": run_boto3_threads,
    "aioboto3_naive": run_aioboto3_naive,
    "aioboto3_tuned": run_aioboto3_tuned,
    "aioboto3_best": run_aioboto3_best,
    "aioboto3_expert": run_aioboto3_expert,
    "best_with_parts": run_best_with_parts,
    "aiokit": run_aiokit,
    "aiokit_standard": run_aiokit_standard,
    "aiokit_adaptive": run_aiokit_adaptive,
    "aiokit_sequential": run_aiokit_sequential,
}

# What each contender imports, loaded before the clock starts: import time is the same
# for every run and is not what the benchmark compares.
_PRELOAD: dict[str, tuple[str, ...]] = {
    "boto3_threads": ("boto3", "botocore.config"),
    "aioboto3_naive": ("aioboto3", "aiobotocore.config"),
    "aioboto3_tuned": ("aiobotocore.session", "aiobotocore.config"),
    "aioboto3_best": ("aiobotocore.session", "aiobotocore.config", "aiobotocore.credentials"),
    "aioboto3_expert": (
        "aiobotocore.session",
        "aiobotocore.config",
        "aiobotocore.credentials",
        "aiobotocore.httpsession",
        "aiohttp",
    ),
    "best_with_parts": ("aiobotocore.session", "aiobotocore.config", "aiokit"),
    "aiokit": ("aiokit", "aiobotocore.config"),
    "aiokit_standard": ("aiokit", "aiobotocore.config"),
    "aiokit_adaptive": ("aiokit", "aiobotocore.config"),
    "aiokit_sequential": ("aiokit", "aiobotocore.config"),
}


def _rss_kb() -> int:
    """Current resident set size in KiB (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize() // 1024


def _peak_rss_kb() -> int:
    """This process's peak RSS in KiB.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork and exec, so a
    child would inherit the harness's own peak (its RSS at fork time) as a floor.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the contender ``spec`` names; measure it; return the RESULT payload."""
    global SETTINGS
    name = spec["contender"]
    SETTINGS = Settings(**spec.get("settings", {}))
    fn = CONTENDERS[name]
    for module in _PRELOAD.get(name, ()):
        __import__(module)
    args = (spec["endpoint_url"], spec["accounts"], spec["regions"], spec["concurrency"])
    baseline_kb = _rss_kb()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    try:
        result = fn(*args)
        items = asyncio.run(result) if inspect.iscoroutine(result) else result
    except NotImplementedError as exc:
        return {"contender": name, "skipped": f"not implemented: {exc}"}
    makespan = time.perf_counter() - start
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    assert isinstance(items, list)
    return {
        "contender": name,
        "items": items,
        "makespan": makespan,
        "cpu": cpu,
        "peak_rss_kb": _peak_rss_kb(),  # the whole process's peak, imports included
        "baseline_rss_kb": baseline_kb,  # after imports, before the crawl
        "errors": len(ERRORS),
        "error_sample": ERRORS[:5],
    }


def main() -> None:
    spec = json.loads(sys.stdin.read())
    # A contender that balloons (a boto3 Session per account at 1,000 accounts) must fail
    # here, not push the whole machine into swap: cap this child's address space.
    limit = int(spec.get("memory_limit_bytes", 12 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        result = run_child(spec)
    except BaseException as exc:
        result = {"contender": spec.get("contender"), "failed": repr(exc)[:500]}
        traceback.print_exc()
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
