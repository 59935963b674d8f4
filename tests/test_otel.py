"""aiokit.otel on moto, read back through the OpenTelemetry SDK's in-memory exporters.

One span per API call with the AWS SDK attributes (account included), as three identities;
crawl and target spans with the right parents; metrics equal to ``pool.statistics()``;
``AiobotocoreInstrumentor`` enabled too and still one span per call; throttles and errors
on their spans; without opentelemetry, aiokit works and ``instrument()`` names the extra.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.session import AioSession
from opentelemetry import trace
from opentelemetry.instrumentation.botocore import AiobotocoreInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import aiokit
import aiokit.otel
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization

if TYPE_CHECKING:
    from aiokit.testing import FaultProxy
    from tests.conftest import OrgPool

pytestmark = pytest.mark.asyncio

ROLE = "OrganizationAccountAccessRole"


@dataclass
class Otel:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider

    def finished(self, name: str | None = None) -> list[ReadableSpan]:
        spans = list(self.spans.get_finished_spans())
        return [s for s in spans if name is None or s.name == name]

    def points(self, metric: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        if data is None:  # nothing measured yet
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for m in scope.metrics
            if m.name == metric
            for point in m.data.data_points
        ]


@pytest.fixture
def otel() -> Iterator[Otel]:
    """aiokit.otel on an SDK tracer and meter of this test's own (global state restored)."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    aiokit.otel.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield Otel(exporter, reader, tracer_provider)
    finally:
        aiokit.otel.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()


@pytest.fixture
def instrumentor(otel: Otel) -> Iterator[AiobotocoreInstrumentor]:
    """opentelemetry-instrumentation-botocore's AiobotocoreInstrumentor, on the same tracer."""
    instrumentor = AiobotocoreInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


def _check_call_span(span: ReadableSpan, account: str | None) -> None:
    attributes = dict(span.attributes or {})
    assert span.kind is SpanKind.CLIENT
    assert span.name == "SQS.ListQueues"
    assert attributes["rpc.system"] == "aws-api"
    assert attributes["rpc.service"] == "SQS"
    assert attributes["rpc.method"] == "ListQueues"
    assert attributes["cloud.region"] == "us-east-1"
    assert attributes.get("cloud.account.id") == account
    assert attributes["http.response.status_code"] == 200
    assert isinstance(attributes["aws.request_id"], str) and attributes["aws.request_id"]
    assert attributes["retry_attempts"] == 0
    assert attributes["aiokit.attempts"] == 1
    assert attributes["aiokit.throttles"] == 0
    assert attributes["aiokit.scope"] == f"sqs us-east-1 {account or 'self'}"
    assert attributes["aiokit.throttle.wait"] >= 0
    assert span.status.status_code is StatusCode.UNSET


