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


class Reader:
    """``read_message`` for a stream of many small messages: bytes are read ahead in large chunks, so a run of
    small results costs one system call for several of them instead of several for each. A large buffer (an
    array's bytes) is still read straight into the bytearray it will live in."""

    def __init__(self, fd: int, chunk: int = 1 << 16) -> None:
        self.fd, self.chunk = fd, chunk
        self._buffer = bytearray()
        self._at = 0  # bytes of ``_buffer`` already handed out

    def _fill(self, size: int, deadline: float | None) -> bool:
        """At least ``size`` unread bytes in the buffer; False if the other side is gone first."""
        while len(self._buffer) - self._at < size:
            _wait(self.fd, deadline)
            got = os.read(self.fd, max(self.chunk, size - (len(self._buffer) - self._at)))
            if not got:
                return False
            if self._at:  # drop what was handed out before growing: the buffer stays one message or so
                del self._buffer[:self._at]
                self._at = 0
            self._buffer += got
        return True

    def _take(self, size: int, deadline: float | None) -> bytearray | None:
        if size >= self.chunk:  # an array: its own bytearray, the part already read ahead copied once
            have = self._buffer[self._at:self._at + size]
            self._at += len(have)
            out = bytearray(size)
            out[:len(have)] = have
            view, done = memoryview(out), len(have)
            while done < size:
                _wait(self.fd, deadline)
                got = os.readv(self.fd, [view[done:]])
                if not got:
                    return None
                done += got
            return out
        if not self._fill(size, deadline):
            return None
        out = self._buffer[self._at:self._at + size]
        self._at += size
        return out

    def read(self, timeout: float | None = None) -> Any | None:
        """The next message, ``None`` at end of stream; ``Timeout`` if ``timeout`` seconds pass."""
        deadline = None if timeout is None else time.monotonic() + timeout
        header = self._take(_HEADER.size, deadline)
        if header is None:
            return None
        payload_size, count = _HEADER.unpack(header)
        lengths = self._take(_LENGTH.size * count, deadline) if count else bytearray()
        if lengths is None:
            return None
        payload = self._take(payload_size, deadline)
        buffers = [self._take(size, deadline) for (size,) in _LENGTH.iter_unpack(lengths)]
        if payload is None or any(b is None for b in buffers):
            return None
        return pickle.loads(payload, buffers=buffers)
