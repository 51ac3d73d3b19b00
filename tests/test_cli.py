"""The command line end to end, as users and CI run it: outputs, exit codes, faults, interrupts."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import FAKES, ROOT, run_cli

CASE = """\
name: cli-case
weights: {w: [[1, -2], [-3, 4]], b: [0.5, -0.25]}
dtypes: [float32, float64]
regularizers: [{l2: 1.0}, {l1: 0.5}]
quantities: [penalty, gradient]
"""
ROW_KEYS = {
    "case", "file", "framework", "api", "quantity", "dtype", "regularizer", "native", "raw", "reconciled",
    "reference", "expected", "abs_err", "rel_err", "ulp", "status", "detail",
}
OUTPUTS = ("results.json", "results.csv", "report.html", "report.md", "junit.xml")
FAKE_ENV = {"PYTHONPATH": os.pathsep.join([str(FAKES), os.environ.get("PYTHONPATH", "")])}


def test_run_writes_every_output_and_exits_0(write_case, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli("run", write_case(CASE), "--frameworks", "numpy,torch", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    doc = json.loads((out / "results.json").read_text())
    assert doc["schema"] == 1 and set(doc["summary"]) == {"match", "mismatch", "divergent", "unsupported", "skipped", "error"}
    assert doc["environment"]["frameworks"]["torch"]["version"].startswith("2.13.0")
    assert doc["summary"]["match"] == len(doc["rows"]) > 0
    assert all(ROW_KEYS <= set(row) for row in doc["rows"])
    assert {r["api"] for r in doc["rows"]} == {"numpy.handwritten", "torch.handwritten", "torch.optim.SGD"}
    with open(out / "results.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(doc["rows"])
    assert len(ET.parse(out / "junit.xml").getroot().findall(".//testcase")) == len(doc["rows"])
    assert "| match |" in (out / "report.md").read_text()
    assert "rows in" in done.stdout and "Traceback" not in done.stderr


def test_invalid_case_exits_2_with_file_line_key_and_no_traceback(write_case, tmp_path: Path) -> None:
    path = write_case("weights: {w: [1]}\nregularizers:\n  - {l2: -1}\n")
    for command in (("run", path, "--out", str(tmp_path / "o")), ("validate", path)):
        done = run_cli(*command)
        assert done.returncode == 2
        assert done.stderr.strip() == f"{path}:3: regularizers[0].l2: input should be greater than or equal to 0"
    assert not (tmp_path / "o").exists()


def test_usage_errors_exit_2(write_case) -> None:
    done = run_cli("run", write_case(CASE), "--frameworks", "numpy,jax")
    assert done.returncode == 2 and "unknown framework jax" in done.stderr and "Traceback" not in done.stderr
    assert run_cli("frobnicate").returncode == 2


def test_validate_and_conventions() -> None:
    done = run_cli("validate", "cases")
    assert done.returncode == 0 and "valid" in done.stdout
    table = run_cli("conventions").stdout
    assert "keras.regularizers.L2" in table and "l2 = 2·l2" in table
    assert "tf.contrib.layers.l2_regularizer *" in table and "documented convention only" in table


def test_mismatch_exits_1_and_crash_and_missing_framework_keep_the_others(write_case, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli("run", write_case(CASE), "--frameworks", "fake-segv,fake-absent,numpy", "--out", str(out),
                   env=FAKE_ENV)
    assert done.returncode == 1, done.stderr
    doc = json.loads((out / "results.json").read_text())
    status = {(r["framework"], r["dtype"], r["quantity"]): r["status"] for r in doc["rows"]}
    assert status[("fake-segv", "float64", "penalty")] == "error"
    assert status[("fake-segv", "float32", "penalty")] == "match"
    assert {s for (fw, _, _), s in status.items() if fw == "fake-absent"} == {"skipped"}
    assert {s for (fw, _, _), s in status.items() if fw == "numpy"} == {"match"}
    assert doc["environment"]["frameworks"]["fake-absent"]["status"] == "missing"


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
    while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)  # both workers are up; the hanging one is inside its float64 task
    workers = _children(proc.pid)
    assert len(workers) == 2
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".partial-")]
    assert not [pid for pid in workers if _alive(pid)]


def test_same_inputs_give_byte_identical_results_apart_from_environment(write_case, tmp_path: Path) -> None:
    case = write_case(CASE)
    docs = []
    for name in ("a", "b"):
        assert run_cli("run", case, "--frameworks", "numpy,torch", "--out", str(tmp_path / name)).returncode == 0
        doc = json.loads((tmp_path / name / "results.json").read_text())
        del doc["environment"]
        docs.append(json.dumps(doc, sort_keys=True))
    assert docs[0] == docs[1]


def test_tensorflow_and_paddle_in_one_run_do_not_crash_each_other(write_case, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli("run", write_case(CASE), "--frameworks", "tensorflow,paddle", "--out", str(out))
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "results.json").read_text())
    assert {fw: info["status"] for fw, info in doc["environment"]["frameworks"].items()} == {
        "tensorflow": "ok", "paddle": "ok",
    }
    assert {r["framework"] for r in doc["rows"]} == {"tensorflow", "paddle"}
    assert {r["status"] for r in doc["rows"]} == {"match"}
