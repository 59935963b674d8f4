"""Async waiters: botocore's waiter models, polled with a deadline, backoff and cancellation.

A waiter calls one API operation until a response matches one of its *acceptors*. aiokit
takes the waiter models (``waiters-2`` files, or a custom model in the same schema) and the
acceptor matching from ``botocore.waiter`` unchanged, and replaces only the polling loop,
because aiobotocore's ``AIOWaiter.wait`` sleeps a fixed delay and knows no deadline:

- ``timeout`` is one deadline for the whole wait. No sleep runs past it, and the request in
  flight when it passes is cancelled, so :class:`~aiokit.WaiterTimeout` is raised by the
  deadline, not one request timeout later. With a ``timeout`` the deadline governs alone:
  the model's ``maxAttempts`` applies only when neither ``timeout`` nor ``max_attempts`` is
  given (botocore's behaviour).
- ``backoff="exponential"`` (the default) follows the AWS SDKs' waiter strategy (the Smithy
  waiter specification): the n-th sleep is drawn uniformly from ``[delay, min(max_delay,
  delay * 2**n)]``. The model's delay is the service team's advice on how often to poll, so
  it is the floor: jitter never polls faster than that, it only spreads waits that started
  together (``wait_many``) and thins out requests for resources that take long. The first
  sleep is exactly ``delay``. ``backoff="fixed"`` sleeps ``delay`` every time, as botocore.
- When the next poll would fall after the deadline, one last poll is made just before it
  (twice the previous poll's round trip before, between 0.1 s and 1 s, never more than one
  delay), so a resource that becomes ready in the final stretch is not missed; if that poll
  does not succeed, ``WaiterTimeout`` is raised at the deadline, not before it: "not done
  within 3 s" is said at 3 s.
- Cancellation is plain anyio cancellation: sleeps are ``anyio.sleep`` and requests are
  cancellable, so a wait inside ``anyio.move_on_after`` ends promptly.

:func:`wait_many` runs one wait per parameter set concurrently; ``concurrency`` bounds the
requests in flight, not the waits, so hundreds of resources are watched at once while their
sleeps cost nothing. Each resource's outcome is a :class:`WaitResult`.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from botocore import xform_name
from botocore.exceptions import ClientError, WaiterConfigError
from jmespath.exceptions import JMESPathError

from . import _validate
from ._botocore.waiter import (
    SingleWaiterConfig,
    WaiterModel,
    is_valid_waiter_error,
    waiter_config,
)
from ._checks import is_number
from ._exceptions import (
    AiokitError,
    ConfigurationError,
    UnknownOperationError,
    WaiterFailed,
    WaiterTimeout,
    translated,
)
from ._retry import backoff as _backoff
from ._where import Scope, scope_of_client

__all__ = ["Backoff", "WaitResult", "next_delay", "wait", "wait_in", "wait_many"]

logger = logging.getLogger("aiokit")

Backoff = Literal["exponential", "fixed"]

_STATES = frozenset({"success", "failure", "retry"})
# The last poll before a deadline starts twice the previous poll's round trip before it,
# within these bounds (and never more than one delay before it).
_LAST_POLL_LEAD = (0.1, 1.0)
# 2**32 times any delay is far past any max_delay; the cap only keeps the float finite.
_MAX_EXPONENT = 32


@dataclass(frozen=True, slots=True)
class WaitResult:
    """The outcome of one wait in :func:`wait_many`.

    Attributes:
        params: the operation parameters this wait was made with.
        ok: whether the waiter reached its success state.
        response: the success response, or ``None`` when ``ok`` is false.
        error: why the wait did not succeed (a ``WaiterTimeout``, ``WaiterFailed``, or
            another aiokit error such as ``InvalidParameterError``); ``None`` when ``ok``.
            A ``WaiterError`` carries the last response in ``error.last_response``.
        elapsed: seconds from the start of ``wait_many`` to this wait's end.
    """

    params: Mapping[str, Any]
    ok: bool
    response: dict[str, Any] | None
    error: AiokitError | None
    elapsed: float


@dataclass(frozen=True, slots=True)
class _Policy:
    """How often and how long to poll, validated."""

    timeout: float | None
    delay: float | None  # None: the model's delay
    max_attempts: int | None  # None: the model's, unless a timeout is given
    backoff: Backoff
    max_delay: float


@dataclass(frozen=True, slots=True)
class _Waiter:
    """A resolved waiter: the call to make, how to judge responses, and where it runs."""

    name: str  # the model's (CamelCase) name
    operation: str  # CamelCase, as AWS names it
    method: Callable[..., Awaitable[dict[str, Any]]]
    acceptors: tuple[Any, ...]  # botocore AcceptorConfig objects, matchers compiled once
    delay: float
    max_attempts: int | None
    scope: Scope

    def where(self) -> str:
        return self.scope.describe(f"waiter {self.name}")

    def error_fields(self) -> dict[str, Any]:
        scope = self.scope
        return {
            "waiter": self.name,
            "service": scope.service,
            "operation": self.operation,
            "region": scope.region,
            "account": scope.account,
        }


async def wait(
    client: Any,
    waiter_name: str,
    *,
    # Not left to the caller's fail_after: the waiter's own deadline keeps the last response
    # for WaiterTimeout and replaces the model's attempt limit.
    timeout: float | None = None,  # noqa: ASYNC109
    delay: float | None = None,
    max_attempts: int | None = None,
    backoff: Backoff = "exponential",
    max_delay: float = 120.0,
    model: Mapping[str, Any] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Poll until a waiter reaches its success state and return the response that did.

    ::

        await wait(ec2, "instance_running", InstanceIds=[iid], timeout=600)

    Args:
        client: an aiobotocore client (those a ``SessionPool`` hands out included).
        waiter_name: the waiter, as botocore names it (``"table_exists"``) or as the model
            does (``"TableExists"``).
        timeout: overall deadline in seconds; when given, the model's ``maxAttempts`` no
            longer applies (``max_attempts`` still does, if given).
        delay: base seconds between polls; the model's ``delay`` by default.
        max_attempts: give up after this many polls; by default the model's
            ``maxAttempts`` when no ``timeout`` is given, else no limit.
        backoff: ``"exponential"`` (jittered, from ``delay`` up to ``max_delay``) or
            ``"fixed"`` (``delay`` every time, as botocore). See the module docstring.
        max_delay: the longest exponential sleep, in seconds (never below ``delay``).
        model: a custom waiter model in botocore's schema, ``{"version": 2, "waiters":
            {"Name": {"operation": ..., "delay": ..., "maxAttempts": ..., "acceptors":
            [...]}}}``, used instead of the service's own waiters.
        **params: the operation's parameters. A boto3-style ``WaiterConfig={"Delay": ...,
            "MaxAttempts": ...}`` is honoured where ``delay`` / ``max_attempts`` are not given.

    Returns:
        The response that matched a success acceptor.

    Raises:
        UnknownOperationError: no waiter of that name (the available ones are listed), the
            service has no waiters, or a custom model names an unknown operation; raised
            before any request.
        ConfigurationError: a malformed custom model or option, before any request.
        WaiterTimeout: the deadline passed or the attempts were spent first.
        WaiterFailed: a failure acceptor matched, or an error no acceptor expects came back.
        InvalidParameterError: the parameters do not fit the operation. Other aiokit errors
            (``EndpointError``...) propagate as the operation raised them.
    """
    return await wait_in(
        scope_of_client(client),
        client,
        waiter_name,
        timeout=timeout,
        delay=delay,
        max_attempts=max_attempts,
        backoff=backoff,
        max_delay=max_delay,
        model=model,
        **params,
    )


