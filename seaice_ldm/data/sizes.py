"""Memory a job needs, checked against what the machine has before anything is allocated."""

from __future__ import annotations

import os

from .variables import DataError

GIB = 2**30
HEADROOM = 0.8  # of the available memory: the rest is for the interpreter, the models and the copies made


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux ``MemAvailable``; else the free pages), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(needed: int, what: str, fix: str) -> None:
    """Refuse, before allocating, a job whose arrays need more than the machine has available."""
    available = available_memory()
    if available is not None and needed > HEADROOM * available:
        raise DataError(f"{what} needs about {needed / GIB:.1f} GiB of memory; this machine has "
                        f"{available / GIB:.1f} GiB available: {fix}")


def field_bytes(states: int, variables: int, ny: int, nx: int, itemsize: int = 4) -> int:
    """Bytes of ``states`` float32 states of ``variables`` fields on an ``ny`` x ``nx`` grid."""
    return states * variables * ny * nx * itemsize
