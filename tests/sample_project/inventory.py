"""The user's code under test: how many SQS queues each account of an organization has."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiokit


@dataclass
class QueueInventory:
    counts: dict[str, int] = field(default_factory=dict)  # account -> queues
    unreachable: dict[str, str] = field(default_factory=dict)  # account -> why


async def count_queues(ctx: aiokit.Context) -> int:
    return len([url async for url in ctx.paginate("sqs", "list_queues").items()])


async def queue_inventory(pool: aiokit.SessionPool, targets: list[aiokit.Target]) -> QueueInventory:
    inventory = QueueInventory()
    async with pool.fan_out(count_queues, targets, concurrency=8) as outcomes:
        async for outcome in outcomes:
            account = outcome.target.account or "self"
            if outcome.ok:
                inventory.counts[account] = inventory.counts.get(account, 0) + outcome.value
            else:
                inventory.unreachable[account] = outcome.reason or "unknown"
    return inventory
