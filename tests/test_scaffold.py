"""`regcompare new NAME` and weights from numpy files (`weights: {w: {file: w.npy}}`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from regcompare.cases import CaseError, load_case
from tests.conftest import run_cli

W = np.array([[1.0, -2.0], [-3.0, 4.0]], dtype=np.float32)


def test_new_writes_a_case_that_validates_and_runs(tmp_path: Path) -> None:
    done = run_cli("new", "my-layer", "--dir", str(tmp_path / "cases"))
    assert done.returncode == 0, done.stderr
    path = tmp_path / "cases" / "my-layer.yaml"
    text = path.read_text()
    assert text.count("\n#") >= 10  # commented: every optional key is shown with what it does
    case = load_case(str(path))
    assert case.name == "my-layer" and set(case.weights) == {"w", "b"}
    out = tmp_path / "out"
    done = run_cli("run", str(path), "--frameworks", "numpy,torch", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["status"] for r in rows} == {"match"} and {r["framework"] for r in rows} == {"numpy", "torch"}
    # R = (0.01/2)·Σw² over w = [[1,-2],[-3,4]] (30) and b = 0.5·[1,1,1] (0.75): 0.15375
    penalty = next(r for r in rows if r["api"] == "numpy.handwritten" and r["quantity"] == "penalty"
                   and r["dtype"] == "float64" and r["regularizer"] == {"l1": 0.0, "l2": 0.01})
    assert penalty["raw"] == pytest.approx(0.15375, rel=1e-12)


def test_new_refuses_to_overwrite_and_bad_names(tmp_path: Path) -> None:
    assert run_cli("new", "x", "--dir", str(tmp_path)).returncode == 0
    again = run_cli("new", "x", "--dir", str(tmp_path))
    assert again.returncode == 2 and "exists; pick another name or pass --force" in again.stderr
    assert run_cli("new", "x", "--dir", str(tmp_path), "--force").returncode == 0
    bad = run_cli("new", "../evil", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "a case name is letters" in bad.stderr and "Traceback" not in bad.stderr


def test_new_from_an_npz_file(tmp_path: Path) -> None:
    np.savez(tmp_path / "model.npz", kernel=W, bias=np.array([0.5, -0.25]))
    done = run_cli("new", "from-npz", "--dir", str(tmp_path / "cases"), "--weights", str(tmp_path / "model.npz"))
    assert done.returncode == 0, done.stderr
    case = load_case(str(tmp_path / "cases" / "from-npz.yaml"))
    assert np.array_equal(case.weights["kernel"], W) and np.array_equal(case.weights["bias"], [0.5, -0.25])


def write(tmp_path: Path, weights: str) -> str:
    path = tmp_path / "case.yaml"
    path.write_text(f"weights:\n{weights}\nregularizers: [{{l2: 1.0}}]\n", encoding="utf-8")
    return str(path)


def test_file_weights_load_npy_and_npz(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", W)
    np.save(tmp_path / "f.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    np.savez(tmp_path / "m.npz", w=W, other=np.ones(3))
    case = load_case(write(tmp_path, "  w: {file: w.npy}\n  f: {file: f.npy}\n  k: {file: m.npz, key: other}\n"
                                     "  other: {file: m.npz}"))
    assert case.weights["w"].dtype == np.float64 and np.array_equal(case.weights["w"], W)
    assert np.array_equal(case.weights["f"], np.arange(6.0).reshape(2, 3))  # Fortran order kept
    assert np.array_equal(case.weights["k"], np.ones(3)) and np.array_equal(case.weights["other"], np.ones(3))


@pytest.mark.parametrize(("weights", "message"), [
    ("  w: {file: nope.npy}", "2: weights.w.file: no such file 'nope.npy'"),
    ("  w: {file: obj.npy}", "2: weights.w.file: obj.npy: dtype object is not a real number type"),
    ("  z: {file: m.npz}", "2: weights.z.file: several arrays and none named 'z' in m.npz; it has w, other: give `key`"),
    ("  w: {file: m.npz, key: q}", "2: weights.w.file: no array 'q' in m.npz; it has w, other: give `key`"),
    ("  w: {file: w.npy, key: q}", "2: weights.w.key: `key` is for .npz archives; w.npy holds one array"),
    ("  w: {file: text.npy}", "2: weights.w.file: text.npy: not a numpy .npy/.npz array"),
    ("  w: {file: w.npy, seed: 1}", "2: weights.w.seed: unknown key"),
])
def test_file_weight_errors_name_the_key(tmp_path: Path, weights: str, message: str) -> None:
    np.save(tmp_path / "w.npy", W)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "m.npz", w=W, other=np.ones(3))
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(CaseError) as info:
        load_case(write(tmp_path, weights))
    assert message in str(info.value)


def test_file_weight_over_the_budget_is_refused_before_reading(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", np.zeros((100, 100)))
    with pytest.raises(CaseError) as info:
        load_case(write(tmp_path, "  w: {file: w.npy}"), max_elements=5_000)
    assert "weights.w.file: 10,000 elements exceeds the budget of 5,000" in str(info.value)
