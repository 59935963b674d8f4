"""OpenTelemetry for aiokit: the spans of calls, crawls and targets, and the pool's metrics.

Imported only by ``aiokit.otel.instrument()`` (this module imports ``opentelemetry``,
which plain ``import aiokit`` never does). :class:`Instrumentation` is what it plugs into
``aiokit._observe.tracing``:

- ``call``: one CLIENT span per API call a pool client makes, named ``Service.Operation``
  with the attributes of the semantic conventions for AWS SDK calls (``rpc.system``
  ``aws-api``, ``rpc.service``, ``rpc.method``, ``cloud.region``, ``aws.request_id``,
  ``http.response.status_code``, ``server.address``) and what only aiokit knows
  (``cloud.account.id``, the throttling scope, attempts, retries, throttles and the time
  spent waiting for the scope). It **replaces** ``AiobotocoreInstrumentor``'s span for pool
  clients: while aiokit's span is current the context carries OpenTelemetry's
  ``suppress_instrumentation`` flag, which the instrumentor (and any HTTP instrumentation)
  honours, so enabling both gives one span per call. Clients made outside a pool keep the
  instrumentor's spans.
- ``run`` / ``target``: INTERNAL spans for a fan-out or crawl and for each of its targets,
  current in the tasks that do the work, so every call span hangs under its target's.
- metrics: the duration histogram (``rpc.client.call.duration``, s) and an error counter
  per call; observable counters and gauges read from the scope statistics of every open
  pool (``pool.statistics().scopes``) at each collection: requests, throttles, retries,
  wait time; rate, tokens, in flight per throttling scope.

With opentelemetry-api alone (no tracer provider nor meter provider set or given), nothing
can record: a call skips all of this and goes straight to ``send``, and every
:data:`RECHECK` calls looks again for a provider set since (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context, metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import __version__, _observe
from ._observe import CallTrace, call_trace
from ._where import Scope

__all__ = ["Instrumentation"]

# OpenTelemetry's own flag (the plain-string form of the API's key), honoured by every
# instrumentation built on opentelemetry-instrumentation: AiobotocoreInstrumentor included.
SUPPRESS = "suppress_instrumentation"
_NAME = "aiokit"
# A worker process's run span is parented by the driver's through the job (W3C headers,
# whatever propagator the application set for its own requests).
_W3C = TraceContextTextMapPropagator()

try:  # the API's stand-in for a meter provider not set yet
    from opentelemetry.metrics._internal import _ProxyMeterProvider
except ImportError:  # pragma: no cover - another API version: never judged idle
    _ProxyMeterProvider = None  # type: ignore[assignment, misc]

#: While neither a tracer nor a meter provider is set (opentelemetry-api alone), a call
#: skips the hook and every this many calls it looks again (a provider set later).
RECHECK = 64


def _idle(tracer_provider: Any, meter_provider: Any) -> bool:
    """Whether nothing can record: no SDK tracer provider nor meter provider, given or set."""
    tracers = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    if not isinstance(tracers, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return False
    meters = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    if isinstance(meters, metrics.NoOpMeterProvider):
        return True
    return _ProxyMeterProvider is not None and isinstance(meters, _ProxyMeterProvider)


# The account of the target being visited in this task: a call made as the pool's own
# identity has no account in its scope, but its target says which one it is in (a target
# is visited as the pool only when the pool is in that account).
_target_account: ContextVar[str | None] = ContextVar("aiokit_otel_account", default=None)


def _scope_attributes(key: Any) -> dict[str, str]:
    """The metric attributes of a throttling scope (``ScopeKey``)."""
    attributes = {
        "rpc.system": "aws-api",
        "cloud.provider": "aws",
        "rpc.service": key.service,
        "cloud.region": key.region or "global",
        "aiokit.scope": str(key),
    }
    if key.account is not None:
        attributes["cloud.account.id"] = key.account
    if key.group is not None:
        attributes["aiokit.scope.group"] = key.group
    return attributes


def _error_code(error: BaseException) -> tuple[str, int | None]:
    """``(error.type, HTTP status)`` of a failed call: AWS's error code when it answered."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(code, str) and code:
            return code, status if isinstance(status, int) else None
    return type(error).__qualname__, None


