"""Adaptive retry shared per AWS throttling scope: the pool's rate limiters.

AWS throttles per account, region and API (EC2 per action group); botocore's adaptive mode
keeps one token bucket per *client*. With aiokit's clients shared across accounts and many
tasks per scope, that is the wrong key both ways. So in the pool's default ``"shared"`` mode
aiokit takes retries over from botocore (whose own are set to one attempt, so the two never
multiply) and keeps one :class:`ScopeLimiter` per scope ``(partition, account, region,
service, action group)``, global services (one endpoint per partition, as botocore's endpoint
data says) keyed without region. Every HTTP attempt, every page of a paginator and every
waiter poll included, passes through it:

- before the attempt is signed (``request-created``, registered first): a slot of the
  scope's in-flight cap, then a token from its bucket when the bucket is on;
- after it (``needs-retry``): a throttle says the scope's bucket is empty. The limiter then
  learns the bucket: it sends at a probe rate (at most the rate that emptied it, no burst;
  half that rate first for a scope that had no bucket) and counts the grants of attempts
  sent after the throttle; their rate is the bucket's
  refill rate, held at 0.9 of it (raised 10 % after each minute without a throttle),
  with the burst seen before the first throttle, less the refill over that time, as the
  local burst. A drained bucket costs
  the first throttle and those of a probe of about a second, not a CUBIC climb from
  0.5/s. A throttle while holding starts learning again (the capacity dropped). A throttle
  is backpressure: the request is sent
  again once its scope gives it a token, without using the caller's attempts, until the
  throttle deadline. ``x-amz-retry-after`` is honoured; a 429 counts as a throttle.
  Transient errors (5xx, timeouts, resets) get standard retry with full jitter
  (``aiokit._retry.backoff``), paid from a per-scope retry budget that works as a circuit
  breaker when a scope keeps failing.

What is a throttle is ``aiokit._exceptions.is_throttling`` (botocore's codes, and 429), as
for the errors aiokit raises. What is transient here is botocore's own judgement of a raw
answer, before it is translated (``_botocore.retries``' tables: 500/502/503/504, its
connection errors, ``RequestTimeout``...); ``aiokit._retry.is_transient`` judges the aiokit
errors that come out of a call.

Rates start from documented default quotas where AWS publishes them (EC2's non-mutating
actions: a bucket of 100 refilled at 20/s per account and region), and elsewhere with the
bucket off until the first throttle (botocore's adaptive behaviour), the in-flight cap
bounding the start.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from botocore.exceptions import DataNotFoundError, HTTPClientError

from ._botocore.retries import (
    TRANSIENT_ERROR_CODES,
    TRANSIENT_EXCEPTIONS,
    TRANSIENT_STATUS_CODES,
)
from ._checks import count, seconds
from ._endpoints import endpoint_prefix, is_global_service, load_endpoints
from ._exceptions import is_throttling
from ._observe import call_trace
from ._retry import backoff
from ._where import Scope

__all__ = [
    "DEFAULT_QUOTAS",
    "RateLimiterRegistry",
    "RetryMode",
    "RetrySettings",
    "ScopeKey",
    "ScopeLimiter",
    "ScopeStatistics",
    "action_group",
    "held_slots",
]


RetryMode = Literal["shared", "adaptive", "standard"]

# (service, action group) -> (refill per second, bucket size), per account and region.
DEFAULT_QUOTAS: dict[tuple[str, str | None], tuple[float, float]] = {
    # docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
    ("ec2", "describe"): (20.0, 100.0),
    ("ec2", "mutating"): (5.0, 200.0),
}

_QUOTA_MARGIN = 0.95

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def action_group(service: str, operation: str) -> str | None:
    """The throttling group of an operation: EC2 buckets Describe* apart from mutations."""
    if service != "ec2":
        return None
    if operation.startswith(("Describe", "Get", "List", "Search")):
        return "describe"
    return "mutating"


@dataclass(frozen=True, slots=True)
class ScopeKey:
    """What AWS throttles together."""

    partition: str
    account: str | None
    region: str | None
    service: str
    group: str | None = None

    def __str__(self) -> str:
        where = self.region or "global"
        group = f"/{self.group}" if self.group else ""
        return f"{self.service}{group} {where} {self.account or 'self'}"


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """How a pool retries in ``"shared"`` mode.

    Attributes:
        max_attempts: attempts per request for transient errors (throttles do not count).
        throttle_timeout: seconds a request may keep waiting out throttles.
        max_backoff: cap of the full-jitter backoff for transient errors, seconds.
        max_in_flight: requests in flight per scope.
        budget: per-scope retry budget (botocore's quota: a retry costs 5, a timeout 10,
            a success gives 1 back); empty means no transient retries for that scope.
    """

    max_attempts: int = 5
    throttle_timeout: float = 300.0
    max_backoff: float = 20.0
    max_in_flight: int = 64
    budget: int = 500

    def __post_init__(self) -> None:
        # Each is a count or a span that must be above zero: a zero in-flight cap, say,
        # would make every request wait forever for a slot.
        for name in ("max_attempts", "max_in_flight", "budget"):
            count(f"RetrySettings {name}", getattr(self, name))
        for name in ("throttle_timeout", "max_backoff"):
            seconds(f"RetrySettings {name}", getattr(self, name))


@dataclass(frozen=True, slots=True)
class ScopeStatistics:
    """One scope's counters.

    Attributes:
        rate: the send rate the scope's bucket allows now (requests/s; ``None``: no limit).
        tokens: tokens in the bucket now.
        in_flight: requests in flight now.
        requests: HTTP attempts sent: first attempts and retries alike.
        throttles: throttled responses received (a throttle past ``throttle_timeout``
            included, which is not resent).
        retries: HTTP attempts sent again, for any reason: ``throttle_retries +
            transient_retries``. The same count as ``Outcome.retries`` and as botocore's
            ``ResponseMetadata.RetryAttempts`` summed over calls (a fan-out target's
            ``Outcome.retries`` also counts aiokit's page retries, which the scope sees
            as new requests).
        throttle_retries: attempts sent again after a throttle; these use neither the
            caller's attempts nor the retry budget.
        transient_retries: attempts sent again after a transient error (5xx, timeout,
            connection error), each paid from the retry budget.
        waited: seconds requests spent waiting for a slot or a token.
        budget: retry budget left.
    """

    rate: float | None
    tokens: float
    in_flight: int
    requests: int
    throttles: int
    retries: int
    waited: float
    budget: int
    throttle_retries: int = 0
    transient_retries: int = 0


class ScopeLimiter:
    """The rate, in-flight cap and retry budget of one throttling scope.

    Args:
        rate: the starting refill rate (requests/s); ``None`` starts with no bucket.
        burst: the bucket size (defaults to ``rate``, at least 1).
        max_in_flight: requests in flight at once.
        budget: retry budget.
        clock, sleep: time source and sleep, replaceable for deterministic tests.
    """

    _MIN_RATE = 0.5
    # A refill rate is learnt from this many grants after the first throttle, or from two
    # once this many seconds have passed (a bucket refilled slower than 4/s); the rate is
    # then held at _HOLD of it, under the refill, so that AWS's bucket never empties again.
    _LEARN_ACCEPTED = 8
    _LEARN_SECONDS = 2.0
    _HOLD = 0.9
    # While learning, once refused and this many grants counted, the probe is brought
    # down to _STEER_OVER times the refill those grants show.
    _STEER_AFTER = 4
    _STEER_OVER = 1.5
    # A scope with no bucket (no documented quota) probes first at 1/_FIRST_PROBE_DIV of
    # the rate that emptied its bucket, which a burst spent at full speed puts several
    # times over the refill, each request over it a throttle (throttled_small_two: 12.5 %
    # of requests throttled at 1, 7.5 % at 2, 4.5 % at 3 but 1.4x slower; the climb of a
    # probe granted in full takes it back up to that rate).
    _FIRST_PROBE_DIV = 2.0
    # A learnt rate (not a documented quota) is raised by _REPROBE_STEP after each
    # _REPROBE_SECONDS without a throttle: what was learnt may have been the share left by
    # another consumer of the same quota, gone since. A throttle then learns again.
    _REPROBE_SECONDS = 60.0
    _REPROBE_STEP = 1.1
    # A rate learnt from the grants' rate alone (no two refusals around enough grants) is
    # raised by _CLIMB_STEP each _CLIMB_SECONDS without a throttle, up to the rate that
    # emptied the bucket.
    _CLIMB_SECONDS = 1.0
    _CLIMB_STEP = 1.25

    def __init__(
        self,
        *,
        rate: float | None = None,
        burst: float | None = None,
        max_in_flight: int = 64,
        budget: int = 500,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self._seed = rate
        self.enabled = rate is not None
        self.max_rate = float(rate) if rate is not None else 0.0
        self.capacity = max(1.0, float(burst if burst is not None else (rate or 1.0)))
        self._tokens = self.capacity
        self._last_refill = now
        self._measured = 0.0
        # Learning a bucket: set from the first throttle until its refill rate is known.
        self._learning: _Learning | None = None
        self._burst: float | None = None  # the burst learnt with the first refill rate
        self._accepted = 0  # grants since _started (the start, or the last throttle)
        self._held_since: float | None = None  # a learnt rate held since (or last raised)
        self._climb_to: float | None = None  # a rate learnt low may be raised up to this
        self._started = now
        self._count = 0
        self._bucket_start = math.floor(now * 2) / 2
        # fast_acquire: no trip through the event loop when uncontended, which is the common
        # case and would otherwise cost two scheduler passes per HTTP attempt. The token
        # lock only orders waiters for an empty bucket: made when the first one waits (a
        # crawl makes a limiter per account and region, most of which never wait).
        self._token_lock: anyio.Lock | None = None
        # asyncio's own semaphore: aiokit runs on anyio's asyncio backend only, and anyio's
        # costs a backend lookup to make and a cancel-scope walk per acquire, per request.
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight = 0
        self._budget_max = budget
        self.budget = budget
        self.requests = self.throttles = 0
        self.throttle_retries = self.transient_retries = 0
        self.waited = 0.0

    # --- sending ---------------------------------------------------------------------------

    async def acquire(self) -> None:
        """Wait for an in-flight slot and, when the bucket is on, a token."""
        start = self._clock()
        await self._slots.acquire()
        try:
            if self.enabled:
                await self._take_token()
        except BaseException:
            self._slots.release()
            raise
        self._in_flight += 1
        self.requests += 1
        self.waited += self._clock() - start

    async def _take_token(self) -> None:
        lock = self._token_lock
        if lock is None or not lock.locked():
            # Nobody is waiting: a token in the bucket is taken at once. No await between
            # the check and the take, so no other task can slip in between.
            self._refill()
            if self._tokens >= 1 - 1e-9:
                self._tokens = max(0.0, self._tokens - 1)
                return
            if lock is None:
                lock = self._token_lock = anyio.Lock(fast_acquire=True)
        # FIFO: one waiter at a time takes the next token, as a bucket hands them out.
        async with lock:
            while True:
                self._refill()
                # The epsilon and the 1 ms floor keep float rounding from spinning forever.
                if self._tokens >= 1 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                wait = (1 - self._tokens) / max(self.max_rate, self._MIN_RATE)
                await self._sleep(max(wait, 0.001))

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._last_refill
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.max_rate)
            self._last_refill = now

    def release(self) -> None:
        """Give back an in-flight slot."""
        self._in_flight -= 1
        self._slots.release()

    # --- learning --------------------------------------------------------------------------

    def _measure(self) -> float:
        """The smoothed send rate, botocore's RateClocker (0.5 s buckets, smoothing 0.8)."""
        now = self._clock()
        bucket = math.floor(now * 2) / 2
        self._count += 1
        if bucket > self._bucket_start:
            current = self._count / (bucket - self._bucket_start)
            self._measured = current * 0.8 + self._measured * 0.2
            self._count = 0
            self._bucket_start = bucket
        return self._measured

    def on_success(self, sent: float | None = None) -> None:
        """A response that was not throttled: budget refund; while learning, one grant of
        the refill the bucket gave since it was found empty.

        Args:
            sent: when the attempt was sent (this limiter's clock); an attempt sent before
                the bucket was found empty says nothing of its refill.
        """
        self._measure()
        self.budget = min(self._budget_max, self.budget + 1)
        self._accepted += 1
        learning = self._learning
        if learning is None:
            if self._held_since is not None:
                now = self._clock()
                if self._climb_to is not None and now - self._held_since >= self._CLIMB_SECONDS:
                    self._held_since = now
                    rate = min(self.max_rate * self._CLIMB_STEP, self._climb_to)
                    self._climb_to = None if rate >= self._climb_to else self._climb_to
                    self._set_rate(rate, capacity=self.capacity)
                elif now - self._held_since >= self._REPROBE_SECONDS:
                    self._held_since = now
                    self._set_rate(self.max_rate * self._REPROBE_STEP, capacity=self.capacity)
            return
        if sent is not None and sent < learning.start:
            return
        now = self._clock()
        learning.accepted += 1
        if learning.accepted == 1:
            learning.first = now
        elapsed = now - learning.start
        if learning.throttles and learning.accepted >= self._STEER_AFTER:
            # Refused while granted: the probe is above the refill, and every request sent
            # above it is a throttle. The grants so far already say about what the refill
            # is: probe just over that while counting on (a scope with no documented quota
            # starts its probe at the rate that emptied its bucket, often several times
            # the refill).
            steer = max(self._MIN_RATE, learning.refill(now) * self._STEER_OVER)
            if steer < learning.probe:
                learning.probe = steer
                self._set_rate(steer, capacity=1.0)
        if learning.accepted < self._LEARN_ACCEPTED and not (
            elapsed >= self._LEARN_SECONDS and learning.accepted >= 2
        ):
            return
        refill = learning.refill(now)
        if learning.throttles == 0:
            # Nothing refused. Granted about as fast as the probe sent: the refill may be
            # higher, so probe faster; granted slower, the calls themselves were slower
            # than the probe (one page after another): what they got is kept.
            if learning.probe < learning.ceiling and refill >= 0.8 * learning.probe:
                # The probe was under the refill: probe faster (at most the rate that
                # emptied the bucket) and count again.
                learning.probe = min(learning.ceiling, learning.probe * 2)
                learning.start, learning.accepted = now, 0
                self._set_rate(learning.probe, capacity=1.0)
                return
            hold = min(refill, learning.probe)  # never refused again: a lower bound, kept
        else:
            hold = refill * self._HOLD
        if self._burst is None:
            # Accepted before the first throttle, less the refill over that time: the burst
            # the bucket started with (a fresh scope's bucket starts full).
            before = learning.accepted_before - refill * (learning.start - learning.since)
            self._burst = max(1.0, before * self._HOLD)
        self._learning = None
        self._seed = hold  # held there, as a documented quota is
        self._held_since = now
        if learning.throttles and not learning.enveloped and hold < learning.ceiling:
            # Refused, but learnt from the grants' rate alone, which a stalled client
            # lowers: climb back towards the rate that emptied the bucket until refused.
            self._climb_to = learning.ceiling
        self._set_rate(hold, capacity=self._burst)
        self._tokens = min(self._tokens, 1.0)  # the bucket AWS keeps is near empty now

    def on_throttle(self) -> None:
        """A throttled response: the bucket is empty. Learn its refill rate: send at a
        probe rate (at most the rate that emptied it) and count what is granted."""
        self._measure()
        self.throttles += 1
        self._climb_to = None
        learning = self._learning
        if learning is not None:
            learning.throttles += 1
            learning.last_throttle = self._clock()
            learning.granted_by_last_throttle = learning.accepted
            if learning.throttles > 2 * learning.accepted + 4:
                # Refused far more than granted: the probe is far above the refill, and
                # each request sent above it costs a throttle. Slow the probe down.
                learning.probe = max(self._MIN_RATE, learning.probe * 0.7)
                self._set_rate(learning.probe, capacity=1.0)
            return
        now = self._clock()
        emptied = self._accepted / max(now - self._started, 1e-3)  # >= the refill rate
        # (botocore's smoothed measurement lags a young scope's rate: not used here.)
        ceiling = max(min(self.max_rate, emptied) if self.enabled else emptied, self._MIN_RATE)
        probe = ceiling if self.enabled else max(ceiling / self._FIRST_PROBE_DIV, self._MIN_RATE)
        self._learning = _Learning(
            start=now,
            since=self._started,
            probe=probe,
            ceiling=ceiling,
            accepted_before=self._accepted,
        )
        self.enabled = True
        self._seed = None
        self._held_since = None
        self._set_rate(probe, capacity=1.0)  # no burst into an empty bucket
        self._accepted = 0
        self._started = now

    def _set_rate(self, rate: float, capacity: float) -> None:
        self._refill()
        self.max_rate = max(rate, self._MIN_RATE)
        self.capacity = max(1.0, capacity)
        self._tokens = min(self._tokens, self.capacity)

    def spend(self, cost: int) -> bool:
        """Take ``cost`` from the retry budget; ``False`` (and nothing taken) if short."""
        if self.budget < cost:
            return False
        self.budget -= cost
        return True

    @property
    def retries(self) -> int:
        """HTTP attempts sent again, for any reason (see ``ScopeStatistics``)."""
        return self.throttle_retries + self.transient_retries

    def count_retry(self, cause: str) -> None:
        """An attempt sent again, after a ``"throttle"`` or a ``"transient"`` error."""
        if cause == "throttle":
            self.throttle_retries += 1
        else:
            self.transient_retries += 1

    def statistics(self) -> ScopeStatistics:
        """A frozen snapshot. It changes nothing (the bucket's refill is computed, not
        stored), so another thread may take it: an OpenTelemetry metric reader's."""
        tokens = self._tokens
        elapsed = self._clock() - self._last_refill
        if elapsed > 0:
            tokens = min(self.capacity, tokens + elapsed * self.max_rate)
        return ScopeStatistics(
            rate=self.max_rate if self.enabled else None,
            tokens=round(tokens, 3),
            in_flight=self._in_flight,
            requests=self.requests,
            throttles=self.throttles,
            retries=self.retries,
            waited=self.waited,
            budget=self.budget,
            throttle_retries=self.throttle_retries,
            transient_retries=self.transient_retries,
        )


