"""The run's report writer that follows the store (regcompare.spool): what it writes while the run appends, in
whatever order the cases complete, is byte for byte what writing from the store after the run gives; its
failures reach the parent; an interrupted run leaves neither the process nor its folder behind."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from regcompare import results, spool
from regcompare.aggregates import Digest
from regcompare.engine import Run
from regcompare.results import CSV_CHUNK, write_csv, write_json, write_junit
from regcompare.spool import Spool, append_file
from regcompare.store import RowStore


def case_rows(position: int, count: int, extra: str | None = None) -> list[dict[str, Any]]:
    """A case's rows: penalty rows (a number) and gradient rows (a nested list, a tensor name), as a run's are;
    ``extra`` adds a key no earlier row had."""
    rows = []
    for i in range(count):
        gradient = i % 2 == 1
        row: dict[str, Any] = {
            "case": f"case-{position}", "file": f"case_{position}.yaml", "line": 1,
            "framework": ("numpy", "torch")[i % 2], "api": f"api.{i % 3}",
            "quantity": "gradient" if gradient else "penalty", "dtype": "float32", "regularizer": {"l2": 0.01}, "native": {"l2": 0.005},
            "raw": [[0.1 * i, -2.5e-310], [float(position), 1e300]] if gradient else 0.5 * i,
            "reference": 0.30000000000000004, "ulp": float(i % 4), "abs_err": 1e-9 * i, "rel_err": i / 7,
            "status": ("match", "mismatch", "match", "error")[i % 4], "known": "upstream #1" if i % 8 == 3 else None,
            "detail": "ünïcode, \"quoted\"\n=SUM(A1)" if i % 5 == 0 else "", "summary": None,
        }
        if gradient:
            row["tensor"] = "w"
        if i == 0 and position % 3 == 0:
            row["rows_int_then_none"] = 3  # a column pandas gives another type in each frame
        if extra:
            row[extra] = position
        rows.append(row)
    return rows


def expected_outputs(store: RowStore) -> dict[str, bytes]:
    """What regcompare.results writes from the store after the run."""
    run = Run(store, {})
    out: dict[str, bytes] = {}
    for name, writer in (("results.csv", lambda f: write_csv(store, f)), ("junit.xml", lambda f: write_junit(run, f)),
                         ("results.json", lambda f: write_json(document(run), f))):
        buffer = io.StringIO(newline="")
        writer(buffer)
        out[name] = buffer.getvalue().encode()
    out["digest"] = pickle.dumps(Digest.of(store))
    return out


def document(run: Run) -> dict[str, Any]:
    return {"schema": 1, "summary": run.summary, "known": {"rows": run.store.known}, "rows": run.rows}


def spooled_outputs(tmp_path: Path, store: RowStore, follower: Spool) -> dict[str, bytes]:
    digest = follower.finish()
    json_path = tmp_path / "results.json"
    with open(json_path, "w", encoding="utf-8", newline="") as out:
        follower.write_json(document(Run(store, {})), out)
    return {"results.csv": follower.path(spool.CSV).read_bytes(), "junit.xml": follower.path(spool.JUNIT).read_bytes(),
            "results.json": json_path.read_bytes(), "digest": pickle.dumps(digest)}


# Cases complete out of order (a fast framework's cases wait for a slow one's), a case has no rows, one position
# is never appended, and more than one CSV frame is written; ``new_key_at``: the case whose rows bring a column
# the first frame did not have (the follower then writes results.csv again at the end).
@pytest.mark.parametrize("new_key_at", [None, 170, 3])
def test_what_it_writes_while_the_run_appends_is_what_the_store_gives_after(tmp_path: Path, new_key_at: int | None,
                                                                           ) -> None:
    positions = [*range(0, 201)]
    positions.remove(57)  # never appended: a gap
    order = [p for pair in zip(positions[1::2], positions[0::2], strict=False) for p in pair]  # odd before even
    assert sorted(order) == positions
    counts = {p: 0 if p == 11 else 60 + p % 7 for p in positions}
    assert sum(counts.values()) > 2 * CSV_CHUNK
    store = RowStore(str(tmp_path))
    with Spool(store, tmp_path) as follower:
        for k, p in enumerate(order):
            store.append(p, case_rows(p, counts[p], "late_key" if p == new_key_at else None))
            if k % 50 == 0:
                time.sleep(0.06)  # the follower catches up and waits for more, as it does during a run
        got = spooled_outputs(tmp_path, store, follower)
        folder = follower.folder
    assert not folder.exists()
    expected = expected_outputs(store)
    for name in expected:
        assert got[name] == expected[name], name
    if new_key_at is not None:
        assert b"late_key" in got["results.csv"].split(b"\n", 1)[0]


def test_without_fork_the_same_files_are_written_here(tmp_path: Path, monkeypatch) -> None:
    store = RowStore(str(tmp_path))
    monkeypatch.delattr(os, "fork")
    with Spool(store, tmp_path) as follower:
        assert follower.pid is None
        for p in (1, 0, 2):
            store.append(p, case_rows(p, 30))
        got = spooled_outputs(tmp_path, store, follower)
    assert got == expected_outputs(store)


def test_an_empty_run_gives_the_header_and_empty_lists(tmp_path: Path) -> None:
    store = RowStore(str(tmp_path))
    with Spool(store, tmp_path) as follower:
        got = spooled_outputs(tmp_path, store, follower)
    assert got == expected_outputs(store)


def test_a_failure_of_the_follower_is_raised_by_finish_as_the_oserror_it_was(tmp_path: Path, monkeypatch) -> None:
    def fails(self: Any, row: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results.CsvFrames, "add", fails)  # the forked follower has the same code
    store = RowStore(str(tmp_path))
    with Spool(store, tmp_path) as follower:
        store.append(0, case_rows(0, 3))
        with pytest.raises(OSError, match="No space left on device") as raised:
            follower.finish()
        assert raised.value.errno == 28
        folder = follower.folder
    assert not folder.exists()


def test_closing_it_mid_run_ends_the_follower_and_removes_its_folder(tmp_path: Path) -> None:
    store = RowStore(str(tmp_path))
    follower = Spool(store, tmp_path)
    pid = follower.pid
    assert pid is not None
    store.append(0, case_rows(0, 3))
    if hasattr(os, "SCHED_IDLE"):  # it runs on CPU time nobody else wants, which it sets as it starts
        deadline = time.monotonic() + 10
        while os.sched_getscheduler(pid) != os.SCHED_IDLE and time.monotonic() < deadline:
            time.sleep(0.01)
        assert os.sched_getscheduler(pid) == os.SCHED_IDLE
    follower.close()  # what an interrupted run does
    assert not follower.folder.exists() and follower.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # gone and reaped
    assert [p.name for p in tmp_path.iterdir()] == []


def test_append_file_copies_through_python_where_the_kernel_cannot(tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "rows"
    source.write_bytes(("é" * 1000 + "\n").encode() * 50)
    for kernel in (True, False):
        if not kernel:
            def refuses(*_: Any) -> int:
                raise OSError(18, "Invalid cross-device link")

            monkeypatch.setattr(os, "copy_file_range", refuses)
        target = tmp_path / f"out-{kernel}"
        with open(target, "w", encoding="utf-8", newline="") as out:
            out.write("head ")
            append_file(out, source)
            out.write(" tail")
        assert target.read_bytes() == b"head " + source.read_bytes() + b" tail"


def test_a_follower_whose_parent_is_killed_removes_its_folder_and_ends(tmp_path: Path) -> None:
    out, rows = tmp_path / "out", tmp_path / "rows.pickle"
    out.mkdir()
    rows.write_bytes(pickle.dumps(case_rows(0, 3)))
    script = (
        "import os, pickle, sys\n"
        "from regcompare.spool import Spool\n"
        "from regcompare.store import RowStore\n"
        "store = RowStore(sys.argv[1])\n"
        "follower = Spool(store, sys.argv[1])\n"
        "store.append(0, pickle.loads(open(sys.argv[2], 'rb').read()))\n"
        "print(follower.pid, flush=True)\n"
        "os._exit(0)\n"  # as if killed: no finish, no close
    )
    done = subprocess.run([sys.executable, "-c", script, str(out), str(rows)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    follower = int(done.stdout)
    deadline = time.monotonic() + 20
    while (list(out.iterdir()) or Path(f"/proc/{follower}").exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(out.iterdir()) == []
    assert not Path(f"/proc/{follower}").exists()
