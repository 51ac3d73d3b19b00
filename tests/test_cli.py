"""The command line end to end, as users and CI run it: outputs, exit codes, faults, interrupts."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import CASE, FAKE_ENV, OUTPUTS, run_cli

ROW_KEYS = {
    "case", "file", "framework", "api", "quantity", "dtype", "regularizer", "native", "raw", "reconciled",
    "reference", "expected", "abs_err", "rel_err", "ulp", "status", "detail",
}



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
    done = run_cli("run", write_case(CASE), "--frameworks", "numpy,mxnet")
    assert done.returncode == 2 and "unknown framework mxnet" in done.stderr and "Traceback" not in done.stderr
    assert run_cli("frobnicate").returncode == 2


def test_validate_and_conventions() -> None:
    done = run_cli("validate", "cases")
    assert done.returncode == 0 and "valid" in done.stdout
    table = run_cli("conventions").stdout
    assert "keras.regularizers.L2" in table and "l2 = 2·l2" in table
    assert "paddle.fluid.regularizer.L2Decay *" in table and "documented convention only" in table


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
