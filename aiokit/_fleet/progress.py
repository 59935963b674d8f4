"""Progress for people watching: a tqdm progress hook for fan-outs and crawls.

Nothing here is needed to use aiokit: tqdm is optional (the ``notebook`` extra). The hook
serves the async API and the sync facade alike; ``aiokit.sync.progress_bar`` re-exports it.
The HTML tables Jupyter shows for reports, outcomes and targets are in ``display.py``.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .outcomes import Progress

__all__ = ["ProgressBar", "interactive", "progress_bar"]


def interactive() -> bool:
    """Whether a person is likely watching: stderr is a terminal, or this is a Jupyter kernel."""
    stream = sys.stderr
    if stream is not None and hasattr(stream, "isatty") and stream.isatty():
        return True
    # A Jupyter kernel's stderr is a pipe; only IPython knows it is a notebook. IPython is
    # never imported here: if no one imported it, this is not a notebook.
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class ProgressBar:
    """A fan-out or crawl progress hook that draws a tqdm bar; a no-op when disabled.

    Pass it as ``progress=``; it is called with a :class:`~aiokit.Progress` after each
    target. The bar counts finished targets and shows ok / skipped / failed / items. It
    closes itself when ``total`` targets are done; use it as a context manager (or call
    :meth:`close`) when a run may stop early (a deadline, an error).

    Make one with :func:`progress_bar`.
    """

    def __init__(self, bar: Any | None, total: int | None) -> None:
        self._bar = bar
        self._total = total

    @property
    def enabled(self) -> bool:
        """Whether a bar is drawn."""
        return self._bar is not None

    def __call__(self, progress: Progress) -> None:
        """Advance the bar to ``progress.done`` targets."""
        bar = self._bar
        if bar is None:
            return
        bar.set_postfix(
            ok=progress.ok,
            skipped=progress.skipped,
            failed=progress.failed,
            items=progress.items,
            refresh=False,
        )
        bar.update(progress.done - bar.n)
        if self._total is not None and progress.done >= self._total:
            self.close()

    def close(self) -> None:
        """Stop drawing the bar. Idempotent."""
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"aiokit.sync.ProgressBar({state}, total={self._total})"


def progress_bar(
    total: int | None = None,
    *,
    description: str | None = None,
    enabled: bool | None = None,
    **tqdm_options: Any,
) -> ProgressBar:
    """A progress hook for ``fan_out(..., progress=...)`` and ``crawl(..., progress=...)``.

    ::

        targets = await pool.targets(aiokit.Organization(), regions="enabled")
        with progress_bar(len(targets), description="instances") as bar:
            df = await pool.crawl("ec2", "describe_instances", targets, progress=bar).to_pandas()

    The bar is ``tqdm.auto``'s: a widget in Jupyter, text on a terminal.

    Args:
        total: how many targets the run visits (``len(targets)``), for a bar with an end.
        description: a label in front of the bar.
        enabled: ``True`` to draw, ``False`` not to; by default a bar is drawn only on a
            terminal or in a Jupyter kernel, and only when tqdm is installed, so logs of
            batch jobs stay clean.
        **tqdm_options: passed to ``tqdm.auto.tqdm`` (``file=``, ``leave=``, ``mininterval=``...).

    Returns:
        A callable :class:`ProgressBar`; a no-op one when disabled.

    Raises:
        ImportError: ``enabled=True`` but tqdm is not installed (``pip install
            'aiokit[notebook]'``).
    """
    if enabled is None:
        enabled = interactive()
        if enabled:
            try:
                import tqdm.auto
            except ImportError:
                enabled = False
    if not enabled:
        return ProgressBar(None, total)
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError("aiokit progress bars need tqdm: pip install 'aiokit[notebook]'") from exc
    options: dict[str, Any] = {"unit": "target", "dynamic_ncols": True}
    options.update(tqdm_options)
    return ProgressBar(tqdm(total=total, desc=description, **options), total)
