"""A run's row outputs, written while it runs: results.csv, junit.xml, the rows of results.json and the digest
that report.html, report.md and the summary are drawn from (regcompare.aggregates.Digest).

Written from the store once the run was over, these took a 10,000-case run (570,000 rows, 1.9 GB of text) 34 s
at the end, on both cores, after the workers were done. So a process forked before the run starts follows the
store's file as the run appends to it, on CPU time nobody else wants (``run_when_idle``): what the
frameworks and the judging leave over. What is left after the run is results.json's head and the page.

The follower reads each record (regcompare.store.RECORD_HEAD: a case's position and size) once it is whole, and
handles the cases in position order, the order in which the store itself reads them; so every output is byte
for byte what writing it from the store after the run gives (tests/test_spool.py). Nothing goes from the run to
the follower but the file: the run never waits for it. It is told the file's final size when the run is over,
and sends the digest back.
"""

from __future__ import annotations

import os
import pickle
import select
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from regcompare.aggregates import Digest
from regcompare.results import (
    CSV_CHUNK,
    JSON_TAIL,
    JUNIT_HEAD,
    JUNIT_TAIL,
    CsvFrames,
    json_head,
    open_report,
    write_json_rows,
    write_junit_block,
)
from regcompare.store import RECORD_HEAD, Row, RowStore, read_at

#: The follower's niceness where the platform has no SCHED_IDLE policy (``run_when_idle``).
IDLE_NICENESS = 19


def run_when_idle() -> None:
    """Run this process (on Linux, its calling thread) only on CPU time that no other process of its session wants:
    the SCHED_IDLE policy (sched(7)), else niceness ``IDLE_NICENESS``. The follower is forked from the parent, so it
    is in the parent's session: Linux schedules a session as one group (autogroup), and within it SCHED_IDLE gives
    way to the parent's own threads at once."""
    if hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:
        os.setpriority(os.PRIO_PROCESS, 0, IDLE_NICENESS)


#: Seconds the follower waits for the file to grow before it looks again.
POLL_S = 0.05

#: The files the follower writes into its folder (``Spool.path``).
CSV, JUNIT, JSON_ROWS = "results.csv", "junit.xml", "rows.json"


class Spool:
    """The follower of a run's store: start it before the run (it forks then, before the run's threads exist),
    ``finish`` it after, take its files (``path``) into the reports, and close it (``with``), which also ends it
    and removes its folder when the run fails or is interrupted. Where the platform cannot fork, ``finish``
    writes the same files from the store in this process."""

    def __init__(self, store: RowStore, out_dir: str | os.PathLike[str]) -> None:
        self.store = store
        self.folder = Path(tempfile.mkdtemp(prefix=".spool-", dir=out_dir))
        self.pid: int | None = None
        if not hasattr(os, "fork"):
            return
        end_r, self._end_w = os.pipe()
        self._back_r, back_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the follower: never returns
            os.close(self._end_w)
            os.close(self._back_r)
            _serve(store.fileno(), self.folder, end_r, back_w)
        os.close(end_r)
        os.close(back_w)
        self.pid = pid

    def path(self, name: str) -> Path:
        return self.folder / name

    def finish(self) -> Digest:
        """Tell the follower the run is over (the file's final size), wait for it and take its digest; its
        failure is raised here as an OSError, as if this process had met it."""
        if self.pid is None:  # no follower: the same files, written here
            return _follow(self.store.fileno(), self.folder, None, self.store.end)
        try:
            os.write(self._end_w, self.store.end.to_bytes(8, "little"))
        except BrokenPipeError:
            pass  # it has ended already: its error, if any, is in the pipe
        with os.fdopen(os.dup(self._back_r), "rb") as back:
            answer = back.read()
        _, status = os.waitpid(self.pid, 0)
        self._forget()
        if not answer:
            raise OSError(f"the process writing the reports ended with status {status} and no answer")
        kind, value = pickle.loads(answer)
        if kind == "error":
            raise value
        return value

    def write_json(self, doc: dict[str, Any], out: TextIO) -> None:
        """results.json after ``finish``: ``doc``'s head, the rows the follower wrote, the end (as
        regcompare.results.write_json writes it from the store)."""
        out.write(json_head(doc))
        append_file(out, self.path(JSON_ROWS))
        out.write(JSON_TAIL)

    def close(self) -> None:
        """End the follower if it still runs, and remove its folder."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self._forget()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _forget(self) -> None:
        """The follower has ended and been waited for: release its pipes, once."""
        os.close(self._end_w)
        os.close(self._back_r)
        self.pid = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class _ParentGone(Exception):
    """The parent ended without saying the run was over (killed): nobody will take the files."""


def _serve(fd: int, folder: Path, end_r: int, back_w: int) -> None:
    """The forked follower's whole life: follow the file, send back the digest or the error, end at once."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles an interrupt, and ends this one
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        run_when_idle()
        answer: tuple[str, Any] = ("ok", _follow(fd, folder, end_r, None))
    except _ParentGone:
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(1)
    except BaseException as exc:  # noqa: BLE001 - whatever it is goes to the parent
        code = 1
        answer = ("error", exc if isinstance(exc, OSError) else OSError(f"{type(exc).__name__}: {exc}"))
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - an unpicklable error still reaches the parent as text
        code, data = 1, pickle.dumps(("error", OSError(f"{type(exc).__name__}: {exc}")))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(back_w, view):]
    except OSError:  # the parent is gone: nobody will take the files
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os._exit(code)