@dataclass(slots=True)
class _Learning:
    """A bucket being learnt: found empty at ``start``; grants and refusals since."""

    start: float
    since: float
    probe: float
    ceiling: float
    accepted_before: int
    accepted: int = 0
    throttles: int = 0
    first: float = 0.0  # when the first grant came
    last_throttle: float = 0.0  # when the last refusal came (the bucket empty again)
    granted_by_last_throttle: int = 0  # grants between ``start`` and ``last_throttle``

    # Grants between two refusals that each say the bucket is empty are exactly what it
    # refilled in between: a measure a stall of the client (a backoff after a 500, a
    # busy event loop) cannot lower, where grants over time can.
    _ENVELOPE_GRANTS = 3

    @property
    def enveloped(self) -> bool:
        """Enough grants between two refusals to measure the refill by them."""
        return self.granted_by_last_throttle >= self._ENVELOPE_GRANTS

    def refill(self, now: float) -> float:
        """The refill rate the grants and refusals so far show."""
        if self.enveloped:
            return self.granted_by_last_throttle / max(self.last_throttle - self.start, 1e-3)
        # Otherwise the grants' rate, counted between the first and the last: from the
        # start it is off by about one grant in eight (what the bucket had refilled before
        # the first probe, or the refill interval before the first grant), and a rate
        # learnt 10 % high is a throttle every second.
        return (self.accepted - 1) / max(now - self.first, 1e-3)


