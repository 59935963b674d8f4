"""JSON response parsing, side by side: aiobotocore's parser against aiokit's compiled walk.

CPU per page (best of 5 rounds of ``--pages`` parses, ``time.process_time``) for pages of
real JSON-protocol shapes, parsed from the same bytes:

- ``aiobotocore``: its ``AioJSONParser``, as a plain aioboto3 client parses;
- ``aiobotocore_fast_ts``: the same with aiokit's ISO 8601 timestamp parser, so the last
  ratio isolates the walk;
- ``aiokit``: the parser an aiokit pool's clients use (``ParserFactory``);
- ``json.loads``: decoding alone, the floor of any walk over the decoded value.

Usage:
    python -m benchmarks.bench_parsers [--pages 100]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiobotocore.parsers import AioJSONParser
from botocore.model import ServiceModel

from aiokit._botocore.loaders import shared_loader
from aiokit._botocore.parsers import ParserFactory, parse_timestamp


def _scan_page(n: int) -> bytes:
    """A DynamoDB Scan page of ``n`` items of every attribute type."""
    items = [
        {
            "pk": {"S": f"user#{i}"},
            "n": {"N": str(i * 1.5)},
            "tags": {"SS": ["a", "b", "c"]},
            "m": {"M": {"x": {"N": "1"}, "y": {"S": "z" * 20}}},
            "l": {"L": [{"S": "q"}, {"N": "2"}, {"NULL": True}]},
            "ok": {"BOOL": True},
            "raw": {"B": "aGVsbG8="},
        }
        for i in range(n)
    ]
    page = {
        "Items": items,
        "Count": n,
        "ScannedCount": n,
        "LastEvaluatedKey": {"pk": items[-1]["pk"]},
    }
    return json.dumps(page).encode()


def _accounts_page(n: int) -> bytes:
    """An Organizations ListAccounts page (epoch timestamps)."""
    accounts = [
        {
            "Id": f"{100000000000 + i}",
            "Arn": f"arn:aws:organizations::111111111111:account/o-x/{100000000000 + i}",
            "Email": f"a{i}@example.com",
            "Name": f"account {i}",
            "Status": "ACTIVE",
            "JoinedMethod": "CREATED",
            "JoinedTimestamp": 1.7e9 + i,
        }
        for i in range(n)
    ]
    return json.dumps({"Accounts": accounts, "NextToken": "t"}).encode()


def _log_groups_page(n: int) -> bytes:
    """A CloudWatch Logs DescribeLogGroups page."""
    groups = [
        {
            "logGroupName": f"/aws/lambda/fn-{i}",
            "creationTime": 1700000000000 + i,
            "retentionInDays": 30,
            "metricFilterCount": 0,
            "arn": f"arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/fn-{i}:*",
            "storedBytes": 1024 * i,
        }
        for i in range(n)
    ]
    return json.dumps({"logGroups": groups, "nextToken": "t"}).encode()


CASES = (
    ("dynamodb", "Scan", "100 items", lambda: _scan_page(100)),
    ("organizations", "ListAccounts", "20 accounts", lambda: _accounts_page(20)),
    ("logs", "DescribeLogGroups", "50 groups", lambda: _log_groups_page(50)),
)


def _run(coro: Any) -> Any:
    """Run a coroutine that never suspends (aiobotocore's parse of a bytes body)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("the parse suspended")  # pragma: no cover


def _parsing(parser: Any, response: dict[str, Any], shape: Any) -> Callable[[], Any]:
    return lambda: _run(parser.parse(dict(response), shape))


def _per_page(parse: Callable[[], Any], pages: int) -> float:
    parse()
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(pages):
            parse()
        best = min(best, (time.process_time() - start) / pages)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be >= 1")
    print(f"bench_parsers: CPU ms per page, best of 5 x {args.pages} parses")
    print(
        f"{'page':44} {'aiobotocore':>12} {'+fast ts':>9} {'aiokit':>8} {'json.loads':>11}  ratio"
    )
    for service, operation, what, make in CASES:
        model = ServiceModel(shared_loader().load_service_model(service, "service-2"), service)
        shape = model.operation_model(operation).output_shape
        body = make()
        response = {"status_code": 200, "headers": {"x-amzn-requestid": "r"}, "body": body}
        contenders = {
            "aiobotocore": AioJSONParser(),
            "fast_ts": AioJSONParser(timestamp_parser=parse_timestamp),
            "aiokit": ParserFactory().create_parser("json"),
        }
        expected = repr(_run(contenders["aiobotocore"].parse(dict(response), shape)))
        if repr(_run(contenders["aiokit"].parse(dict(response), shape))) != expected:
            raise SystemExit(f"{service} {operation}: aiokit's parse differs from aiobotocore's")
        ms = {
            name: 1e3 * _per_page(_parsing(p, response, shape), args.pages)
            for name, p in contenders.items()
        }
        decode = 1e3 * _per_page(lambda b=body: json.loads(b.decode()), args.pages)
        label = f"{service} {operation} ({what}, {len(body) // 1024} KiB)"
        print(
            f"{label:44} {ms['aiobotocore']:12.3f} {ms['fast_ts']:9.3f} {ms['aiokit']:8.3f} "
            f"{decode:11.3f}  {ms['aiobotocore'] / ms['aiokit']:.2f}x "
            f"({ms['fast_ts'] / ms['aiokit']:.2f}x the walk alone)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
