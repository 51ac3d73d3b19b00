"""``regcompare run --watch``: the edit-run loop.

After the first run, the workers stay up (their framework imported: the seconds a fresh run pays every time)
and the case files under the given paths are polled for changes. A changed or new file is loaded and run on
its own, and its rows are printed; a file that no longer loads says why, and the loop goes on. Ctrl-C ends it.
Polling modification stamps needs no extra package and works on every file system (network mounts, containers'
bind mounts) where change notification may not.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from regcompare import engine
from regcompare.cases import CaseError, case_files, load_cases
from regcompare.plan import row_label
from regcompare.workers import WorkerPool

#: Seconds between looks at the files' stamps: small against the one second an edit may take to re-run.
POLL = 0.2

Stamps = dict[str, tuple[int, int]]


def stamps(paths: list[str]) -> Stamps:
    """Each case file's (modification time in ns, size) under ``paths``; a path that is gone has none."""
    try:
        files = case_files(paths)
    except CaseError:
        files = [p for p in paths if os.path.isfile(p)]  # a folder emptied meanwhile: what is left still counts
    out: Stamps = {}
    for file in files:
        try:
            info = os.stat(file)
        except OSError:
            continue
        out[file] = (info.st_mtime_ns, info.st_size)
    return out


def changed(before: Stamps, after: Stamps) -> list[str]:
    """Files new in ``after`` or with another stamp, in ``after``'s order (sorted, as a run's)."""
    return [file for file, stamp in after.items() if before.get(file) != stamp]


def row_line(row: dict[str, Any]) -> str:
    """One row on one line: status, case, the row's label and why."""
    from regcompare.report import why_line

    known = " (known)" if row.get("known") else ""
    return f"  {row['status']:<11} {row['case']} · {row_label(row)}{known}: {why_line(row, 150)}"


def rerun(
    files: list[str], frameworks: tuple[str, ...], pool: WorkerPool, max_elements: int, out: TextIO, err: TextIO
) -> engine.Run | None:
    """Run the cases of ``files`` on the pool's warm workers and print their rows; None if a file does not load."""
    started = time.monotonic()
    names = ", ".join(os.path.basename(f) for f in files)
    try:
        cases = load_cases(files, max_elements)
    except CaseError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        print(f"not run: {names} does not load (above); fix it and save again — still watching", file=err,
              flush=True)
        return None
    result = engine.run(cases, frameworks, pool)
    for row in result.rows:
        print(row_line(row), file=out)
    for entry in result.stale:
        print(f"stale known finding: {entry}", file=err)
    counts = ", ".join(f"{status} {n}" for status, n in result.summary.items() if n) or "no rows"
    print(f"re-ran {names}: {len(result.rows)} rows in {time.monotonic() - started:.2f} s: {counts}", file=out,
          flush=True)
    return result


def watch(
    paths: list[str], frameworks: tuple[str, ...], pool: WorkerPool, max_elements: int,
    out: TextIO = sys.stdout, err: TextIO = sys.stderr, poll: float = POLL,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Re-run every case file under ``paths`` that changes until ``stop()`` (or Ctrl-C: KeyboardInterrupt)."""
    seen = stamps(paths)
    print(f"watching {len(seen)} case file(s) under {', '.join(paths)}; Ctrl-C ends", file=out, flush=True)
    while not stop():
        time.sleep(poll)
        now = stamps(paths)
        files = changed(seen, now)
        seen = now
        if files:
            rerun(files, frameworks, pool, max_elements, out, err)
