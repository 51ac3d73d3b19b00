"""Judged rows on disk: the parent's memory stays flat in the number of rows (docs/results.md).

A run appends each case's rows, once the case is complete and its ``known`` entries applied, to an
append-only record file: one record per case, a ``RECORD_HEAD`` (the case's position in the run and the size
of what follows) and the pickled list of its rows. Every output reads the file back in plan order, a case at a
time; nothing needs all rows at once. The file is an unlinked temporary file: it goes when the run's store is
closed or the process ends, interrupted or not, and never sits among the reports. It is read by the process
that wrote it and by forks of it: the run's report writer follows it as it grows (regcompare.spool), which is
what the record heads are for.

Why pickle and not JSON lines or Parquet: rows are schemaless documents (a penalty row's ``raw`` is a number,
a gradient row's a nested list; each quantity adds its own keys), which a columnar schema does not hold
without flattening; pickle round-trips them exactly (floats bit for bit, NaN and ±inf, tuples) and writes
and reads them several times faster than ``json`` (measured on the shipped suite's rows: 0.15 s against
3.3 s to write, 1.1 s against 2.3 s to read), and every output reads the rows more than once.
"""

from __future__ import annotations

import bisect
import os
import pickle
import struct
import tempfile
import threading
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, overload

Row = dict[str, Any]

#: The head of each record in the file: the case's position in the run, and the size of its pickled rows.
RECORD_HEAD = struct.Struct("<qq")

#: Statuses that fail a run unless a ``known`` entry expects them.
FAILING = ("mismatch", "error")


@dataclass(frozen=True)
class _Block:
    """One case's record in the file: where it starts, how many bytes and rows, and the rows' keys in order."""

    offset: int
    size: int
    rows: int
    keys: tuple[str, ...]


class RowStore(Sequence[Row]):
    """The rows of a run, case by case, in plan order: a read-only sequence backed by a file.

    ``append`` takes a complete case (its position in the run and its rows) in any order; iteration,
    ``len`` and indexing see the cases in position order. Counts that the summaries need (per status,
    per framework and status, known rows, failing rows) are kept as rows arrive, so reading them costs
    nothing. Iterating parses the file again each time: callers make one pass and keep what they need.
    """

    def __init__(self, folder: str | None = None) -> None:
        # Unbuffered: a case's record goes to the file as it is appended, and every read is by position
        # (``os.pread``), so a forked report writer (regcompare.results.Outputs) reads it beside this process.
        self._file: IO[bytes] = tempfile.TemporaryFile(
            prefix="regcompare-rows-", suffix=".pickle", dir=folder, buffering=0)
        self._lock = threading.Lock()  # appends: one file position, a seek and a write together
        # The index: five numbers per case in one flat array (position, offset, size, rows, key list), not an
        # object per case, so that it stays a small part of the parent's memory at 10,000 cases and more.
        self._index = array("q")
        self._appended = bytearray()  # 1 at each position appended
        self._order: array[int] | None = array("q")  # block numbers (arrival order) sorted by position
        self._starts = array("q")  # first row index of each block in position order (for indexing)
        self._key_lists: list[tuple[str, ...]] = []
        self._key_number: dict[tuple[str, ...], int] = {}  # one number per distinct key list
        self._end = 0
        self._rows = 0
        self.counts: Counter[tuple[str, str]] = Counter()
        """(framework, status) → rows."""
        self.known = 0
        """Rows that a ``known`` entry explains."""
        self.failing = 0
        """Mismatches and errors that no ``known`` entry expects."""

    @classmethod
    def of(cls, rows: Iterable[Row], folder: str | None = None) -> RowStore:
        """A store holding ``rows`` as one block per case, in their order (for callers that have a list)."""
        store = cls(folder)
        block: list[Row] = []
        for row in rows:
            if block and row.get("case") != block[-1].get("case"):
                store.append(store._count, block)
                block = []
            block.append(row)
        if block:
            store.append(store._count, block)
        return store

    def append(self, position: int, rows: list[Row]) -> None:
        """Write a complete case's rows; ``position`` orders the cases (each position once)."""
        if position < 0:
            raise ValueError(f"case position {position} is negative")
        if position < len(self._appended) and self._appended[position]:
            raise ValueError(f"case position {position} was already appended")
        keys: dict[str, None] = {}
        for row in rows:
            keys.update(dict.fromkeys(row))
            status = row["status"]
            self.counts[(row["framework"], status)] += 1
            if row.get("known"):
                self.known += 1
            elif status in FAILING:
                self.failing += 1
        data = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL) if rows else b""
        key_list = tuple(keys)
        with self._lock:
            self._file.seek(self._end)
            view = memoryview(RECORD_HEAD.pack(position, len(data)) + data)
            while view:  # unbuffered: a write may take part of it
                view = view[self._file.write(view) or 0:]
            number = self._key_number.setdefault(key_list, len(self._key_lists))
            if number == len(self._key_lists):
                self._key_lists.append(key_list)
            self._index.extend((position, self._end + RECORD_HEAD.size, len(data), len(rows), number))
            if position >= len(self._appended):
                self._appended.extend(bytes(position + 1 - len(self._appended)))
            self._appended[position] = 1
            self._end += RECORD_HEAD.size + len(data)
            self._rows += len(rows)
            self._order = None

    # --- reading ------------------------------------------------------------------------------------

    @property
    def _count(self) -> int:
        return len(self._index) // 5

    def _block(self, number: int) -> _Block:
        _, offset, size, rows, keys = self._index[5 * number: 5 * number + 5]
        return _Block(offset, size, rows, self._key_lists[keys])

    def _sorted(self) -> array[int]:
        """Block numbers in position order, and each one's first row index (``_starts``)."""
        if self._order is None:
            self._order = array("q", sorted(range(self._count), key=lambda n: self._index[5 * n]))
            self._starts, total = array("q"), 0
            for number in self._order:
                self._starts.append(total)
                total += self._index[5 * number + 3]
        return self._order

    def _blocks(self) -> Iterator[_Block]:
        """Every block in position order."""
        for number in self._sorted():
            yield self._block(number)

    def _read(self, block: _Block) -> bytes:
        return read_at(self._file.fileno(), block.offset, block.size)

    def cases(self) -> Iterator[list[Row]]:
        """The rows of each case that has any, case by case in plan order (fresh copies on every pass)."""
        for block in self._blocks():
            if block.rows:
                yield pickle.loads(self._read(block))

    def __iter__(self) -> Iterator[Row]:
        for rows in self.cases():
            yield from rows

    def __len__(self) -> int:
        return self._rows

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("row index out of range")
        order = self._sorted()
        at = bisect.bisect_right(self._starts, index) - 1  # the last block starting at or before it: not empty
        rows: list[Row] = pickle.loads(self._read(self._block(order[at])))
        return rows[index - self._starts[at]]

    def __repr__(self) -> str:
        return f"<RowStore: {len(self)} rows in {self._count} cases>"

    @property
    def columns(self) -> list[str]:
        """Every key of any row, in the order they first appear in plan order (results.csv's header)."""
        columns: dict[str, None] = {}
        for block in self._blocks():
            columns.update(dict.fromkeys(block.keys))
        return list(columns)

    @property
    def summary(self) -> Counter[str]:
        """Rows per status."""
        out: Counter[str] = Counter()
        for (_, status), n in self.counts.items():
            out[status] += n
        return out

    def close(self) -> None:
        """Free the file now rather than when the store is collected."""
        self._file.close()

    def fileno(self) -> int:
        """The record file's descriptor (for a reader that follows the file: regcompare.spool)."""
        return self._file.fileno()

    @property
    def end(self) -> int:
        """The record file's size once every record appended so far is written."""
        return self._end


