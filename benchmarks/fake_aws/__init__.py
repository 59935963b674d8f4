"""A fast fake AWS endpoint for throughput benchmarks and throttling/fault tests.

``FakeAWS(config)`` runs it in a subprocess; ``FakeConfig`` holds its knobs;
``expected_items`` computes, without the server, exactly what it serves.  See
``server.py`` for the protocols and ``model.py`` for the knobs and the ground truth.
"""

from .controller import FakeAWS, FakeAWSError
from .model import DEFAULT_REGIONS, OPT_IN_REGIONS, FakeConfig, expected_items

__all__ = [
    "DEFAULT_REGIONS",
    "OPT_IN_REGIONS",
    "FakeAWS",
    "FakeAWSError",
    "FakeConfig",
    "expected_items",
]
