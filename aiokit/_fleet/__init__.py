"""The fleet: many targets (targets, discovery, fan-out, crawl, progress).

It depends on the ``Requester`` protocol, never on ``SessionPool``.
"""
