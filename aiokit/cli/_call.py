"""``aiokit call SERVICE OPERATION``: one API call, as ``aws SERVICE OPERATION`` makes it; or
the same call in every target (``--accounts`` / ``--profiles`` / ``--regions``), a fan-out.

One call prints the response as the AWS CLI does: ``ResponseMetadata`` dropped, ``--query``
applied to the response, JSON indented by 4 (``--output json``), the AWS CLI's
tab-separated text (``--output text``), a table or YAML (``_output.py``). A fan-out prints
one outcome a target (``account``, ``region``, ``status``, and the ``result`` or the
``reason`` and ``error``) as JSON lines, text lines, one JSON or YAML document or a table, a
summary line on stderr, and exits 1 if a target failed.

The operation and its parameters are checked against the service's model before the first
request (and before the targets are listed): a typo is one line and exit 2, for one call or
for a thousand targets alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore import xform_name

import aiokit

from .._botocore.loaders import shared_loader
from .._botocore.model import ServiceModel
from .._botocore.validate import validate_parameters
from .._exceptions import translated
from .._validate import did_you_mean
from .._where import Scope
from ._console import EXIT_FAILED, Failure, err
from ._crawl import _Bar, compile_query
from ._json import text
from ._names import operation_name, parameter_names
from ._output import Records, print_value

__all__ = ["Call", "check_call", "fan_out_call", "one_call", "outcome_record", "print_result"]


@dataclass(frozen=True)
class Call:
    """One checked API call: the service, the client method and the operation's name, its
    parameters and the compiled ``--query`` (or ``None``)."""

    service: str
    method: str
    operation: str
    params: dict[str, Any]
    query: Any = None

    async def __call__(self, client: Any) -> Any:
        """The call's response through ``client``, shaped as the AWS CLI prints it."""
        response = await getattr(client, self.method)(**self.params)
        response = {k: v for k, v in response.items() if k != "ResponseMetadata"}
        return self.query.search(response) if self.query is not None else response


def check_call(service: str, operation: str, params: dict[str, Any], query: str | None) -> Call:
    """The call checked against the service's model, without a request. Blocking (it may
    read model files): run it in a worker thread.

    Raises:
        UnknownServiceError, UnknownOperationError, InvalidParameterError: a typo.
    """
    compiled = compile_query(query)
    snake = operation_name(service, operation)  # kebab-case accepted
    params = parameter_names(service, snake, params)  # so are kebab-case parameter names
    with translated(Scope(None, None, service)):
        model = ServiceModel(shared_loader().load_service_model(service, "service-2"), service)
    by_snake = {str(xform_name(n)): n for n in model.operation_names}
    camel = by_snake.get(snake) or (snake if snake in model.operation_names else None)
    if camel is None:
        kebab = [str(xform_name(n, "-")) for n in model.operation_names]
        raise aiokit.UnknownOperationError(
            f"{service} has no operation {operation!r}{did_you_mean(operation, kebab)}",
            service=service,
            operation=operation,
        )
    operation_model = model.operation_model(camel)
    if operation_model.has_streaming_output:
        raise aiokit.InvalidParameterError(
            f"{service} {camel} answers with a stream of bytes, which `aiokit call` does not "
            "print; use the AWS CLI or the library for it",
            service=service,
            operation=camel,
        )
    shape = operation_model.input_shape
    if shape is None and params:
        raise aiokit.InvalidParameterError(
            f"{service} {camel} takes no parameters", service=service, operation=camel
        )
    if shape is not None:
        with translated(Scope(None, None, service), camel):
            validate_parameters(params, shape)
    return Call(service, str(xform_name(camel)), camel, params, compiled)


# --- printing ---------------------------------------------------------------------------------


def print_result(value: Any, output: str, title: str) -> None:
    """One call's result, as ``--output`` asks; an empty response prints nothing, as the
    AWS CLI's."""
    if value == {}:
        return
    print_value(value, output, title=title)


async def one_call(pool: aiokit.SessionPool, call: Call, output: str) -> None:
    """The call in the pool's own identity and region; its result on stdout."""
    client = await pool.client(call.service)
    value = await call(client)
    print_result(value, output, f"{call.service} {call.method}")


# --- the same call in every target --------------------------------------------------------------


def outcome_record(outcome: aiokit.Outcome[Any]) -> dict[str, Any]:
    """One target's outcome as a fan-out prints it: where, the status, and the result or
    why not."""
    record: dict[str, Any] = {
        "account": outcome.target.account,
        "region": outcome.target.region,
        "status": outcome.status.value,
    }
    if outcome.status is aiokit.Status.OK:
        record["result"] = outcome.value
    else:
        record["reason"] = outcome.reason
        record["error"] = " ".join(str(outcome.error).split())
    return record


async def fan_out_call(
    pool: aiokit.SessionPool,
    call: Call,
    targets: list[aiokit.Target],
    output: str,
    concurrency: int,
) -> None:
    """The call in every target; one outcome a target on stdout (as they finish; sorted in a
    table), the summary on stderr; ``Failure(1)`` if a target failed."""

    async def one(ctx: aiokit.Context) -> Any:
        return await call(await ctx.client(call.service))

    title = f"{call.service} {call.method}"
    report = aiokit.Report()
    records = Records(
        output,
        title=title,
        line=lambda r: "\t".join(_cells(r)),
        sort=lambda r: (r["account"] or "", r["region"] or ""),
    )
    bar = _Bar(err.is_terminal, title, len(targets), items=False)
    try:
        async with pool.fan_out(
            one, targets, concurrency=concurrency, progress=bar.progress
        ) as outcomes:
            async for outcome in outcomes:
                report.add(outcome)
                records.add(outcome_record(outcome))
    finally:
        bar.stop()
    records.close()
    counts = report.counts
    n = report.targets
    err.print(
        f"{n} target{'' if n == 1 else 's'}: {counts.get('ok', 0)} ok, "
        f"{counts.get('skipped', 0)} skipped, {counts.get('failed', 0)} failed",
        highlight=False,
    )
    if counts.get("failed", 0):
        raise Failure(EXIT_FAILED)


def _cells(record: dict[str, Any]) -> list[str]:
    """account, region, status, and the result (as JSON) or ``reason: error``."""
    if "result" in record:
        detail = text(record["result"])
    else:
        detail = f"{record['reason']}: {record['error']}"
    where = [record["account"] or "self", record["region"] or "global", record["status"]]
    return [*where, detail]
