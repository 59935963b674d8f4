"""The fleet: many targets (targets, discovery, fan-out, crawl, outcomes, progress).

It depends on the ``Requester`` protocol (``aiokit._protocols``), never on ``SessionPool``:

- ``targets.py``: ``Target``, one (account, region, partition) cell;
- ``discovery/``: which targets (``discover_targets``, ``Organization``, ``Profiles``);
- ``limits.py``: ``FanOutLimits``, the bounds and times of a run;
- ``streams.py``: ``running()``, the task group and stream a run owns;
- ``fanout.py``: ``FanOut`` and the ``Context`` its function gets;
- ``crawl.py``: ``Crawl``, a fan-out of one paginated operation, and its ``Report``;
- ``outcomes.py``: ``Outcome``, ``Status`` and ``classify``;
- ``progress.py`` and ``display.py``: a progress bar, and the HTML tables of the reprs.
"""
