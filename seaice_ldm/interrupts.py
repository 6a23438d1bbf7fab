"""Interrupts: Ctrl-C (SIGINT) and SIGTERM (what ``timeout``, batch schedulers and torchrun send) end the
program the same way, with every cleanup of an interrupted write run; both are held back around the few
steps that must not be cut (a library holding a lock, the two renames of a non-atomic replace).

Standard library only, below every layer: the command line installs the SIGTERM handler before it imports
anything heavy, so an interrupt during start-up ends in one line, not an import traceback.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup of an interrupted write runs."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


def terminate_like_interrupt() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread (the command line calls this first)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def _deferrable() -> dict[int, type[BaseException]]:
    """The signals this thread turns into exceptions, with the exception each raises."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    found: dict[int, type[BaseException]] = {}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        found[signal.SIGINT] = KeyboardInterrupt
    if signal.getsignal(signal.SIGTERM) is _raise_terminated:
        found[signal.SIGTERM] = Terminated
    return found


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) and SIGTERM until the block ends, then raise the first one received.

    A KeyboardInterrupt raised inside a library while it holds a lock (xarray's netCDF/HDF5 lock, taken
    in a Python loop) leaves the lock held, and the file's ``close()`` then waits forever. Deferring the
    signal lets the write finish or fail cleanly; the caller's cleanup runs when the interrupt is raised.
    Only the main thread receives signals; elsewhere (and inside another deferred block) this does nothing.
    """
    raising = _deferrable()
    if not raising:
        yield
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in raising}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise raising[received[0]]