class Instrumentation:
    """The tracer and meter aiokit reports to (see the module docstring)."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self._tracer = trace.get_tracer(_NAME, __version__, tracer_provider=tracer_provider)
        self._providers = (tracer_provider, meter_provider)
        self._idle = _idle(tracer_provider, meter_provider)
        self._until_check = RECHECK
        meter = metrics.get_meter(_NAME, __version__, meter_provider=meter_provider)
        self.active = True
        self._service_ids: dict[str, str] = {}
        self._servers: dict[str, dict[str, Any]] = {}
        self._duration = meter.create_histogram(
            "rpc.client.call.duration",
            unit="s",
            description="Duration of the AWS API calls made by aiokit pool clients.",
        )
        self._errors = meter.create_counter(
            "aiokit.errors", unit="{error}", description="AWS API calls that failed."
        )
        self._observe_scopes(meter)

    # --- metrics read from pool.statistics() -------------------------------------------

    def _observe_scopes(self, meter: Any) -> None:
        counters = {
            "aiokit.requests": ("requests", "{request}", "HTTP attempts sent."),
            "aiokit.throttles": ("throttles", "{throttle}", "Throttled responses received."),
            "aiokit.retries": ("retries", "{retry}", "HTTP attempts sent again."),
            "aiokit.throttle_retries": (
                "throttle_retries",
                "{retry}",
                "HTTP attempts sent again after a throttle.",
            ),
            "aiokit.transient_retries": (
                "transient_retries",
                "{retry}",
                "HTTP attempts sent again after a transient error.",
            ),
            "aiokit.scope.wait": ("waited", "s", "Time requests waited for a slot or token."),
        }
        for name, (field, unit, description) in counters.items():
            meter.create_observable_counter(
                name, [self._observer(field)], unit=unit, description=description
            )
        gauges = {
            "aiokit.scope.rate": ("rate", "{request}/s", "Send rate the scope allows now."),
            "aiokit.scope.tokens": ("tokens", "{token}", "Tokens in the scope's bucket now."),
            "aiokit.scope.in_flight": ("in_flight", "{request}", "Requests in flight now."),
        }
        for name, (field, unit, description) in gauges.items():
            meter.create_observable_gauge(
                name, [self._observer(field)], unit=unit, description=description
            )

    def _observer(self, field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            return self._observations(field)

        return observe

    def _observations(self, field: str) -> list[Observation]:
        """One observation per scope of every open pool (summed over pools)."""
        if not self.active:
            return []
        totals: dict[Any, float] = {}
        for registry in list(_observe.scopes):
            for key, stats in registry.statistics().items():
                value = getattr(stats, field)
                if value is None:  # a scope with no bucket: no rate to report
                    continue
                totals[key] = totals.get(key, 0) + value
        return [Observation(value, _scope_attributes(key)) for key, value in totals.items()]

    # --- one API call ------------------------------------------------------------------

    def _service_id(self, client: Any, service: str) -> str:
        name = self._service_ids.get(service)
        if name is None:
            name = self._service_ids[service] = str(client.meta.service_model.service_id)
        return name

    def _server(self, client: Any) -> dict[str, Any]:
        url = str(client.meta.endpoint_url)
        server = self._servers.get(url)
        if server is None:
            parts = urlsplit(url)
            server = {}
            if parts.hostname:
                server = {"server.address": parts.hostname, "server.port": parts.port or 443}
            self._servers[url] = server
        return server

    async def call(
        self,
        client: Any,
        scope: Scope,
        operation: str,
        api_params: dict[str, Any],
        send: Callable[[str, dict[str, Any]], Awaitable[Any]],
    ) -> Any:
        """``send(operation, api_params)`` in its CLIENT span; its duration and errors."""
        if self._idle:  # opentelemetry-api alone: nothing would record (see RECHECK)
            self._until_check -= 1
            if self._until_check > 0:
                return await send(operation, api_params)
            self._until_check = RECHECK
            self._idle = _idle(*self._providers)
            if self._idle:
                return await send(operation, api_params)
        service_id = self._service_id(client, scope.service)
        attributes: dict[str, Any] = {
            "rpc.system": "aws-api",
            "rpc.service": service_id,
            "rpc.method": operation,
            "cloud.region": scope.region or "global",
        }
        account = scope.account or _target_account.get()
        if account is not None:
            attributes["cloud.account.id"] = account
        start = time.perf_counter()
        span = self._tracer.start_span(
            f"{service_id}.{operation}",
            kind=SpanKind.CLIENT,
            attributes={**attributes, **self._server(client)},
        )
        if not span.get_span_context().is_valid:  # no SDK: nothing records; the metrics
            # (a sampled-out span has a valid context: it is made current below, so what
            # the call makes is sampled out with it and AiobotocoreInstrumentor stays out)
            try:
                response = await send(operation, api_params)
            except BaseException as exc:
                self._failed(attributes, exc, start)
                raise
            self._duration.record(time.perf_counter() - start, attributes)
            return response
        return await self._traced(span, attributes, operation, api_params, send, start)

    async def _traced(
        self,
        span: Any,
        attributes: dict[str, Any],
        operation: str,
        api_params: dict[str, Any],
        send: Callable[[str, dict[str, Any]], Awaitable[Any]],
        start: float,
    ) -> Any:
        record = CallTrace()
        trace_token = call_trace.set(record)
        ctx = context.set_value(SUPPRESS, True, trace.set_span_in_context(span))
        token = context.attach(ctx)
        try:
            response = await send(operation, api_params)
        except BaseException as exc:
            context.detach(token)
            call_trace.reset(trace_token)
            code, status = _error_code(exc)
            meta = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {})
            _set_call_attributes(span, record, meta)
            span.set_attribute("error.type", code)
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            span.set_status(Status(StatusCode.ERROR, code))
            span.end()
            self._failed(attributes, exc, start)
            raise
        context.detach(token)
        call_trace.reset(trace_token)
        meta = response.get("ResponseMetadata", {}) if isinstance(response, dict) else {}
        _set_call_attributes(span, record, meta)
        status = meta.get("HTTPStatusCode")
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        span.end()
        self._duration.record(time.perf_counter() - start, attributes)
        return response

    def _failed(self, attributes: dict[str, Any], exc: BaseException, start: float) -> None:
        failed = {**attributes, "error.type": _error_code(exc)[0]}
        self._duration.record(time.perf_counter() - start, failed)
        self._errors.add(1, failed)

    # --- fan-outs, crawls and their targets ----------------------------------------------

    def run(self, label: str, targets: int | None, parent: dict[str, str] | None) -> Any:
        """The INTERNAL span of a fan-out or crawl; its parent: the caller's context, or
        the one ``parent`` carries (a driver's, for a worker process's run)."""
        attributes: dict[str, Any] = {"aiokit.run": label}
        if targets is not None:
            attributes["aiokit.targets"] = targets
        ctx = _W3C.extract(parent) if parent else None
        return self._tracer.start_span(f"aiokit {label}", context=ctx, attributes=attributes)

    def carrier(self, span: Any) -> dict[str, str]:
        """``span``'s context as W3C trace context headers (``traceparent``)."""
        headers: dict[str, str] = {}
        _W3C.inject(headers, context=trace.set_span_in_context(span))
        return headers

    def run_finished(self, span: Any, statistics: Any, error: BaseException | None) -> None:
        """End the run's span with its counts."""
        if span.is_recording():
            span.set_attributes(
                {
                    "aiokit.ok": statistics.ok,
                    "aiokit.skipped": statistics.skipped,
                    "aiokit.failed": statistics.failed,
                    "aiokit.items": statistics.items,
                    "aiokit.calls": statistics.calls,
                    "aiokit.retries": statistics.retries,
                    "aiokit.throttles": statistics.throttles,
                    "aiokit.deadline_reached": statistics.deadline_reached,
                    "aiokit.interrupted": statistics.interrupted,
                }
            )
            if isinstance(error, asyncio.CancelledError | GeneratorExit):
                span.set_attribute("aiokit.stopped_early", True)  # not an error: a stop
            elif error is not None:
                span.set_attribute("error.type", type(error).__qualname__)
                span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
        span.end()

    def enter(self, span: Any) -> Any:
        """Make ``span`` current in this task (and so in the tasks it starts)."""
        return context.attach(trace.set_span_in_context(span))

    def leave(self, token: Any) -> None:
        """Undo ``enter`` (in the same task)."""
        context.detach(token)

    def target(self, account: str | None, region: str | None, listing: str | None) -> Any:
        """A target's INTERNAL span, current in this task until ``target_finished``."""
        attributes: dict[str, Any] = {"cloud.region": region or "global"}
        if account is not None:
            attributes["cloud.account.id"] = account
        if listing is not None:
            attributes["aiokit.listing"] = listing
        span = self._tracer.start_span("aiokit target", attributes=attributes)
        return span, context.attach(trace.set_span_in_context(span)), _target_account.set(account)

    def target_finished(self, handle: Any, outcome: Any, items: int) -> None:
        """End a target's span: status, reason, items, calls, retries, throttles."""
        span, token, account = handle
        _target_account.reset(account)
        context.detach(token)
        if span.is_recording():
            if outcome is None:  # cancelled (deadline, consumer left), or a bug in fn that
                # stopped the run (the run's span has it as its error)
                span.set_attribute("aiokit.status", "interrupted")
            else:
                _set_outcome_attributes(span, outcome, items)
        span.end()


