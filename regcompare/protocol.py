"""Frames on a pipe: a pickle, with every array's bytes sent out of band, never copied or JSON-encoded.

A frame is ``header | pickle | buffer 1 | … | buffer n``; the header holds the pickle's length and
each buffer's. Arrays are written straight from their own memory (pickle protocol 5 hands them over
as buffers) and read straight into the bytearrays they will live in, so a 40 MB tensor costs 40 MB
on each side, not three copies of it.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import time
from typing import Any

_HEADER = struct.Struct("<QI")  # pickle length, number of out-of-band buffers
_LENGTH = struct.Struct("<Q")
#: Messages up to this size are joined into one write (a copy that costs less than the extra wake-ups).
_SMALL = 1 << 16


class Timeout(Exception):
    """No complete message arrived in time."""


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data):]


def write_message(fd: int, message: Any) -> None:
    buffers: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    header = _HEADER.pack(len(payload), len(raws)) + b"".join(_LENGTH.pack(r.nbytes) for r in raws)
    if len(payload) + sum(r.nbytes for r in raws) <= _SMALL:
        # One write: the reader wakes once for the whole message, not once per part (a small task's result).
        _write_all(fd, memoryview(b"".join((header, payload, *raws))))
        return
    for part in (memoryview(header), memoryview(payload), *raws):
        _write_all(fd, part)


def _wait(fd: int, deadline: float | None) -> None:
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
        raise Timeout


def _read_into(fd: int, size: int, deadline: float | None) -> bytearray | None:
    """``size`` bytes read into one bytearray (no joins of chunks); ``None`` if the other side is gone."""
    buffer = bytearray(size)
    view, done = memoryview(buffer), 0
    while done < size:
        _wait(fd, deadline)
        got = os.readv(fd, [view[done:]])
        if not got:
            return None
        done += got
    return buffer


def read_message(fd: int, timeout: float | None = None) -> Any | None:
    """The next message, ``None`` at end of stream; ``Timeout`` if ``timeout`` seconds pass."""
    deadline = None if timeout is None else time.monotonic() + timeout
    header = _read_into(fd, _HEADER.size, deadline)
    if header is None:
        return None
    payload_size, count = _HEADER.unpack(header)
    lengths = _read_into(fd, _LENGTH.size * count, deadline) if count else bytearray()
    if lengths is None:
        return None
    payload = _read_into(fd, payload_size, deadline)
    buffers = [_read_into(fd, size, deadline) for (size,) in _LENGTH.iter_unpack(lengths)]
    if payload is None or any(b is None for b in buffers):
        return None
    return pickle.loads(payload, buffers=buffers)
