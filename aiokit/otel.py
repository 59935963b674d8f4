"""OpenTelemetry traces and metrics for aiokit (``pip install 'aiokit[otel]'``).

One line turns it on, for every pool in the process::

    aiokit.otel.instrument()

Then every API call a pool client makes is a CLIENT span ``Service.Operation`` (with the
account, region, request id, HTTP status, attempts, retries, throttles and the time spent
waiting for its throttling scope), every fan-out and crawl an INTERNAL span with one child
span per target, and the pool's counters are metrics. Spans and metrics go to the global
providers the application set up (``opentelemetry-sdk`` and an exporter), or to the ones
given. Off (the default) it costs one module-global check per call; with only
``opentelemetry-api`` installed (no SDK) it stays under 2 % of a request's CPU
(``benchmarks/RESULTS.md``). See the observability guide.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import _observe
from ._exceptions import ConfigurationError, MissingDependencyError

__all__ = ["instrument", "instrumented", "uninstrument"]


def _require_api() -> None:
    try:
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "opentelemetry":
            raise  # installed but broken: its own error says more
        raise MissingDependencyError(
            "aiokit.otel needs opentelemetry-api, which is not installed: "
            "pip install 'aiokit[otel]'"
        ) from None


def _check_provider(name: str, value: object, module: str, kind: str) -> None:
    if value is None:
        return
    base = getattr(importlib.import_module(module), kind)
    if not isinstance(value, base):
        raise ConfigurationError(
            f"aiokit.otel.instrument: {name} must be an {module}.{kind} (or None for the "
            f"global one), not {type(value).__name__}"
        )


def instrument(*, tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Report aiokit's spans and metrics to OpenTelemetry, for every pool of the process.

    Calling it again replaces the providers; :func:`uninstrument` turns it off.

    Args:
        tracer_provider: an ``opentelemetry.trace.TracerProvider``; ``None``: the global one
            (``trace.set_tracer_provider``), looked up at each span.
        meter_provider: an ``opentelemetry.metrics.MeterProvider``; ``None``: the global one.

    Raises:
        MissingDependencyError: ``opentelemetry-api`` is not installed (the message names
            ``pip install 'aiokit[otel]'``).
        ConfigurationError: a provider of the wrong type.
    """
    _require_api()
    _check_provider("tracer_provider", tracer_provider, "opentelemetry.trace", "TracerProvider")
    _check_provider("meter_provider", meter_provider, "opentelemetry.metrics", "MeterProvider")
    from ._otel import Instrumentation

    uninstrument()
    _observe.tracing = Instrumentation(tracer_provider, meter_provider)


def uninstrument() -> None:
    """Stop reporting spans and metrics (a fan-out already running keeps its run's span)."""
    current = _observe.tracing
    _observe.tracing = None
    if current is not None:
        current.active = False  # type: ignore[attr-defined]  # its observable metrics stop


def instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return _observe.tracing is not None
