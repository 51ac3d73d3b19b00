"""The framework worker: ``python -m regcompare.worker MODULE[:ATTR] FD_IN FD_OUT [PACKAGE]``.

It imports one adapter module (and so one framework) once, then answers tasks until told to stop, and ends
itself when the parent process is gone.
The protocol runs over two private pipes inherited from the parent, never over stdout: before the
framework is imported, fd 1 is pointed at fd 2, so whatever a framework prints can only reach the
worker's log, never the protocol.

Messages are pickled tuples behind an 8-byte length (``protocol.py``):
parent → worker ``("weights", wid, {name: array})``, ``("task", key, wid, api, quantity, dtype, native,
options)``, ``("forget", wid)``, ``("batch", [message, ...])`` (those three, handled in order), ``("stop",)``;
worker → parent ``("hello", status, text)`` and ``("result", key, status, value, detail)``, one per task as it
is done.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from typing import Any

import numpy as np

from regcompare.adapters.base import Adapter, Task, Value
from regcompare.protocol import read_message, write_message


def _as_numpy(value: Value) -> Any:
    """Results cross back as numpy arrays in the dtype the API returned (half the bytes of float64 for
    a float32 gradient); the parent widens exactly, a chunk at a time, when it compares."""
    if isinstance(value, dict):
        return {name: np.asarray(v) for name, v in value.items()}
    return np.asarray(value)


def _one_line(exc: BaseException) -> str:
    """The exception's type and first line, without object addresses (``<function f at 0x7f53ad2ebf60>`` →
    ``<function f>``): a row's detail is the same on every run."""
    text = str(exc).strip().splitlines()
    line = _ADDRESS.sub("", text[0]) if text else ""
    return f"{type(exc).__name__}: {line}".strip().rstrip(":")


#: An object's address in a repr (`` at 0x7f53ad2ebf60``): it differs from run to run.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {os.path.basename(last.filename)}:{last.lineno})"


def _load(target: str, package: str = "") -> tuple[Adapter | None, tuple[str, str]]:
    """The adapter, and the hello: ``missing`` only when the framework's top-level package is absent; any
    other import failure (its compiled core missing, a broken dependency) is ``error`` with the reason."""
    module_name, _, attr = target.partition(":")
    top = package or module_name.split(".")[0]
    try:
        absent = importlib.util.find_spec(top) is None  # looks for it without importing it
    except (ImportError, ValueError):
        absent = False  # something is there, but broken: the import below says what
    if absent:
        return None, ("missing", f"No module named '{top}'")
    try:
        module = importlib.import_module(module_name)
        adapter = getattr(module, attr or "ADAPTER")()
        # str(): torch.__version__ is a TorchVersion, and unpickling it would import torch in the parent.
        return adapter, ("ok", str(adapter.version()))
    except Exception as exc:  # noqa: BLE001 — any import failure becomes the framework's status
        return None, ("error", _one_line(exc) + _where(exc))


#: A tensor name every framework takes as a variable name; others (``a/b:0``, spaces, control characters)
#: are the harness's problem, not the case's: the adapter sees ``t0``, ``t1``, … in their place.
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class SafeNames:
    """The case's tensor names ↔ the names an adapter sees, for one task's weights."""

    def __init__(self, names: Iterable[str]) -> None:
        names = list(names)
        taken = {n for n in names if _SAFE_NAME.match(n)}
        fresh = (f"t{i}" for i in itertools.count() if f"t{i}" not in taken)
        self.safe = {n: n if _SAFE_NAME.match(n) else next(fresh) for n in names}
        self.case = {v: k for k, v in self.safe.items()}
        self.identity = all(k == v for k, v in self.safe.items())

    def task(self, task: Task) -> Task:
        """The task with every tensor name (weights, grads, scopes) replaced by its safe name."""
        if self.identity:
            return task
        options = dict(task.options)
        if isinstance(options.get("grads"), dict):
            options["grads"] = {self.safe.get(n, n): g for n, g in options["grads"].items()}
        if options.get("scope") is not None:
            options["scope"] = [self.safe.get(n, n) for n in options["scope"]]
        if isinstance(options.get("param"), dict) and options["param"].get("scope") is not None:
            options["param"] = {**options["param"], "scope": [self.safe.get(n, n) for n in options["param"]["scope"]]}
        weights = {self.safe[n]: w for n, w in task.weights.items()}
        return Task(task.api, task.quantity, task.dtype, task.native, weights, options)

    def result(self, value: Any) -> Any:
        """A result's keys back in the case's names (``t0.g`` → ``a/b:0.g`` for weight normalization)."""
        if self.identity or not isinstance(value, dict):
            return value
        return {self._back(key): v for key, v in value.items()}

    def _back(self, key: str) -> str:
        head, dot, rest = key.partition(".")
        return self.case[head] + dot + rest if head in self.case else key


