"""A time limit for work the parent does itself (the oracle's references), and a way to stop it at once.

Workers are processes and can be killed; a reference is computed in one of the parent's threads, which
cannot be. ``Watchdog.run`` runs a function in the calling thread while one watcher thread (per run, not per
call: a run judges hundreds of thousands of items) checks the clock and a stop flag; when either says so, it
raises ``Expired`` inside the working thread (``PyThreadState_SetAsyncExc``: delivered at the next bytecode,
so a Python loop such as a training run's epochs stops at once, one long numpy call when it returns).
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Seconds between the watcher's looks at the clock and the stop flag.
POLL = 0.1


def positive_seconds(text: str) -> float:
    """A positive, finite number of seconds from a command-line text (``--timeout``, ``--regcompare-timeout``).

    Raises ``ValueError`` otherwise: argparse (and pytest's option parser) turn it into a usage error that
    names the option, before any work starts.
    """
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(text)
    return value


positive_seconds.__name__ = "positive number of seconds"  # argparse names the type in its message


class Expired(BaseException):
    """Raised inside the work when its time is up or the run stops; a BaseException so that no
    ``except Exception`` in the work can swallow it."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Schedule ``exc`` in that thread, or (``None``) cancel one that is scheduled but not yet raised."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


class Watchdog:
    """One watcher thread for many calls, one call at a time."""

    def __init__(self, seconds: float, stopped: Callable[[], bool] = lambda: False) -> None:
        self.seconds, self.stopped = seconds, stopped
        self._lock = threading.Lock()
        self._current: tuple[int, float] | None = None  # (thread, deadline) of the call in progress
        self._fired = False
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="regcompare-watchdog")
        self._thread.start()

    def run(self, work: Callable[[], T]) -> T:
        """``work()``; ``Expired`` if it outlives ``seconds`` or ``stopped()`` turns true meanwhile."""
        with self._lock:
            self._current, self._fired = (threading.get_ident(), time.monotonic() + self.seconds), False
        try:
            return work()
        finally:
            # Raised here, if it arrives now, it leaves this call as Expired all the same; once the call is
            # cleared the watcher cannot fire, and one scheduled but not delivered is cancelled.
            with self._lock:
                if self._fired and self._current is not None:
                    _raise_in(self._current[0], None)
                self._current = None

    def _watch(self) -> None:
        while not self._closed.wait(POLL):
            with self._lock:
                if self._current is None or self._fired:
                    continue
                thread, deadline = self._current
                if time.monotonic() >= deadline or self.stopped():
                    self._fired = True
                    _raise_in(thread, Expired)

    def close(self) -> None:
        self._closed.set()
