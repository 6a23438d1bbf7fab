"""Interrupts: Ctrl-C (SIGINT) and SIGTERM (what ``timeout``, batch schedulers and torchrun send) end the
program the same way, with every cleanup of an interrupted write run; both are held back around the few
steps that must not be cut (a library holding a lock, the two renames of a non-atomic replace).

Standard library only, below every layer: the command line installs the handlers before it imports anything
heavy, and the console script (:mod:`seaice_ldm.console`) catches an interrupt during the imports, so an
interrupt during start-up ends in one line, not an import traceback. The handlers remember the signal: a C
extension imported at that moment (numpy's) turns the KeyboardInterrupt into an ImportError, which the command
line then still reports as the interrupt.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


#: What the command line says when an interrupt ended it (everything half-written has been removed by then).
INTERRUPTED = "seaice-ldm: interrupted; nothing half-written was left behind"
TERMINATED = "seaice-ldm: terminated (SIGTERM); nothing half-written was left behind"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup of an interrupted write runs."""


_received: list[int] = []  # the signals raised as exceptions since the command line started


def _raise_interrupt(signum, frame) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def _raise_terminated(signum, frame) -> None:
    _received.append(signum)
    raise Terminated


def terminate_like_interrupt() -> None:
    """Make SIGTERM raise :class:`Terminated` and Ctrl-C KeyboardInterrupt (unless Ctrl-C is ignored) in the main
    thread, each remembered for :func:`interrupted_by` (the command line calls this first)."""
    if threading.current_thread() is threading.main_thread():
        _received.clear()
        signal.signal(signal.SIGTERM, _raise_terminated)
        if signal.getsignal(signal.SIGINT) in (signal.default_int_handler, _raise_interrupt):
            signal.signal(signal.SIGINT, _raise_interrupt)


def interrupted_by() -> type[KeyboardInterrupt] | None:
    """The exception of the first interrupt raised since :func:`terminate_like_interrupt`, also when a library
    turned it into another error on its way up; None when there was none."""
    if not _received:
        return None
    return Terminated if _received[0] == signal.SIGTERM else KeyboardInterrupt


def _deferrable() -> dict[int, type[BaseException]]:
    """The signals this thread turns into exceptions, with the exception each raises."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    found: dict[int, type[BaseException]] = {}
    if signal.getsignal(signal.SIGINT) in (signal.default_int_handler, _raise_interrupt):
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
        _received.append(received[0])
        raise raising[received[0]]
