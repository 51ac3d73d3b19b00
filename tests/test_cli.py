"""The command line end to end, as users and CI run it: outputs, exit codes, faults, interrupts."""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

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
    assert re.search(r"^\d+ rows from \d+ tasks in ", done.stdout, re.M) and "Traceback" not in done.stderr


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


# --- issue 14: problems found before any work are exit 2; nothing ends in a traceback ---------------------------


def test_bad_options_exit_2_before_any_work(write_case, tmp_path: Path) -> None:
    case = write_case(CASE)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    refused = {
        ("--out", str(a_file)): f"--out: {a_file} exists and is not a folder",
        ("--out", str(a_file / "sub")): f"--out: {a_file / 'sub'} is under {a_file}, which is a file",
        ("--out", "/dev/null"): "--out: /dev/null exists and is not a folder",
        ("--out", ""): "--out: an empty path",
        ("--out", "/proc/regcompare-out"): "--out: /proc/regcompare-out is not writable",
        ("--timeout", "0"): "argument --timeout: invalid positive number of seconds value: '0'",
        ("--timeout", "-1"): "argument --timeout: invalid positive number of seconds value: '-1'",
        ("--timeout", "nan"): "argument --timeout: invalid positive number of seconds value: 'nan'",
        ("--timeout", "inf"): "argument --timeout: invalid positive number of seconds value: 'inf'",
        ("--import-timeout", "0"): "argument --import-timeout: invalid positive number of seconds value: '0'",
        ("--max-elements", "0"): "argument --max-elements: invalid positive integer value: '0'",
        ("--max-elements", "-5"): "argument --max-elements: invalid positive integer value: '-5'",
    }
    for option, message in refused.items():
        done = run_cli("run", case, "--frameworks", "numpy", *option)
        assert done.returncode == 2 and message in done.stderr, (option, done.stderr)
        assert "Traceback" not in done.stderr and "rows in" not in done.stdout
    assert a_file.read_text() == "not a folder"


def test_import_timeout_is_an_option(write_case, tmp_path: Path) -> None:
    done = run_cli("run", write_case(CASE), "--frameworks", "torch", "--import-timeout", "0.01",
                   "--out", str(tmp_path / "o"))
    assert done.returncode == 1, done.stderr
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    assert {r["status"] for r in doc["rows"]} == {"error"}
    assert doc["environment"]["frameworks"]["torch"]["reason"] == "import did not finish within 0.01 s"


@pytest.mark.parametrize(("code", "reason"), [(errno.ENOSPC, "No space left on device"),
                                               (errno.EMFILE, "Too many open files")])
def test_disk_full_or_too_many_open_files_keep_the_last_reports(write_case, tmp_path: Path, capsys, monkeypatch,
                                                               code: int, reason: str) -> None:
    from regcompare import cli, results

    out, case = tmp_path / "out", write_case(CASE)
    assert cli.main(["run", case, "--frameworks", "numpy", "--out", str(out)]) == 0
    before = {name: (out / name).read_bytes() for name in OUTPUTS}

    def fails(frames, row) -> None:
        frames.out.write("half a csv")
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(results.CsvFrames, "add", fails)  # in the process that writes results.csv as the run goes
    capsys.readouterr()
    assert cli.main(["run", case, "--frameworks", "numpy", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (f"regcompare: could not write the reports to {out}: {reason}; the previous "
                                             "reports are left as they were")
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)


def test_an_unexpected_failure_is_one_line_not_a_traceback(write_case, capsys, monkeypatch, tmp_path: Path) -> None:
    from regcompare import cli

    def boom(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "run", boom)
    monkeypatch.delenv("REGCOMPARE_DEBUG", raising=False)
    assert cli.main(["run", write_case(CASE), "--frameworks", "numpy", "--out", str(tmp_path / "o")]) == 1
    assert "regcompare: internal error: RuntimeError: a bug (REGCOMPARE_DEBUG=1 shows the traceback)" in \
        capsys.readouterr().err


def test_summary_counts_rows_from_tasks_with_full_versions(write_case, tmp_path: Path) -> None:
    """Progress says tasks, the summary says rows and from how many tasks; versions are not cut."""
    done = run_cli("run", write_case(CASE), "--frameworks", "numpy,torch", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    finals = {fw: int(total) for fw, done_, total in re.findall(r"^(\w+): (\d+)/(\d+) tasks$", done.stderr, re.M)
              if done_ == total}
    assert set(finals) == {"numpy", "torch"}
    # 2 dtypes × 2 regularizers × (penalty + gradient) per API; a gradient task gives one row per tensor (w, b)
    assert re.search(rf"^{len(doc['rows'])} rows from {sum(finals.values())} tasks in ", done.stdout, re.M)
    torch_line = next(line for line in done.stdout.splitlines() if line.startswith("torch "))
    assert doc["environment"]["frameworks"]["torch"]["version"] in torch_line.split()
    assert "NEW FINDINGS" not in done.stdout


def test_conventions_wrap_to_the_terminal() -> None:
    for columns in (80, 120):
        out = run_cli("conventions", env={"COLUMNS": str(columns)}).stdout
        widest = max(len(line) for line in out.splitlines())
        assert widest <= columns, f"{widest} > {columns}"
        assert "keras.regularizers.L2" in out and "l2 = 2·l2" in out


def test_new_finding_is_named_first_in_the_summary(write_case, tmp_path: Path) -> None:
    path = write_case("name: golden-wrong\nweights: {w: [[1, -2], [-3, 4]]}\nregularizers: [{l1: 0.5}]\n"
                      "frameworks: [numpy]\nexpect:\n  - {api: numpy.handwritten, native: {l1: 0.5}, raw: 6.0}\n")
    done = run_cli("run", path, "--frameworks", "numpy", "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("NEW FINDINGS (1)")
    assert lines[1].split()[:5] == ["mismatch", "golden-wrong", "·", "numpy.handwritten", "·"]
    assert "against the case's expected raw value" in lines[2]  # Σ|w| = 10 → 5, not the golden 6