async def test_one_span_per_call_as_three_identities(
    otel: Otel, org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    members = fake_organization.account_ids[:3]
    async with org_pool() as pool:
        for account in members:
            sqs = await pool.client("sqs", account=account)
            await sqs.list_queues()
        own = await pool.client("sqs")
        await own.list_queues()
    calls = otel.finished("SQS.ListQueues")
    assert len(calls) == 4
    for span, account in zip(calls, [*members, None], strict=True):
        _check_call_span(span, account)
    # Each member's credentials came from STS: its AssumeRole call is a span too, inside
    # the first call made as that member (the pool fetches credentials on first use).
    assume = otel.finished("STS.AssumeRole")
    assert len(assume) == 3
    assert {s.parent.span_id for s in assume if s.parent} == {c.context.span_id for c in calls[:3]}


async def test_a_targets_calls_carry_its_account_the_pools_own_included(
    otel: Otel, org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    own = fake_organization.management_account
    member = fake_organization.account_ids[0]
    # No identity: the pool itself in its own account, its role in the member account.
    targets = [aiokit.Target(own, "us-east-1"), aiokit.Target(member, "us-east-1")]
    async with org_pool() as pool:
        async with pool.crawl("sqs", "list_queues", targets) as crawl:
            [_ async for _ in crawl]
    assert crawl.report.counts == {"ok": 2}
    calls = otel.finished("SQS.ListQueues")
    assert sorted(s.attributes["cloud.account.id"] for s in calls if s.attributes) == sorted(
        [own, member]
    )
    for span in calls:
        assert span.attributes is not None
        account = span.attributes["cloud.account.id"]
        (target,) = [
            t
            for t in otel.finished("aiokit target")
            if span.parent is not None and t.context.span_id == span.parent.span_id
        ]
        assert target.attributes is not None
        assert target.attributes["cloud.account.id"] == account
        # The pool's own identity: its throttling scope has no account, the span has it.
        scope = "self" if account == own else account
        assert span.attributes["aiokit.scope"] == f"sqs us-east-1 {scope}"


async def test_crawl_and_target_spans_have_the_right_parents(
    otel: Otel, org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    accounts = fake_organization.account_ids[:3]
    targets = [aiokit.Target.assume(a, "us-east-1", ROLE) for a in accounts]
    tracer = otel.tracer_provider.get_tracer("test")
    async with org_pool() as pool:
        for i, account in enumerate(accounts):
            sqs = await pool.client("sqs", account=account)
            for n in range(i + 1):
                await sqs.create_queue(QueueName=f"otel-{n}")
        otel.spans.clear()
        with tracer.start_as_current_span("job") as job:
            async with pool.crawl("sqs", "list_queues", targets, concurrency=2) as crawl:
                items = [item async for item in crawl]
    assert len(items) == 6
    (run,) = otel.finished("aiokit crawl sqs list_queues")
    assert run.kind is SpanKind.INTERNAL
    assert run.parent is not None and run.parent.span_id == job.get_span_context().span_id
    assert run.attributes is not None
    assert run.attributes["aiokit.ok"] == 3 and run.attributes["aiokit.items"] == 6
    assert run.attributes["aiokit.targets"] == 3
    per_target = {}
    for span in otel.finished("aiokit target"):
        assert span.parent is not None and span.parent.span_id == run.context.span_id
        assert span.attributes is not None
        per_target[span.attributes["cloud.account.id"]] = span
        assert span.attributes["aiokit.status"] == "ok"
    assert set(per_target) == set(accounts)
    for i, account in enumerate(accounts):
        target = per_target[account]
        assert target.attributes is not None
        assert target.attributes["aiokit.items"] == i + 1
        calls = [
            s
            for s in otel.finished("SQS.ListQueues")
            if s.parent is not None and s.parent.span_id == target.context.span_id
        ]
        assert len(calls) == target.attributes["aiokit.calls"] == 1
        _check_call_span(calls[0], account)


async def test_a_failed_target_and_a_failed_call_are_errors(
    otel: Otel, org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    account = fake_organization.account_ids[0]

    async def missing_queue(ctx: aiokit.Context) -> None:
        sqs = await ctx.client("sqs")
        await sqs.get_queue_url(QueueName="no-such-queue")

    async with org_pool() as pool:
        target = aiokit.Target.assume(account, "us-east-1", ROLE)
        async with pool.fan_out(missing_queue, [target]) as outcomes:
            (outcome,) = [o async for o in outcomes]
    assert outcome.status is aiokit.Status.FAILED
    (call,) = otel.finished("SQS.GetQueueUrl")
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes is not None
    code = call.attributes["error.type"]
    assert "NonExistentQueue" in str(code)
    assert call.attributes["http.response.status_code"] == 400
    (span,) = otel.finished("aiokit target")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["aiokit.status"] == "failed"
    assert span.attributes["error.type"] == code
    (run,) = [s for s in otel.finished() if s.name.startswith("aiokit fan-out ")]
    assert run.name.endswith("missing_queue")
    assert run.attributes is not None and run.attributes["aiokit.failed"] == 1
    (errors,) = otel.points("aiokit.errors")
    assert errors.value == 1
    assert errors.attributes["error.type"] == code
    assert errors.attributes["cloud.account.id"] == account


async def test_metrics_equal_the_pool_statistics(
    otel: Otel, org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    targets = [aiokit.Target.assume(a, "us-east-1", ROLE) for a in fake_organization.account_ids]
    async with org_pool() as pool:
        async with pool.crawl("sqs", "list_queues", targets) as crawl:
            [_ async for _ in crawl]
        stats = pool.statistics()
        by_scope = {str(key): s for key, s in stats.scopes.items()}
        for metric, field in [
            ("aiokit.requests", "requests"),
            ("aiokit.throttles", "throttles"),
            ("aiokit.retries", "retries"),
            ("aiokit.scope.in_flight", "in_flight"),
            ("aiokit.scope.wait", "waited"),
        ]:
            points = {p.attributes["aiokit.scope"]: p.value for p in otel.points(metric)}
            assert points == {k: getattr(s, field) for k, s in by_scope.items()}, metric
        tokens = {p.attributes["aiokit.scope"] for p in otel.points("aiokit.scope.tokens")}
        assert tokens == set(by_scope)
    # 6 SQS scopes (one per account) and STS: every call's duration is in the histogram.
    assert sum(by_scope[str(k)].requests for k in stats.scopes) == 12
    durations = otel.points("rpc.client.call.duration")
    assert sum(p.count for p in durations) == 12
    sqs = [p for p in durations if p.attributes["rpc.service"] == "SQS"]
    assert {p.attributes["cloud.account.id"] for p in sqs} == set(fake_organization.account_ids)
    # A closed pool is no longer observed.
    assert otel.points("aiokit.scope.in_flight") == []


async def test_metrics_of_a_throttled_and_failing_scope_equal_its_statistics(
    otel: Otel, aws_faults: FaultProxy
) -> None:
    # Throttled (a bucket of 2, refilled at 1/s) and 30 % HTTP 500s: every counter moves.
    aws_faults.configure(throttle={"sqs": (2.0, 1.0)}, fail_rate=0.3, seed=7)
    async with aiokit.SessionPool(
        endpoint_url=aws_faults.endpoint_url, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        sqs = await pool.client("sqs")
        for _ in range(6):
            await sqs.list_queues()
        (key, scope) = next(iter(pool.statistics().scopes.items()))
        assert scope.throttles > 0 and scope.transient_retries > 0 and scope.rate is not None
        for metric, value in [
            ("aiokit.requests", scope.requests),
            ("aiokit.throttles", scope.throttles),
            ("aiokit.retries", scope.retries),
            ("aiokit.throttle_retries", scope.throttle_retries),
            ("aiokit.transient_retries", scope.transient_retries),
            ("aiokit.scope.rate", scope.rate),
        ]:
            points = {p.attributes["aiokit.scope"]: p.value for p in otel.points(metric)}
            assert points == {str(key): pytest.approx(value)}, metric
    assert scope.requests == aws_faults.requests
    assert scope.throttles == aws_faults.throttles


async def test_throttles_and_waits_are_on_the_call_span(otel: Otel, aws_faults: FaultProxy) -> None:
    aws_faults.configure(throttle={"sqs": (2.0, 1.0)})
    async with aiokit.SessionPool(
        endpoint_url=aws_faults.endpoint_url, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        sqs = await pool.client("sqs")
        for _ in range(4):
            await sqs.list_queues()
        (scope,) = pool.statistics().scopes.values()
    calls = otel.finished("SQS.ListQueues")
    assert len(calls) == 4
    attributes = [dict(s.attributes or {}) for s in calls]
    assert aws_faults.throttles > 0
    assert sum(a["aiokit.throttles"] for a in attributes) == scope.throttles == aws_faults.throttles
    assert sum(a["aiokit.throttle_retries"] for a in attributes) == scope.throttle_retries
    assert sum(a["aiokit.attempts"] for a in attributes) == scope.requests
    assert sum(a["retry_attempts"] for a in attributes) == scope.retries
    assert sum(a["aiokit.throttle.wait"] for a in attributes) == pytest.approx(
        scope.waited, abs=1e-3
    )  # measured around the limiter's own measurement
    assert all(s.status.status_code is StatusCode.UNSET for s in calls)  # waited out, not failed


async def test_with_aiobotocore_instrumentor_too_one_span_per_call(
    otel: Otel,
    instrumentor: AiobotocoreInstrumentor,
    org_pool: OrgPool,
    fake_organization: FakeOrganization,
    moto_endpoint: str,
) -> None:
    # The instrumentor is really on: a client made outside the pool gets its span.
    async with AioSession().create_client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id=TEST_CREDENTIALS.access_key_id,
        aws_secret_access_key=TEST_CREDENTIALS.secret_access_key,
    ) as plain:
        await plain.list_queues()
    (theirs,) = otel.finished("SQS.ListQueues")
    assert theirs.instrumentation_scope is not None
    assert theirs.instrumentation_scope.name == "opentelemetry.instrumentation.botocore.sqs"
    otel.spans.clear()
    account = fake_organization.account_ids[1]
    async with org_pool() as pool:
        sqs = await pool.client("sqs", account=account)
        await sqs.list_queues()
        await sqs.list_queues()
    calls = otel.finished("SQS.ListQueues")
    assert len(calls) == 2
    assert len(otel.finished("STS.AssumeRole")) == 1
    for span in otel.finished():
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "aiokit"
    for span in calls:
        _check_call_span(span, account)


async def test_off_and_api_only_make_no_spans(
    org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert not aiokit.otel.instrumented()
    async with org_pool() as pool:
        sqs = await pool.client("sqs")
        with provider.get_tracer("test").start_as_current_span("outer"):
            await sqs.list_queues()  # off: nothing reported
        assert [s.name for s in exporter.get_finished_spans()] == ["outer"]
        # The global providers of a process without the SDK: calls work, nothing records.
        aiokit.otel.instrument()
        try:
            assert aiokit.otel.instrumented()
            assert not trace.get_current_span().is_recording()
            assert (await sqs.list_queues())["ResponseMetadata"]["HTTPStatusCode"] == 200
        finally:
            aiokit.otel.uninstrument()
    assert not aiokit.otel.instrumented()
    provider.shutdown()


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"tracer_provider": "global"}, "tracer_provider must be an opentelemetry.trace"),
        ({"tracer_provider": 0}, "not int"),
        ({"meter_provider": TracerProvider()}, "meter_provider must be an opentelemetry.metrics"),
        ({"meter_provider": [MeterProvider()]}, "not list"),
    ],
)
def test_instrument_refuses_a_provider_of_the_wrong_type(
    kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises(aiokit.ConfigurationError, match=named):
        aiokit.otel.instrument(**kwargs)
    assert not aiokit.otel.instrumented()
    for value in kwargs.values():
        if hasattr(value, "shutdown"):
            value.shutdown()


def test_without_opentelemetry_aiokit_works_and_instrument_names_the_extra(
    moto_endpoint: str,
) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["opentelemetry"] = None  # an install without aiokit[otel]
        import anyio
        import aiokit, aiokit.otel
        from aiokit.testing import TEST_CREDENTIALS

        async def main():
            async with aiokit.SessionPool(
                endpoint_url={moto_endpoint!r}, region="us-east-1", credentials=TEST_CREDENTIALS
            ) as pool:
                sqs = await pool.client("sqs")
                print("status", (await sqs.list_queues())["ResponseMetadata"]["HTTPStatusCode"])

        anyio.run(main)
        try:
            aiokit.otel.instrument()
        except aiokit.MissingDependencyError as exc:
            assert isinstance(exc, aiokit.ConfigurationError)
            print("ERROR", exc)
        assert not aiokit.otel.instrumented()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "status 200" in done.stdout
    assert "ERROR aiokit.otel needs opentelemetry-api, which is not installed" in done.stdout
    assert "pip install 'aiokit[otel]'" in done.stdout


async def test_a_crawl_in_worker_processes_has_the_drivers_span(
    otel: Otel, org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    targets = [aiokit.Target.assume(a, "us-east-1", ROLE) for a in fake_organization.account_ids]
    async with org_pool() as pool:
        crawl = pool.crawl("sqs", "list_queues", targets, runner=aiokit.Processes(2))
        _, report = await crawl.collect()
    assert report.counts == {"ok": 6}
    # The workers are not instrumented here (spawned processes): only the driver's span.
    (run,) = otel.finished("aiokit crawl sqs list_queues")
    assert run.attributes is not None
    assert run.attributes["aiokit.ok"] == 6 and run.attributes["aiokit.targets"] == 6
    assert otel.finished("aiokit target") == []


async def test_a_workers_run_is_parented_by_the_context_its_job_carries(
    otel: Otel, org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from aiokit._fleet.limits import FanOutLimits
    from aiokit._fleet.runners import CrawlJob
    from aiokit._workers import shard_messages

    driver = otel.tracer_provider.get_tracer("test").start_span("driver crawl")
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, trace.set_span_in_context(driver))
    driver.end()
    targets = tuple(
        aiokit.Target.assume(a, "us-east-1", ROLE) for a in fake_organization.account_ids[:2]
    )
    job = CrawlJob(
        None, "sqs", "list_queues", {}, None, FanOutLimits(), targets, trace_context=carrier
    )
    async with org_pool() as pool:  # what a worker process runs, on its own pool
        messages = [m async for m in shard_messages(job, pool)]
    assert [m[0] for m in messages] == ["outcome", "outcome", "done"]
    (run,) = otel.finished("aiokit crawl sqs list_queues")
    assert run.parent is not None
    assert run.parent.span_id == driver.get_span_context().span_id
    assert run.context.trace_id == driver.get_span_context().trace_id
    targets_spans = otel.finished("aiokit target")
    assert len(targets_spans) == 2
    assert all(s.parent and s.parent.span_id == run.context.span_id for s in targets_spans)


async def test_metrics_collected_from_another_thread_during_a_crawl(
    otel: Otel, org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    # The SDK's periodic reader collects in a thread of its own while the pool works.
    import anyio

    targets = [
        aiokit.Target.assume(a, r, ROLE)
        for a in fake_organization.account_ids
        for r in ("us-east-1", "eu-west-1")
    ]
    seen: list[float] = []

    def collect() -> None:
        seen.append(sum(p.value for p in otel.points("aiokit.requests")))

    done = False

    async def poll() -> None:
        while not done:
            await anyio.to_thread.run_sync(collect)

    async with org_pool() as pool:
        async with anyio.create_task_group() as group:
            group.start_soon(poll)
            async with pool.crawl("sqs", "list_queues", targets, concurrency=4) as crawl:
                async for _ in crawl:
                    pass
            done = True
        collect()
        total = sum(s.requests for s in pool.statistics().scopes.values())
    assert crawl.report.counts == {"ok": 12}
    assert seen == sorted(seen) and seen[-1] == total


def test_off_aiokit_never_imports_opentelemetry(moto_endpoint: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import anyio
        import aiokit, aiokit.otel
        from aiokit.testing import TEST_CREDENTIALS

        async def main():
            async with aiokit.SessionPool(
                endpoint_url={moto_endpoint!r}, region="us-east-1", credentials=TEST_CREDENTIALS
            ) as pool:
                await (await pool.client("sqs")).list_queues()
                targets = [aiokit.Target(None, "us-east-1")]
                await pool.crawl("sqs", "list_queues", targets).collect()

        anyio.run(main)
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


async def test_a_crawl_left_early_is_stopped_not_failed(
    otel: Otel, org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    targets = [aiokit.Target.assume(a, "us-east-1", ROLE) for a in fake_organization.account_ids]
    async with org_pool() as pool:
        async with pool.crawl("sqs", "list_queues", targets, concurrency=1) as crawl:
            async for event in crawl.events():
                if isinstance(event, aiokit.Outcome):
                    break  # the consumer leaves after the first target
    (run,) = otel.finished("aiokit crawl sqs list_queues")
    assert run.attributes is not None
    assert run.attributes["aiokit.stopped_early"] is True
    assert run.status.status_code is StatusCode.UNSET
    statuses = [s.attributes["aiokit.status"] for s in otel.finished("aiokit target")]
    assert statuses.count("ok") >= 1 and len(statuses) < len(targets)
    assert set(statuses) <= {"ok", "interrupted"}
    assert all(s.status.status_code is StatusCode.UNSET for s in otel.finished("aiokit target"))


def test_a_sync_facade_call_is_a_child_of_the_callers_span(otel: Otel, moto_endpoint: str) -> None:
    import aiokit.sync

    pool = aiokit.sync.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    )
    try:
        sqs = pool.client("sqs")
        with otel.tracer_provider.get_tracer("test").start_as_current_span("script") as script:
            sqs.list_queues()
        sqs.list_queues()  # no span current: a root span
    finally:
        pool.close()
    first, second = otel.finished("SQS.ListQueues")
    assert first.parent is not None
    assert first.parent.span_id == script.get_span_context().span_id
    assert second.parent is None


WORKER_SCRIPT = """
import json
import os
import sys

import anyio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import aiokit
import aiokit.otel
from aiokit.testing import TEST_CREDENTIALS

OUT = os.environ["AIOKIT_TEST_SPANS"]


class FileExporter(SpanExporter):
    def export(self, spans):
        with open(os.path.join(OUT, f"{os.getpid()}.jsonl"), "a") as f:
            for s in spans:
                parent = s.parent.span_id if s.parent else None
                row = {"name": s.name, "id": s.context.span_id, "parent": parent,
                       "trace": s.context.trace_id, "pid": os.getpid()}
                f.write(json.dumps(row) + "\\n")
        return SpanExportResult.SUCCESS


# At import: a spawned worker imports this module again, and so is set up too.
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(FileExporter()))
aiokit.otel.instrument(tracer_provider=provider)


async def main(endpoint, role, accounts):
    targets = [aiokit.Target.assume(a, "us-east-1", role) for a in accounts]
    async with aiokit.SessionPool(
        endpoint_url=endpoint, region="us-east-1", credentials=TEST_CREDENTIALS, role=role
    ) as pool:
        crawl = pool.crawl("sqs", "list_queues", targets, runner=aiokit.Processes(2))
        _, report = await crawl.collect()
    print(report.counts)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3].split(","))
"""


def test_spawned_workers_parent_their_spans_under_the_drivers_crawl(
    fake_organization: FakeOrganization, tmp_path: Any
) -> None:
    import json
    import os
    from pathlib import Path

    script = tmp_path / "crawl_script.py"
    script.write_text(WORKER_SCRIPT)
    spans_dir = tmp_path / "spans"
    spans_dir.mkdir()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "AIOKIT_TEST_SPANS": str(spans_dir), "PYTHONPATH": str(root)}
    # moto's account ids are random, so four in a row land on one shard one run in eight
    # (seen in CI), and a worker given no targets runs no crawl: take four accounts from
    # both shards where the organization has them, and expect one run per shard used.
    from aiokit._fleet.runners import shard_of

    def shard(account: str) -> int:
        return shard_of(aiokit.Target(account, "us-east-1"), 2)

    ids = fake_organization.account_ids
    firsts = [next(a for a in ids if shard(a) == s) for s in {shard(a) for a in ids}]
    accounts = firsts + [a for a in ids if a not in firsts][: 4 - len(firsts)]
    shards_used = {shard(a) for a in accounts}
    args = (fake_organization.role_name, ",".join(accounts))
    done = subprocess.run(
        [sys.executable, str(script), fake_organization.endpoint_url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "{'ok': 4}" in done.stdout
    rows = [json.loads(line) for f in spans_dir.iterdir() for line in f.read_text().splitlines()]
    driver_pid = {r["pid"] for r in rows if r["parent"] is None}
    (driver,) = [r for r in rows if r["name"] == "aiokit crawl sqs list_queues"]
    assert driver["parent"] is None
    # A worker's job names the operation as botocore does (the driver checked it).
    worker_runs = [r for r in rows if r["name"] == "aiokit crawl sqs ListQueues"]
    assert len(worker_runs) == len(shards_used)  # one per worker process given targets
    assert {r["pid"] for r in worker_runs}.isdisjoint(driver_pid)
    assert all(r["parent"] == driver["id"] and r["trace"] == driver["trace"] for r in worker_runs)
    run_ids = {r["id"] for r in worker_runs}
    targets = [r for r in rows if r["name"] == "aiokit target"]
    assert len(targets) == 4 and all(t["parent"] in run_ids for t in targets)
    target_ids = {t["id"] for t in targets}
    calls = [r for r in rows if r["name"] == "SQS.ListQueues"]
    assert len(calls) == 4 and all(c["parent"] in target_ids for c in calls)


async def test_a_sampled_out_call_is_not_traced_by_the_instrumentor_either(
    moto_endpoint: str,
) -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    aiokit.otel.instrument(tracer_provider=provider)
    instrumentor = AiobotocoreInstrumentor()
    # The instrumentor samples everything: only aiokit's span being current keeps it out.
    everything = TracerProvider()
    everything.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor.instrument(tracer_provider=everything)
    try:
        async with aiokit.SessionPool(
            endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
        ) as pool:
            await (await pool.client("sqs")).list_queues()
    finally:
        instrumentor.uninstrument()
        aiokit.otel.uninstrument()
        provider.shutdown()
        everything.shutdown()
    assert exporter.get_finished_spans() == ()


async def test_instrument_again_replaces_the_providers(otel: Otel, org_pool: OrgPool) -> None:
    second = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(second))
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    aiokit.otel.instrument(tracer_provider=provider, meter_provider=meters)
    try:
        async with org_pool() as pool:
            await (await pool.client("sqs")).list_queues()
            assert otel.points("aiokit.requests") == []  # the first reader's: off now
            data = reader.get_metrics_data()
            assert data is not None
            names = {
                m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics
            }
            assert {"aiokit.requests", "rpc.client.call.duration"} <= names
    finally:
        aiokit.otel.uninstrument()
        provider.shutdown()
        meters.shutdown()
    assert otel.finished() == []
    assert [s.name for s in second.get_finished_spans()] == ["SQS.ListQueues"]


def test_with_the_api_alone_calls_skip_the_hook_until_a_provider_is_set(
    moto_endpoint: str,
) -> None:
    # In a process of its own: the global providers are set once per process.
    script = textwrap.dedent(
        f"""
        import anyio
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        import aiokit, aiokit.otel
        from aiokit import _observe, _otel
        from aiokit.testing import TEST_CREDENTIALS

        aiokit.otel.instrument()  # before any provider is set: nothing can record yet
        assert _observe.tracing._idle

        async def main():
            async with aiokit.SessionPool(
                endpoint_url={moto_endpoint!r}, region="us-east-1", credentials=TEST_CREDENTIALS
            ) as pool:
                sqs = await pool.client("sqs")
                for _ in range(10):
                    await sqs.list_queues()
                exporter = InMemorySpanExporter()
                provider = TracerProvider()
                provider.add_span_processor(SimpleSpanProcessor(exporter))
                trace.set_tracer_provider(provider)  # the application sets the SDK up later
                for _ in range(2 * _otel.RECHECK):
                    await sqs.list_queues()
                print("spans", len(exporter.get_finished_spans()), "idle", _observe.tracing._idle)

        anyio.run(main)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    # RECHECK (64) calls between checks: the first 10 and the next 53 skip the hook, the
    # 64th looks again, finds the SDK, and it and every call after it are traced.
    assert done.stdout.split() == ["spans", str(2 * 64 - 53), "idle", "False"], done.stdout
