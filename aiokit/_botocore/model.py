"""botocore.model: service models, built from the shared loader's parsed JSON."""

from __future__ import annotations

from botocore.model import ServiceModel

__all__ = ["ServiceModel"]