# Limiters holding a slot for the call under way in this task; released by the bound
# client's _make_api_call when the call ends however it ends (cancellation included).
held_slots: ContextVar[list[ScopeLimiter] | None] = ContextVar("aiokit_held_slots", default=None)


class RateLimiterRegistry:
    """The pool's scope limiters, and the botocore event handlers that use them."""

    def __init__(
        self,
        settings: RetrySettings,
        quotas: Mapping[tuple[str, str | None], tuple[float, float]] | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.settings = settings
        self.quotas = {**DEFAULT_QUOTAS, **(quotas or {})}
        self._clock = clock
        self._sleep = sleep
        self._limiters: dict[ScopeKey, ScopeLimiter] = {}

    def key(self, scope: Scope, operation: str) -> ScopeKey:
        """The scope key of a request: a global service's scopes have no region."""
        prefix = _prefixes.get(scope.service) or _endpoint_prefix(scope.service)
        region = None if is_global_service(prefix, scope.partition) else scope.region
        group = action_group(scope.service, operation)
        return ScopeKey(scope.partition, scope.account, region, scope.service, group)

    def limiter(self, key: ScopeKey) -> ScopeLimiter:
        """The limiter of ``key``, made on first use from the quota table."""
        limiter = self._limiters.get(key)
        if limiter is None:
            quota = self.quotas.get((key.service, key.group))
            rate = burst = None
            if quota is not None:
                # A margin under the documented quota: AWS's clock and ours never agree
                # exactly, and a throttle at the edge costs a relearning.
                rate, burst = quota[0] * _QUOTA_MARGIN, quota[1] * _QUOTA_MARGIN
            limiter = ScopeLimiter(
                rate=rate,
                burst=burst,
                max_in_flight=self.settings.max_in_flight,
                budget=self.settings.budget,
                clock=self._clock,
                sleep=self._sleep,
            )
            self._limiters[key] = limiter
        return limiter

    def statistics(self) -> dict[ScopeKey, ScopeStatistics]:
        """Every scope's counters (safe from another thread: the table is copied first, in
        one step under the GIL, and no limiter is changed)."""
        return {key: limiter.statistics() for key, limiter in list(self._limiters.items())}

    # --- botocore event handlers -----------------------------------------------------------

    async def before_attempt(self, request: Any, operation_name: str, **_: Any) -> None:
        """``request-created`` (registered first, so before signing): slot and token."""
        context = getattr(request, "context", None) or {}
        scope = context.get("aiokit_scope")
        if scope is None:
            return
        if scope.service not in _prefixes:
            # Once per service and process: the model and endpoint data are file reads.
            await anyio.to_thread.run_sync(_endpoint_prefix, scope.service)
        key = self.key(scope, operation_name)
        limiter = self.limiter(key)
        trace = call_trace.get()
        if trace is None:
            await limiter.acquire()
        else:  # OpenTelemetry is on: the span says how long this call waited, and where
            start = self._clock()
            await limiter.acquire()
            trace.waited += self._clock() - start
            trace.scope = key
        # Counted when the attempt is really sent again (not when decided: a caller
        # cancelled during the backoff sends nothing more).
        cause = context.pop("aiokit_retry_cause", None)
        if cause is not None:
            limiter.count_retry(cause)
        context["aiokit_limiter"] = limiter
        context["aiokit_sent"] = self._clock()
        context.setdefault("aiokit_started", self._clock())
        held = held_slots.get()
        if held is not None:
            held.append(limiter)

    async def after_attempt(
        self,
        attempts: int,
        response: Any,
        caught_exception: BaseException | None,
        request_dict: dict[str, Any],
        **_: Any,
    ) -> float | None:
        """``needs-retry``: learn from the answer; return the delay before a retry, or None."""
        context = request_dict.get("context", {})
        limiter: ScopeLimiter | None = context.pop("aiokit_limiter", None)
        if limiter is None:
            return None
        limiter.release()
        held = held_slots.get()
        if held is not None and limiter in held:
            held.remove(limiter)
        settings = self.settings
        status, code, retry_after = _answer(response)
        if caught_exception is None and is_throttling(code, status):
            limiter.on_throttle()
            waited = self._clock() - context.get("aiokit_started", self._clock())
            if waited + retry_after > settings.throttle_timeout:
                return None
            # Throttles do not use the caller's attempts: count them apart.
            context["aiokit_throttled"] = context.get("aiokit_throttled", 0) + 1
            context["aiokit_retry_cause"] = "throttle"
            return retry_after  # the scope's bucket paces the resend
        if caught_exception is None and status < 500:
            limiter.on_success(context.get("aiokit_sent"))
        if not _transient(status, code, caught_exception):
            return None
        tries = attempts - context.get("aiokit_throttled", 0)
        if tries >= settings.max_attempts:
            return None
        timeout = "timeout" in type(caught_exception).__name__.lower()
        if not limiter.spend(10 if timeout else 5):
            return None
        context["aiokit_retry_cause"] = "transient"
        return backoff(tries, base=_TRANSIENT_BASE, cap=settings.max_backoff)


#: The first transient retry waits up to this many seconds, each next one up to twice as
#: long (to ``max_backoff``): the AWS SDK for Java 2.x's standard base delay for errors that
#: are not throttles (botocore's standard mode starts at up to 1 s). A 5xx is most often
#: one host's failure, answered by another on the resend; a scope that keeps failing is
#: stopped by its retry budget, not by waiting. Measured on ``throttled_small_two`` (1 %
#: HTTP 500s): the units that met a 500 were the crawl's last, ~0.5 s after the rest.
_TRANSIENT_BASE = 0.1


def _transient(status: int, code: str, caught_exception: BaseException | None) -> bool:
    """botocore's own classification of a raw answer: connection trouble, a 5xx, a timeout
    code is worth another attempt; an exception of any other kind (a bug in a custom HTTP
    session, say) is not, nor a request that cannot be sent as built."""
    if caught_exception is None:
        return status in TRANSIENT_STATUS_CODES or code in TRANSIENT_ERROR_CODES
    return isinstance(caught_exception, TRANSIENT_EXCEPTIONS) and not _malformed(caught_exception)


def _malformed(exc: BaseException | None) -> bool:
    """A request that could not be sent as built (a line break in a header value, say):
    the same request fails the same way every time, so it is not retried."""
    if isinstance(exc, HTTPClientError):
        exc = exc.kwargs.get("error")
    return isinstance(exc, ValueError)


# service name -> endpoint prefix (``mturk`` -> ``mturk-requester``), read once per process.
_prefixes: dict[str, str] = {}


def _endpoint_prefix(service: str) -> str:
    """The endpoint prefix of ``service``, with botocore's endpoint data loaded (blocking,
    the first time: the request handler calls it in a worker thread)."""
    try:
        prefix = endpoint_prefix(service)
    except DataNotFoundError:  # no model to read: the name is the prefix
        prefix = service
    load_endpoints()
    _prefixes[service] = prefix
    return prefix


def _answer(response: Any) -> tuple[int, str, float]:
    """(HTTP status, error code, x-amz-retry-after in seconds) of a botocore response."""
    if response is None:
        return 0, "", 0.0
    http, parsed = response
    status = int(http.status_code)
    code = str(parsed.get("Error", {}).get("Code", "")) if status >= 300 else ""
    header = http.headers.get("x-amz-retry-after")
    try:
        retry_after = float(header) / 1000 if header is not None else 0.0
    except ValueError:
        retry_after = 0.0
    return status, code, retry_after
