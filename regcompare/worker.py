"""The framework worker: ``python -m regcompare.worker MODULE[:ATTR] FD_IN FD_OUT``.

It imports one adapter module (and so one framework) once, then answers tasks until told to stop.
The protocol runs over two private pipes inherited from the parent, never over stdout: before the
framework is imported, fd 1 is pointed at fd 2, so whatever a framework prints can only reach the
worker's log, never the protocol.

Messages are pickled tuples behind an 8-byte length (``protocol.py``):
parent → worker ``("weights", wid, {name: array})``, ``("task", key, wid, api, quantity, dtype, native,
options)``, ``("forget", wid)``, ``("stop",)``; worker → parent ``("hello", status, text)`` and
``("result", key, status, value, detail)``.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
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
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip().rstrip(":")


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {os.path.basename(last.filename)}:{last.lineno})"


def _load(target: str) -> tuple[Adapter | None, tuple[str, str]]:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        adapter = getattr(module, attr or "ADAPTER")()
        # str(): torch.__version__ is a TorchVersion, and unpickling it would import torch in the parent.
        return adapter, ("ok", str(adapter.version()))
    except ModuleNotFoundError as exc:
        return None, ("missing", _one_line(exc))
    except Exception as exc:  # noqa: BLE001 — any import failure becomes the framework's status
        return None, ("error", _one_line(exc) + _where(exc))


def _answer(adapter: Adapter, task: Task) -> tuple[str, Any, str]:
    try:
        return "ok", _as_numpy(adapter.run(task)), ""
    except adapter.refusals as exc:
        return "unsupported", None, _one_line(exc)
    except Exception as exc:  # noqa: BLE001 — one API's failure is one row, not a dead worker
        return "error", None, _one_line(exc) + _where(exc)


def serve(module_name: str, fd_in: int, fd_out: int) -> None:
    adapter, hello = _load(module_name)
    write_message(fd_out, ("hello", *hello))
    if adapter is None:
        return
    weights: dict[int, dict[str, np.ndarray]] = {}
    while True:
        message = read_message(fd_in)
        if message is None or message[0] == "stop":
            return
        kind = message[0]
        if kind == "weights":
            weights[message[1]] = message[2]
        elif kind == "forget":
            weights.pop(message[1], None)
        elif kind == "task":
            key, wid, api, quantity, dtype, native, options = message[1:]
            task = Task(api, quantity, dtype, native, weights[wid], options)
            write_message(fd_out, ("result", key, *_answer(adapter, task)))


def main(argv: list[str]) -> None:
    module_name, fd_in, fd_out = argv[0], int(argv[1]), int(argv[2])
    os.dup2(2, 1)  # framework chatter on stdout goes to the log, never into the protocol
    sys.stdout = sys.stderr
    serve(module_name, fd_in, fd_out)


if __name__ == "__main__":
    main(sys.argv[1:])
