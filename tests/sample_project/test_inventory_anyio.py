"""The same tests as an anyio user runs them: anyio's marker and its anyio_backend fixture."""

from __future__ import annotations

import pytest
from test_inventory import (
    test_counts_every_member_account,
    test_counts_the_queues_of_my_own_account,
    test_is_complete_when_aws_throttles_and_fails,
    test_names_the_account_whose_role_is_denied,
)

pytestmark = pytest.mark.anyio

__all__ = [
    "test_counts_every_member_account",
    "test_counts_the_queues_of_my_own_account",
    "test_is_complete_when_aws_throttles_and_fails",
    "test_names_the_account_whose_role_is_denied",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiokit runs on asyncio
