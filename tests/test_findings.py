"""Built-in findings (regcompare.conventions.findings): selectors, marking rows, and stale findings in the shipped
suite (a folder with the suite marker, run whole)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from regcompare import engine
from regcompare.cases import load_case
from regcompare.conventions.findings import CONDITIONS, FINDINGS, RESULTS, SUITE_MARKER, Finding, by_id
from regcompare.judge import STATUSES
from tests.conftest import run_cli

ROOT = Path(__file__).parent.parent


def _row(**keys: object) -> dict:
    row = {"case": "c", "framework": "numpy", "api": "numpy.handwritten", "quantity": "penalty", "dtype": "bfloat16",
           "tensor": None, "status": "mismatch", "known": None}
    return row | keys


def test_every_finding_has_an_id_a_status_a_reason_a_source_and_a_framework() -> None:
    assert len(by_id()) == len(FINDINGS)
    for f in FINDINGS:
        assert f.status in STATUSES and f.status not in ("match", "skipped")
        assert f.reason and f.source and f.framework
        assert f.inputs is None or f.inputs in CONDITIONS
        assert f.result is None or f.result in RESULTS


def test_a_finding_selects_by_every_field_it_gives() -> None:
    f = by_id()["numpy-bfloat16-sum"]
    assert f.explains(_row())
    assert not f.explains(_row(status="match"))
    assert not f.explains(_row(dtype="float16"))
    assert not f.explains(_row(quantity="gradient"))
    keras = by_id()["keras-adam-float32-betas"]
    adam = _row(framework="tensorflow", api="keras.optimizers.AdamW", quantity="update", dtype="float64",
                optimizer="keras.optimizers.AdamW(learning_rate=0.1)")
    assert keras.explains(adam)
    assert not keras.explains(adam | {"optimizer": "keras.optimizers.SGD(learning_rate=0.1)"})


def test_an_input_condition_needs_the_cases_weights() -> None:
    ftz = by_id()["tensorflow-float32-ftz"]
    row = _row(framework="tensorflow", api="keras.regularizers.L1", quantity="gradient", dtype="float32")
    assert ftz.explains(row, {"w": np.array([0.0, 1e-40])})
    assert not ftz.explains(row, {"w": np.array([0.0, 1e-30])})  # a normal float32
    assert not ftz.explains(row, None)


def test_a_result_condition_explains_only_such_results() -> None:
    eps = by_id()["torch-float16-adam-eps-underflow"]
    row = _row(framework="torch", api="torch.optim.Adam", quantity="update", dtype="float16",
               optimizer="torch.optim.Adam(lr=0.01)", detail="NaN where the exact value is 0.5 at index (3,)")
    assert eps.explains(row)
    assert eps.explains(row | {"detail": "overflow: float16 result is -inf where the exact value 0.2 fits float16"})
    assert not eps.explains(row | {"detail": "0.49 vs 0.5: abs err 0.01 > 0.001 allowed"})


def test_marked_rows_carry_the_id_and_the_reason_and_do_not_fail(write_case) -> None:
    case = load_case(write_case("weights: {w: [1]}\ndtypes: [bfloat16]\nregularizers: [{l2: 1}]\n"))
    rows = [_row(), _row(framework="torch", api="torch.handwritten")]
    engine.apply_findings(case, rows)
    assert rows[0]["finding"] == "numpy-bfloat16-sum" and rows[0]["known"] == by_id()["numpy-bfloat16-sum"].reason
    assert rows[1]["finding"] is None and rows[1]["known"] is None
    assert engine.Run(rows, {}).failures == 1  # the torch row only


def test_a_finding_that_explains_nothing_is_stale() -> None:
    rows = [_row(status="match")]
    stale = engine.stale_findings(rows, {}, {"numpy"}, [by_id()["numpy-bfloat16-sum"]])
    assert len(stale) == 1
    assert stale[0].startswith("built-in finding numpy-bfloat16-sum: expected mismatch")
    assert "the rows it selects are: match" in stale[0]
    assert engine.stale_findings([_row()], {}, {"numpy"}, [by_id()["numpy-bfloat16-sum"]]) == []


def test_a_finding_of_a_framework_that_did_not_run_is_not_judged() -> None:
    assert engine.stale_findings([], {}, {"numpy"}, [by_id()["paddle-no-cpu-float16"]]) == []
    own = Finding("x", "error", "why", "where", framework="numpy")
    assert len(engine.stale_findings([], {}, {"numpy"}, [own])) == 1


def _suite(tmp_path: Path, files: list[str], marker: bool = True) -> Path:
    folder = tmp_path / "suite"
    (folder / "sub").mkdir(parents=True)
    for name in files:
        shutil.copy(ROOT / "cases" / name, folder / "sub" / Path(name).name)
    if marker:
        (folder / SUITE_MARKER).write_text("# shipped suite\n")
    return folder


def test_only_a_marked_folder_run_whole_is_the_shipped_suite(tmp_path: Path) -> None:
    folder = _suite(tmp_path, ["basic_2x2.yaml", "infinities.yaml"])
    both = [load_case(str(p)) for p in sorted(folder.rglob("*.yaml"))]
    assert engine.suite_of(both) == folder.resolve()
    assert engine.suite_of(both[:1]) is None
    (folder / SUITE_MARKER).unlink()
    assert engine.suite_of(both) is None


def test_the_shipped_folder_is_marked() -> None:
    assert (ROOT / "cases" / SUITE_MARKER).is_file()


@pytest.mark.parametrize(("files", "stale"), [(["basic_2x2.yaml"], True), (["bfloat16_long_sum.yaml"], False)])
def test_a_suite_run_fails_on_a_stale_built_in_finding(tmp_path: Path, files: list[str], stale: bool) -> None:
    # numpy only: the other frameworks' findings are not judged. basic-2x2 has no bfloat16 row, so numpy's
    # bfloat16-sum finding explains nothing there: stale, exit 1; the long bfloat16 sum shows it: exit 0.
    folder = _suite(tmp_path, files)
    out = tmp_path / "out"
    done = run_cli("run", str(folder), "--frameworks", "numpy", "--out", str(out))
    assert done.returncode == (1 if stale else 0), done.stderr
    assert ("stale known finding: built-in finding numpy-bfloat16-sum" in done.stderr) == stale
    doc = json.loads((out / "results.json").read_text())
    findings = {r["finding"] for r in doc["rows"]}
    assert ("numpy-bfloat16-sum" in findings) != stale


def test_without_the_marker_a_missing_finding_is_not_stale(tmp_path: Path) -> None:
    folder = _suite(tmp_path, ["basic_2x2.yaml"], marker=False)
    done = run_cli("run", str(folder), "--frameworks", "numpy", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
