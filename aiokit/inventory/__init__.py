"""The inventory catalogue: common AWS resource types as data (issue 17, step 1).

::

    from aiokit.inventory import CATALOGUE, load_spec, select

    instances = CATALOGUE["ec2.instances"]
    instances.listing       # aiokit.Listing(ec2.describe_instances)
    instances.records       # "Reservations[].Instances[]": the records in one page
    instances.primary_key   # "InstanceId": a record's key in its account and region
    instances.is_global     # False: listed once per region

    catalogue = load_spec("extra.toml")          # the built-ins plus (or replaced by) yours
    chosen = select("ec2.*,s3.buckets", catalogue)

A :class:`ResourceType` says how to find one type of resource: its
:class:`~aiokit.Listing`, the JMESPath to its records in a page, the JMESPath to a record's
primary key (the ARN where the API returns one), and whether it is global (once per
account). Nothing here sends a request; the docs' Inventory guide lists every entry.

An :class:`InventoryStore` is the sink an inventory crawl's events go into (typed tables,
one snapshot per run); :func:`diff` compares two runs and :func:`to_pandas` reads one.
"""

from .._fleet.listings import Listing
from ._catalogue import CATALOGUE, ResourceType
from ._diff import Diff, FieldChange, ResourceChange, diff, to_pandas
from ._spec import load_spec, select
from ._store import InventoryRun, InventoryStore

__all__ = [
    "CATALOGUE",
    "Diff",
    "FieldChange",
    "InventoryRun",
    "InventoryStore",
    "Listing",
    "ResourceChange",
    "ResourceType",
    "diff",
    "load_spec",
    "select",
    "to_pandas",
]

for _cls in (Diff, FieldChange, InventoryRun, InventoryStore, ResourceChange, ResourceType):
    _cls.__module__ = "aiokit.inventory"
del _cls