def _follow(fd: int, folder: Path, end_r: int | None, end: int | None) -> Digest:
    """Read the store's records as they become whole and hand them to the writers in position order, until the
    file has reached ``end`` (read from ``end_r`` once the run is over); then close the writers."""
    writers = _Writers(fd, folder)
    offset, expected = 0, 0
    waiting: dict[int, tuple[int, int]] = {}  # position → (offset, size) of a record that came before its turn
    while end is None or offset < end:
        size = os.fstat(fd).st_size
        while offset + RECORD_HEAD.size <= size:
            position, length = RECORD_HEAD.unpack(read_at(fd, offset, RECORD_HEAD.size))
            if offset + RECORD_HEAD.size + length > size:
                break  # still being written
            waiting[position] = (offset + RECORD_HEAD.size, length)
            offset += RECORD_HEAD.size + length
            while expected in waiting:
                writers.add(*waiting.pop(expected))
                expected += 1
        if end is None and end_r is not None and select.select([end_r], [], [], POLL_S)[0]:
            told = os.read(end_r, 8)
            if not told:
                raise _ParentGone
            end = int.from_bytes(told, "little")
    for position in sorted(waiting):  # positions never appended leave a gap: the rest follow in order
        writers.add(*waiting[position])
    return writers.close()


class _Writers:
    """The outputs of the rows, case by case in position order."""

    def __init__(self, fd: int, folder: Path) -> None:
        self.fd = fd
        self.csv, self.junit, self.json = (open_report(folder / name) for name in (CSV, JUNIT, JSON_ROWS))
        self.junit.write(JUNIT_HEAD)
        self.first = True  # no row in rows.json yet
        self.digest = Digest()
        self.records: list[tuple[int, int]] = []  # every case read, for writing results.csv again
        # results.csv's header is every key of any row; until CSV_CHUNK rows are in, they wait (``early``), then
        # the first frame fixes the columns. A row with a key outside them afterwards means the header was
        # wrong: the file is then written again at the end (``diverged``).
        self.keys: dict[str, None] = {}
        self.frames: CsvFrames | None = None
        self.early: list[Row] = []
        self.diverged = False

    def add(self, offset: int, size: int) -> None:
        if not size:
            return  # a case without rows
        rows: list[Row] = pickle.loads(read_at(self.fd, offset, size))
        self.records.append((offset, size))
        self.digest.add_case(rows)
        self.first = write_json_rows(rows, self.json, self.first)
        write_junit_block(rows, self.junit)
        for row in rows:
            self._csv(row)

    def _csv(self, row: Row) -> None:
        new = False
        for key in row:
            if key not in self.keys:
                self.keys[key] = None
                new = True
        if self.diverged:
            return
        if self.frames is None:
            self.early.append(row)
            if len(self.early) == CSV_CHUNK:
                self._fix_columns()
        elif new:
            self.diverged = True
        else:
            self.frames.add(row)

    def _fix_columns(self) -> None:
        self.frames = CsvFrames(self.csv, self.keys)
        for row in self.early:
            self.frames.add(row)
        self.early = []

    def close(self) -> Digest:
        if self.diverged:
            self.csv.seek(0)
            self.csv.truncate()
            self.frames = CsvFrames(self.csv, self.keys)
            for offset, size in self.records:
                for row in pickle.loads(read_at(self.fd, offset, size)):
                    self.frames.add(row)
        elif self.frames is None:
            self._fix_columns()
        assert self.frames is not None
        self.frames.close()
        self.junit.write(JUNIT_TAIL)
        for handle in (self.csv, self.junit, self.json):
            handle.close()
        return self.digest


def append_file(out: TextIO, path: Path) -> None:
    """Append the bytes of the file at ``path`` to ``out`` (a text file open for writing), copied by the kernel
    where it can (``os.copy_file_range``): results.json's rows are most of a gigabyte for 10,000 cases."""
    out.flush()
    copied = 0
    with open(path, "rb") as source:
        try:
            while n := os.copy_file_range(source.fileno(), out.fileno(), 1 << 30, copied):
                copied += n
        except (AttributeError, OSError):  # no such call here, or not between these files: copy through Python
            source.seek(copied)
            shutil.copyfileobj(source, out.buffer)
            out.buffer.flush()