def read_at(fd: int, offset: int, size: int) -> bytes:
    """``size`` bytes of a file from ``offset``, without moving any file position (``os.pread``)."""
    parts, done = [], 0
    while done < size:  # a regular file gives it all at once; a short read is read on
        part = os.pread(fd, size - done, offset + done)
        if not part:
            raise OSError(f"the run's rows file ended {size - done} bytes early")
        parts.append(part)
        done += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


#: Rows of incomplete cases held in memory before they are spilled to disk (a small gradient row parsed is ~6 KB).
PENDING_ROWS = 2_000


class Pending:
    """Rows of cases that are not complete yet, keyed by case position and item key.

    Frameworks run at their own pace, so a fast one can be thousands of cases ahead of a slow one: its rows
    wait here for the rest of their case. Up to ``budget`` rows wait in memory; past that, all waiting rows
    go to a spill file (one pickled record per item) and are read back when their case completes.
    """

    def __init__(self, folder: str | None = None, budget: int | None = None) -> None:
        self._folder, self._budget = folder, PENDING_ROWS if budget is None else budget
        self._memory: dict[int, list[tuple[int, list[Row]]]] = defaultdict(list)
        self._spilled: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self._held = 0
        self._file: IO[bytes] | None = None
        self._end = 0

    def add(self, case: int, key: int, rows: list[Row]) -> None:
        self._memory[case].append((key, rows))
        self._held += len(rows)
        if self._held > self._budget:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="regcompare-pending-", suffix=".pickle", dir=self._folder)
        self._file.seek(self._end)
        for case, entries in self._memory.items():
            for key, rows in entries:
                data = pickle.dumps((key, rows), protocol=pickle.HIGHEST_PROTOCOL)
                self._file.write(data)
                self._spilled[case].append((self._end, len(data)))
                self._end += len(data)
        self._memory.clear()
        self._held = 0

    def take(self, case: int) -> list[list[Row]]:
        """The rows of a case's items, item by item in key order; forgotten here."""
        entries = self._memory.pop(case, [])
        self._held -= sum(len(rows) for _, rows in entries)
        spilled = self._spilled.pop(case, [])
        if spilled and self._file is not None:
            self._file.flush()
            for offset, size in spilled:
                self._file.seek(offset)
                key, rows = pickle.loads(self._file.read(size))
                entries.append((key, rows))
        entries.sort(key=lambda entry: entry[0])
        return [rows for _, rows in entries]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