def _set_call_attributes(span: Any, record: CallTrace, meta: dict[str, Any]) -> None:
    request_id = meta.get("RequestId")
    if request_id is None:
        headers = meta.get("HTTPHeaders") or {}
        request_id = headers.get("x-amzn-requestid") or headers.get("x-amz-request-id")
    if request_id:
        span.set_attribute("aws.request_id", request_id)
    retries = meta.get("RetryAttempts")
    if retries is None:  # no answer at all: every attempt but the first was a retry
        retries = max(record.attempts - 1, 0)
    span.set_attributes(
        {
            "retry_attempts": retries,  # as AiobotocoreInstrumentor names it
            "aiokit.attempts": record.attempts,
            "aiokit.throttles": record.throttles,
            "aiokit.throttle_retries": record.throttle_retries,
            "aiokit.transient_retries": record.transient_retries,
            "aiokit.throttle.wait": record.waited,
        }
    )
    if record.scope is not None:
        span.set_attribute("aiokit.scope", str(record.scope))


def _set_outcome_attributes(span: Any, outcome: Any, items: int) -> None:
    status = outcome.status.value
    span.set_attributes(
        {
            "aiokit.status": status,
            "aiokit.items": items,
            "aiokit.calls": outcome.calls,
            "aiokit.retries": outcome.retries,
            "aiokit.throttles": outcome.throttles,
        }
    )
    if outcome.reason is not None:
        span.set_attribute("aiokit.reason", outcome.reason)
    if status == "failed":
        code = _error_code(outcome.error)[0] if outcome.error is not None else "failed"
        span.set_attribute("error.type", code)
        span.set_status(Status(StatusCode.ERROR, outcome.reason or code))
