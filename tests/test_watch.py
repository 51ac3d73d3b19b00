"""``regcompare run --watch``: an edited case is re-run on the warm workers and its new rows printed; an edit that
does not load says why and the loop goes on; Ctrl-C (SIGINT) ends it cleanly, no worker and no temp left."""

from __future__ import annotations

import io
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from regcompare.watch import changed, rerun, stamps
from regcompare.workers import WorkerPool
from tests.conftest import ROOT
from tests.test_nothing_lost import _alive, _children

CASE = """\
name: watched
weights: {{w: [[1, -2], [-3, 4]]}}
dtypes: [float64]
regularizers: [{{l2: {l2}}}]
quantities: [penalty]
"""


class _Lines:
    """A process's output lines as they come, read by a thread so that a test can wait with a deadline."""

    def __init__(self, stream) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> list[str]:
        """Every line up to and including the first that contains ``text``."""
        deadline, got = time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            got.append(line)
            self.seen.append(line)
            if text in line:
                return got
        raise AssertionError(f"no line with {text!r} within {timeout} s; got {got}")


def test_stamps_see_a_new_and_an_edited_file_and_nothing_else(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(CASE.format(l2=1.0))
    before = stamps([str(tmp_path)])
    assert changed(before, stamps([str(tmp_path)])) == []
    b.write_text(CASE.format(l2=1.0).replace("watched", "other"))
    a.write_text(CASE.format(l2=0.25))  # same size as before, another stamp
    os.utime(a, ns=(before[str(a)][0] + 10**9, before[str(a)][0] + 10**9))
    assert changed(before, stamps([str(tmp_path)])) == [str(a), str(b)]


def test_a_rerun_prints_each_row_and_a_file_that_does_not_load_says_why(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(CASE.format(l2=0.5))
    bad.write_text(CASE.format(l2=0.5).replace("dtypes: [float64]", "dtypes: [float99]"))
    pool = WorkerPool()
    out, err = io.StringIO(), io.StringIO()
    try:
        result = rerun([str(good)], ("numpy",), pool, 10**6, out, err)
        assert rerun([str(bad)], ("numpy",), pool, 10**6, out, err) is None
    finally:
        pool.close()
    assert result is not None and result.summary["match"] == len(result.rows) > 0
    lines = out.getvalue().splitlines()
    assert [ln.split()[0] for ln in lines[:-1]] == ["match"] * len(result.rows)
    assert all(" watched · numpy-" in ln and "-penalty-float64" in ln for ln in lines[:-1])
    assert lines[-1].startswith(f"re-ran good.yaml: {len(result.rows)} rows in ")
    assert f"{bad}:3: dtypes[0]: input should be" in err.getvalue()
    assert "not run: bad.yaml does not load (above); fix it and save again — still watching" in err.getvalue()


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_watch_reruns_an_edit_survives_a_broken_one_and_ends_cleanly_on_ctrl_c(tmp_path: Path, sig) -> None:
    cases, out, tmp = tmp_path / "cases", tmp_path / "out", tmp_path / "tmp"
    cases.mkdir()
    tmp.mkdir()
    case = cases / "watched.yaml"
    case.write_text(CASE.format(l2=1.0))
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "regcompare", "run", str(cases), "--out", str(out), "--frameworks", "numpy",
         "--watch"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        stdout, stderr = _Lines(proc.stdout), _Lines(proc.stderr)
        stdout.wait_for("watching 1 case file(s)", 300)
        assert (out / "results.json").exists()  # the first run wrote its reports
        workers = _children(proc.pid)
        assert workers, "the numpy worker stays up between runs"

        case.write_text(CASE.format(l2=0.5))
        rows = stdout.wait_for("re-ran watched.yaml", 60)
        # Σw² = 30: the penalty with l2 = 0.5 is 0.5/2·30 = 7.5 (worked out by hand); rows show their arguments.
        assert any("l2=0.5" in line and line.split()[0] == "match" for line in rows[:-1])
        assert _children(proc.pid) == workers  # the same warm worker answered

        case.write_text(CASE.format(l2=0.5).replace("weights:", "weights: [", 1))
        stderr.wait_for("still watching", 60)
        case.write_text(CASE.format(l2=0.25))
        rows = stdout.wait_for("re-ran watched.yaml", 60)
        assert any("l2=0.25" in line for line in rows[:-1])

        proc.send_signal(sig)
        proc.wait(timeout=60)
        stderr.wait_for("watch ended: workers stopped", 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Traceback" not in "\n".join(stderr.seen)
    assert not [pid for pid in workers if _alive(pid)]
    assert list(tmp.iterdir()) == []  # the pool's log folder is gone
