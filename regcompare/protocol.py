"""Length-prefixed pickle frames on a pipe: arrays travel as raw buffers, never as JSON."""

from __future__ import annotations

import os
import pickle
import select
import struct
import time
from typing import Any

_HEADER = struct.Struct("<Q")


class Timeout(Exception):
    """No complete message arrived in time."""


def write_message(fd: int, message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise Timeout
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None  # the other side is gone
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, timeout: float | None = None) -> Any | None:
    """The next message, ``None`` at end of stream; ``Timeout`` if ``timeout`` seconds pass."""
    deadline = None if timeout is None else time.monotonic() + timeout
    header = _read_exactly(fd, _HEADER.size, deadline)
    if header is None:
        return None
    payload = _read_exactly(fd, _HEADER.unpack(header)[0], deadline)
    return None if payload is None else pickle.loads(payload)
