"""botocore.validate: botocore's own parameter validator, run by aiokit before a request
(paginators, a crawl's one check up front) so a bad parameter fails as botocore would."""

from __future__ import annotations

from botocore.validate import validate_parameters

__all__ = ["validate_parameters"]
