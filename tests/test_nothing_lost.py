"""Nothing lost: outputs replaced atomically; an interrupted run (SIGINT/SIGTERM) stops its workers,
exits 130 and leaves the previous report intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regcompare.results import write_atomically
from tests.conftest import CASE, FAKE_ENV, OUTPUTS, ROOT, run_cli


def _children(parent: int) -> list[int]:
    """Live processes whose parent is ``parent`` (workers run in their own sessions, not groups)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(proc.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_stops_workers_exits_130_and_keeps_the_last_good_report(write_case, tmp_path: Path, sig) -> None:
    case, out = write_case(CASE), tmp_path / "out"
    assert run_cli("run", case, "--frameworks", "numpy", "--out", str(out)).returncode == 0
    before = {name: (out / name).read_bytes() for name in OUTPUTS}

    proc = subprocess.Popen(
        [sys.executable, "-m", "regcompare", "run", case, "--frameworks", "fake-hang,numpy", "--out", str(out)],
        cwd=ROOT, env={**os.environ, **FAKE_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while len(_children(proc.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)  # both workers are up; the hanging one is inside its float64 task
    workers = _children(proc.pid)
    assert len(workers) == 3  # two workers, and the process writing the reports' rows (regcompare.spool)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
    assert not [p for p in out.iterdir() if p.name.startswith((".partial-", ".spool-"))]
    assert not [pid for pid in workers if _alive(pid)]


def test_write_atomically_replaces_whole_files_and_leaves_no_staging(tmp_path: Path) -> None:
    write_atomically(tmp_path, {"a.txt": "old a", "b.txt": "old b"})
    write_atomically(tmp_path, {"a.txt": "new a", "b.txt": "new b"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "b.txt").read_text() == "new b"


def test_a_failure_while_writing_keeps_the_previous_outputs(tmp_path: Path) -> None:
    write_atomically(tmp_path, {"a.txt": "old a", "b.txt": "old b"})

    class Boom(Exception):
        pass

    def dies_halfway(out) -> None:
        out.write("half of b")
        raise Boom

    with pytest.raises(Boom):
        write_atomically(tmp_path, {"a.txt": "new a", "b.txt": dies_halfway})
    assert (tmp_path / "a.txt").read_text() == "old a" and (tmp_path / "b.txt").read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


#: Four training runs whose float64 references take seconds each (3,000 single-example steps × 40 epochs).
SLOW_REFERENCES = """\
name: slow-references
weights: {w: {shape: [10, 1], fill: 0.0}, b: [0.0]}
regularizers: [{l2: 0.0}, {l2: 1.0}, {l2: 2.0}, {l2: 3.0}]
quantities: [trajectory]
trajectory: {train: 3000, test: 100, batch: 1, epochs: 40}
"""


def test_interrupt_ends_the_run_within_seconds_even_with_references_to_compute(write_case, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "regcompare", "run", write_case(SLOW_REFERENCES), "--frameworks", "numpy",
         "--out", str(tmp_path / "out")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not _children(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3.0)  # the worker is training; the parent has every reference still to compute
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - sent < 3.0, "the run went on computing references after the interrupt"
    assert not (tmp_path / "out" / "results.json").exists()


def test_a_reference_that_outlives_the_timeout_is_an_error_row(write_case, monkeypatch) -> None:
    from regcompare import engine
    from regcompare.cases import load_cases
    from regcompare.workers import WorkerPool

    def endless(*_args):
        while True:
            pass

    monkeypatch.setattr(engine, "judge", endless)
    pool = WorkerPool(task_timeout=1.0)
    started = time.monotonic()
    try:
        result = engine.run(load_cases([write_case(CASE)]), ("numpy",), pool)
    finally:
        pool.close()
    assert {r["status"] for r in result.rows} == {"error"} and len(result.rows) == 8  # 2 regularizers × 2 dtypes × 2
    assert {r["detail"] for r in result.rows} == {"the reference took longer than the timeout (1 s); not judged"}
    assert time.monotonic() - started < 8 * 1.0 + 15


def test_files_written_aside_by_a_forked_process_are_renamed_in_with_the_others(tmp_path: Path) -> None:
    from regcompare.results import Outputs

    with Outputs(tmp_path) as outputs:
        outputs.aside({"aside.txt": lambda out: out.write(f"written by {os.getpid()}")})
        outputs.write({"here.txt": f"written by {os.getpid()}"})
    assert (tmp_path / "here.txt").read_text() == f"written by {os.getpid()}"
    child = (tmp_path / "aside.txt").read_text()
    assert child.startswith("written by ") and child != f"written by {os.getpid()}"  # another process wrote it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aside.txt", "here.txt"]


def test_a_failure_of_the_aside_writer_is_raised_here_and_keeps_the_previous_outputs(tmp_path: Path) -> None:
    from regcompare.results import Outputs

    write_atomically(tmp_path, {"aside.txt": "old aside", "here.txt": "old here"})

    def disk_full(out) -> None:
        out.write("half")
        raise OSError(28, "No space left on device", "aside.txt")

    with pytest.raises(OSError) as raised, Outputs(tmp_path) as outputs:
        outputs.aside({"aside.txt": disk_full})
        outputs.write({"here.txt": "new here"})
    assert (raised.value.errno, raised.value.strerror, raised.value.filename) == (28, "No space left on device",
                                                                                   "aside.txt")
    assert (tmp_path / "aside.txt").read_text() == "old aside" and (tmp_path / "here.txt").read_text() == "old here"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aside.txt", "here.txt"]


def test_a_failure_here_stops_the_aside_writer_and_keeps_the_previous_outputs(tmp_path: Path) -> None:
    from regcompare.results import Outputs

    write_atomically(tmp_path, {"aside.txt": "old aside"})
    with pytest.raises(KeyboardInterrupt), Outputs(tmp_path) as outputs:
        outputs.aside({"aside.txt": lambda out: (out.write("new aside"), time.sleep(60))})
        raise KeyboardInterrupt  # Ctrl-C while the other reports are written: the forked writer is killed
    assert (tmp_path / "aside.txt").read_text() == "old aside"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aside.txt"]