async def wait_in(
    scope: Scope,
    client: Any,
    waiter_name: str,
    *,
    timeout: float | None = None,  # noqa: ASYNC109  (the waiter's own deadline: see wait)
    delay: float | None = None,
    max_attempts: int | None = None,
    backoff: Backoff = "exponential",
    max_delay: float = 120.0,
    model: Mapping[str, Any] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """:func:`wait`, where the pool says where ``client``'s requests go (``scope``)."""
    start = anyio.current_time()
    _validate.text("waiter", waiter_name, error=UnknownOperationError)
    waiter_config = params.pop("WaiterConfig", None) or {}
    if not isinstance(waiter_config, Mapping):
        raise ConfigurationError("WaiterConfig must be a mapping like {'Delay': 5}")
    unknown = set(waiter_config) - {"Delay", "MaxAttempts"}
    if unknown:
        raise ConfigurationError(
            f"unknown WaiterConfig keys {sorted(map(str, unknown))}; expected Delay, MaxAttempts"
        )
    if delay is None:
        delay = waiter_config.get("Delay")
    if max_attempts is None:
        max_attempts = waiter_config.get("MaxAttempts")
    policy = _policy(timeout, delay, max_attempts, backoff, max_delay)
    waiter = await _resolve(client, scope, waiter_name, model)
    deadline = math.inf if timeout is None else start + timeout
    return await _run(waiter, params, policy, deadline, None)


async def wait_many(
    client: Any,
    waiter_name: str,
    param_sets: Iterable[Mapping[str, Any]],
    *,
    concurrency: int = 32,
    timeout: float | None = None,  # noqa: ASYNC109  (one deadline for the batch: see wait)
    delay: float | None = None,
    max_attempts: int | None = None,
    backoff: Backoff = "exponential",
    max_delay: float = 120.0,
    model: Mapping[str, Any] | None = None,
    scope: Scope | None = None,
) -> list[WaitResult]:
    """Run one wait per parameter set, all at once, and report each one's outcome.

    ::

        results = await wait_many(ec2, "instance_running",
                                  [{"InstanceIds": [i]} for i in ids], timeout=900)
        failed = [r for r in results if not r.ok]

    Args:
        client: an aiobotocore client, used for every wait.
        waiter_name: the waiter, snake_case or CamelCase.
        param_sets: the operation parameters of each wait.
        concurrency: the most requests in flight at once (waits that are sleeping hold no
            slot).
        timeout: one deadline, in seconds, for the whole batch.
        delay: as for :func:`wait`.
        max_attempts: as for :func:`wait`, per wait.
        backoff: as for :func:`wait`.
        max_delay: as for :func:`wait`.
        model: as for :func:`wait`.
        scope: where ``client``'s requests go, when the pool says so (by default the
            client's own service and region, and its pool's account).

    Returns:
        One :class:`WaitResult` per parameter set, in input order. A wait that ends in an
        aiokit error (``WaiterTimeout``, ``WaiterFailed``, ``InvalidParameterError``...) is
        reported in its result and does not stop the others.

    Raises:
        UnknownOperationError: as for :func:`wait`, before any request.
        ConfigurationError: a malformed custom model or option, before any request.
        Exception: a wait raised something that is not an aiokit error (a bug), as
            itself when every wait that raised raised the same one (else an
            ``ExceptionGroup`` of the different ones).
    """
    start = anyio.current_time()
    _validate.text("waiter", waiter_name, error=UnknownOperationError)
    _validate.count("concurrency", concurrency)
    policy = _policy(timeout, delay, max_attempts, backoff, max_delay)
    sets = _param_sets(param_sets)
    waiter = await _resolve(client, scope or scope_of_client(client), waiter_name, model)
    deadline = math.inf if timeout is None else start + timeout
    limiter = anyio.CapacityLimiter(concurrency)
    results: list[WaitResult | None] = [None] * len(sets)

    async def one(index: int, params: dict[str, Any]) -> None:
        try:
            response = await _run(waiter, params, policy, deadline, limiter)
        except AiokitError as exc:
            elapsed = anyio.current_time() - start
            results[index] = WaitResult(params, False, None, exc, elapsed)
        else:
            elapsed = anyio.current_time() - start
            results[index] = WaitResult(params, True, response, None, elapsed)

    try:
        async with anyio.create_task_group() as tg:
            for index, params in enumerate(sets):
                tg.start_soon(one, index, params)
    except BaseExceptionGroup as group:
        from ._fleet.streams import raise_one_bug  # not at the top: a rarely taken path

        raise_one_bug(group)  # a bug every wait hit: raised once, as itself
        raise
    return [r for r in results if r is not None]


def _param_sets(param_sets: object) -> list[dict[str, Any]]:
    """``wait_many``'s parameter sets, checked: a list of dicts (copied)."""
    if isinstance(param_sets, str | bytes | Mapping) or not isinstance(param_sets, Iterable):
        raise ConfigurationError(
            "param_sets must be a list of parameter dicts, one per wait, not "
            f"{type(param_sets).__name__}"
        )
    given: list[Any] = list(param_sets)
    for index, one_set in enumerate(given):
        if not isinstance(one_set, Mapping):
            raise ConfigurationError(
                f"param_sets[{index}] must be a dict of the operation's parameters, not "
                f"{type(one_set).__name__} {one_set!r}"
            )
    return [dict(p) for p in given]


def _accepted(waiter: _Waiter, response: dict[str, Any], error: ClientError | None) -> Any:
    """As botocore: the first acceptor that matches ``response`` (``None``: none did); an
    error response that no acceptor expects is a failure."""
    for acceptor in waiter.acceptors:
        if _matches(waiter, acceptor, response, error):
            return acceptor
    if is_valid_waiter_error(response):
        err = response["Error"]
        code, message = err.get("Code", "Unknown"), err.get("Message", "Unknown")
        reason = f"An error occurred ({code}): {message}"
        raise WaiterFailed(
            f"{waiter.where()}: {reason}",
            reason=reason,
            last_response=response,
            **waiter.error_fields(),
        ) from error
    return None


def _matches(waiter: _Waiter, acceptor: Any, response: dict[str, Any], error: Any) -> bool:
    """Whether ``acceptor`` matches ``response``; one whose JMESPath expression cannot be
    evaluated on it (``abs()`` of a string, ``length(null)``) is a failed wait, said so,
    rather than the raw ``JMESPathTypeError`` of botocore's matcher."""
    try:
        return bool(acceptor.matcher_func(response))
    except JMESPathError as exc:
        reason = (
            f"acceptor {acceptor.matcher} {acceptor.argument!r} cannot be evaluated on the "
            f"response: {exc}"
        )
        raise WaiterFailed(
            f"{waiter.where()}: {reason}",
            reason=reason,
            last_response=response,
            **waiter.error_fields(),
        ) from (error if error is not None else exc)


def next_delay(attempts: int, delay: float, backoff: Backoff, max_delay: float) -> float:
    """The sleep before the next poll, after ``attempts`` polls (1 or more).

    Args:
        attempts: polls made so far.
        delay: the base delay (the floor of every exponential sleep).
        backoff: ``"exponential"`` or ``"fixed"``.
        max_delay: the cap of exponential growth; a cap below ``delay`` leaves ``delay``.

    Returns:
        ``delay`` for fixed backoff; otherwise a draw from ``[delay, min(max_delay,
        delay * 2**(attempts - 1))]``.
    """
    if backoff == "fixed" or delay <= 0:
        return delay
    # The Smithy strategy is aiokit's one backoff with the delay as its floor and base.
    attempt = min(max(attempts, 1), _MAX_EXPONENT + 1)
    return _backoff(attempt, base=delay, cap=max_delay, floor=delay)


# --- the polling loop ----------------------------------------------------------------------


async def _run(
    waiter: _Waiter,
    params: dict[str, Any],
    policy: _Policy,
    deadline: float,
    limiter: anyio.CapacityLimiter | None,
) -> dict[str, Any]:
    """botocore's ``Waiter.wait`` loop, with aiokit's delays, deadline and errors."""
    delay = waiter.delay if policy.delay is None else policy.delay
    if policy.max_attempts is not None:
        max_attempts: int | None = policy.max_attempts
    elif policy.timeout is None:
        max_attempts = waiter.max_attempts
    else:
        max_attempts = None  # the deadline governs: see the module docstring
    last_response: dict[str, Any] | None = None
    last_matched: Any = None
    state = "waiting"
    attempts = 0
    while True:
        started = anyio.current_time()
        polled = await _poll(waiter, params, deadline, limiter)
        round_trip = anyio.current_time() - started
        if polled is None:
            raise _deadline_passed(waiter, policy, attempts, last_response, last_matched)
        response, error = polled
        last_response = response
        attempts += 1
        matched = _accepted(waiter, response, error)
        if matched is not None:
            last_matched = matched
            state = matched.state
        if state == "success":
            logger.debug("%s: success after %d attempt(s)", waiter.where(), attempts)
            return response
        if state == "failure":
            reason = f"Waiter encountered a terminal failure state: {last_matched.explanation}"
            raise WaiterFailed(
                f"{waiter.where()}: {reason}",
                reason=reason,
                last_response=response,
                **waiter.error_fields(),
            ) from error
        if max_attempts is not None and attempts >= max_attempts:
            message = f"{waiter.where()}: max attempts ({max_attempts}) exceeded"
            if last_matched is not None:
                message += f"; previously accepted state: {last_matched.explanation}"
            raise WaiterTimeout(message, last_response=response, **waiter.error_fields())
        pause = next_delay(attempts, delay, policy.backoff, policy.max_delay)
        remaining = deadline - anyio.current_time()
        if pause >= remaining:
            low, high = _LAST_POLL_LEAD
            lead = min(delay, high, max(low, 2 * round_trip))
            if remaining <= lead:
                # That was the last poll: the wait ends at its deadline, as promised.
                await anyio.sleep(max(0.0, remaining))
                raise _deadline_passed(waiter, policy, attempts, response, last_matched)
            pause = remaining - lead
        logger.debug(
            "%s: attempt %d not done; next poll in %.2f s",
            waiter.where(),
            attempts,
            pause,
            extra={"waiter": waiter.name, "attempt": attempts, "service": waiter.scope.service},
        )
        await anyio.sleep(pause)


async def _poll(
    waiter: _Waiter,
    params: dict[str, Any],
    deadline: float,
    limiter: anyio.CapacityLimiter | None,
) -> tuple[dict[str, Any], ClientError | None] | None:
    """One call: ``(response, error)``, the error's response standing in as botocore does.

    Returns ``None`` when the deadline passed first (waiting for a slot included): the
    request is cancelled rather than left to finish.
    """
    # Clients not made by a pool raise botocore's own errors: translated makes them aiokit's.
    with anyio.CancelScope(deadline=deadline), translated(waiter.scope, waiter.operation):
        try:
            if limiter is None:
                response = await waiter.method(**params)
            else:
                async with limiter:
                    response = await waiter.method(**params)
        except ClientError as exc:
            # aiokit's AWSError is a ClientError: its parsed error feeds the acceptors.
            return dict(exc.response), exc
        return response, None
    return None


def _deadline_passed(
    waiter: _Waiter,
    policy: _Policy,
    attempts: int,
    last_response: dict[str, Any] | None,
    last_matched: Any,
) -> WaiterTimeout:
    within = "the deadline" if policy.timeout is None else f"{policy.timeout:g} s"
    message = f"{waiter.where()}: not done within {within} ({attempts} attempt(s))"
    if last_matched is not None:
        message += f"; last accepted state: {last_matched.explanation}"
    return WaiterTimeout(message, last_response=last_response, **waiter.error_fields())


# --- resolving and validating waiters --------------------------------------------------------


def _policy(
    timeout: float | None,
    delay: float | None,
    max_attempts: int | None,
    backoff: str,
    max_delay: float,
) -> _Policy:
    # A zero or negative span would give up before the first answer, or poll in a tight
    # loop; NaN and infinities never compare as meant.
    _validate.seconds("timeout", timeout, optional=True)
    _validate.seconds("delay", delay, optional=True)
    _validate.count("max_attempts", max_attempts, optional=True)
    if backoff not in ("exponential", "fixed"):
        raise ConfigurationError(f"backoff must be 'exponential' or 'fixed', not {backoff!r}")
    _validate.seconds("max_delay", max_delay)
    return _Policy(
        timeout=None if timeout is None else float(timeout),
        delay=None if delay is None else float(delay),
        max_attempts=max_attempts,
        backoff="fixed" if backoff == "fixed" else "exponential",
        max_delay=float(max_delay),
    )


async def _resolve(
    client: Any, scope: Scope, waiter_name: str, model: Mapping[str, Any] | None
) -> _Waiter:
    """Find and prepare a waiter, raising configuration errors before any request."""
    service_model = client.meta.service_model
    service = scope.service
    kw = scope.fields()
    if model is None:
        # Reading and parsing the waiters-2 file is blocking I/O: keep it off the event loop.
        # botocore caches the result on the client, which bound clients share.
        config = await anyio.to_thread.run_sync(waiter_config, client)
        if not config:
            raise UnknownOperationError(
                f"{service} has no waiters; pass a custom waiter model with model=...", **kw
            )
        waiter_model = WaiterModel(config)
    else:
        waiter_model = _custom_model(model, service_model, kw)
    name = _model_name(waiter_model.waiter_names, waiter_name, service, kw)
    single = waiter_model.get_waiter(name)
    acceptors = tuple(single.acceptors)
    return _Waiter(
        name=name,
        operation=single.operation,
        method=getattr(client, xform_name(single.operation)),
        acceptors=acceptors,
        delay=float(single.delay),
        max_attempts=int(single.max_attempts),
        scope=scope,
    )


def _model_name(names: list[str], waiter_name: str, service: str, kw: dict[str, Any]) -> str:
    """The model's name for ``waiter_name``, given in either spelling."""
    if waiter_name in names:
        return waiter_name
    by_snake = {xform_name(n): n for n in names}
    if waiter_name in by_snake:
        return by_snake[waiter_name]
    hint = _validate.did_you_mean(waiter_name, [*by_snake, *names])
    raise UnknownOperationError(
        f"{service} has no waiter {waiter_name!r}{hint} (available: {', '.join(sorted(by_snake))})",
        **kw,
    )


def _custom_model(model: Mapping[str, Any], service_model: Any, kw: dict[str, Any]) -> WaiterModel:
    """A ``WaiterModel`` from a caller's dict, every waiter in it checked up front."""
    service = kw["service"]

    def bad(problem: str) -> ConfigurationError:
        return ConfigurationError(f"invalid waiter model for {service}: {problem}", **kw)

    if not isinstance(model, Mapping):
        raise bad("expected a mapping like {'version': 2, 'waiters': {...}}")
    waiters = model.get("waiters")
    if not isinstance(waiters, Mapping) or not waiters:
        raise bad("'waiters' must be a non-empty mapping of waiter names to waiters")
    try:
        # botocore's WaiterModel may keep and mutate what it is given: give it a copy.
        waiter_model = WaiterModel(copy.deepcopy(dict(model)))
    except WaiterConfigError as exc:
        raise bad(str(exc.kwargs.get("error_msg", exc))) from exc
    for name, spec in waiters.items():
        _check_waiter(name, spec, service_model, bad, kw)
    return waiter_model


def _check_waiter(
    name: str,
    spec: Any,
    service_model: Any,
    bad: Callable[[str], ConfigurationError],
    kw: dict[str, Any],
) -> None:
    if not isinstance(spec, Mapping):
        raise bad(f"waiter {name!r} must be a mapping")
    try:
        single = SingleWaiterConfig(spec)
    except KeyError as exc:
        raise bad(f"waiter {name!r} has no {exc.args[0]!r}") from exc
    operation = single.operation
    if operation not in service_model.operation_names:
        hint = _validate.did_you_mean(str(operation), service_model.operation_names)
        raise UnknownOperationError(
            f"waiter {name!r}: {kw['service']} has no operation {operation!r}{hint}",
            operation=str(operation),
            **kw,
        )
    if not (is_number(single.delay) and 0 <= single.delay < math.inf):
        raise bad(f"waiter {name!r}: delay must be a number of seconds >= 0")
    max_attempts = single.max_attempts
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise bad(f"waiter {name!r}: maxAttempts must be an int >= 1")
    raw_acceptors = spec.get("acceptors")
    if not isinstance(raw_acceptors, list) or not raw_acceptors:
        raise bad(f"waiter {name!r}: acceptors must be a non-empty list")
    if not all(isinstance(a, Mapping) for a in raw_acceptors):
        raise bad(f"waiter {name!r}: each acceptor must be a mapping")
    try:
        acceptors = single.acceptors
    except KeyError as exc:
        raise bad(f"waiter {name!r}: an acceptor has no {exc.args[0]!r}") from exc
    except WaiterConfigError as exc:
        raise bad(f"waiter {name!r}: {exc.kwargs.get('error_msg', exc)}") from exc
    except (JMESPathError, TypeError) as exc:
        raise bad(f"waiter {name!r}: bad acceptor argument: {exc}") from exc
    states = {a.state for a in acceptors}
    if not states <= _STATES:
        unknown = ", ".join(sorted(map(repr, states - _STATES)))
        raise bad(f"waiter {name!r}: unknown acceptor state {unknown} (use success/failure/retry)")
    if "success" not in states:
        # Such a waiter could only ever time out or fail.
        raise bad(f"waiter {name!r}: no acceptor has state 'success'")