def _answer(adapter: Adapter, task: Task) -> tuple[str, Any, str]:
    names = SafeNames(task.weights)
    try:
        return "ok", _as_numpy(names.result(adapter.run(names.task(task)))), ""
    except adapter.refusals as exc:
        return "unsupported", None, _one_line(exc)
    except Exception as exc:  # noqa: BLE001 — one API's failure is one row, not a dead worker
        return "error", None, _one_line(exc) + _where(exc)


def serve(module_name: str, fd_in: int, fd_out: int, package: str = "") -> None:
    adapter, hello = _load(module_name, package)
    write_message(fd_out, ("hello", *hello))
    if adapter is None:
        return
    weights: dict[int, dict[str, np.ndarray]] = {}
    while True:
        message = read_message(fd_in)
        if message is None or message[0] == "stop":
            return
        for part in message[1] if message[0] == "batch" else [message]:
            _handle(adapter, part, weights, fd_out)


def _handle(adapter: Adapter, message: tuple[Any, ...], weights: dict[int, dict[str, np.ndarray]], fd_out: int) -> None:
    """One message of a batch (or sent alone): keep or drop a weight set, or answer a task."""
    kind = message[0]
    if kind == "weights":
        weights[message[1]] = message[2]
    elif kind == "forget":
        weights.pop(message[1], None)
    elif kind == "task":
        key, wid, api, quantity, dtype, native, options = message[1:]
        task = Task(api, quantity, dtype, native, weights[wid], options)
        write_message(fd_out, ("result", key, *_answer(adapter, task)))


#: Seconds between checks that the parent is still there.
WATCH_INTERVAL = 0.5


def _watch_parent(parent: int) -> None:
    """End this worker (and whatever its framework started) when the parent is gone, even by SIGKILL: a worker
    hung inside a framework call never reads its pipe, so only a separate thread can notice."""
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    try:
        os.killpg(0, signal.SIGKILL)  # the worker leads its own session: this is it and its children
    finally:
        os._exit(1)


def main(argv: list[str]) -> None:
    module_name, fd_in, fd_out = argv[0], int(argv[1]), int(argv[2])
    if hasattr(os, "sched_setaffinity"):
        # Started by one of the parent's feeding threads, this process has that thread's single CPU
        # (regcompare.workers.share_one_cpu): take the parent process's own CPUs (its main thread's).
        try:
            os.sched_setaffinity(0, os.sched_getaffinity(os.getppid()))
        except OSError:
            pass
    package = argv[3] if len(argv) > 3 else ""
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True, name="parent-watch").start()
    os.dup2(2, 1)  # framework chatter on stdout goes to the log, never into the protocol
    sys.stdout = sys.stderr
    serve(module_name, fd_in, fd_out, package)
    # Told to stop (or the parent is gone): end now. An interpreter's orderly shutdown with a framework loaded
    # (its atexit hooks, thread pools, module teardown) took 0.1–2.9 s a worker here, and the parent waits for it.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
