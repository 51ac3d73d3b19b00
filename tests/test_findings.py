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
from regcompare.conventions import findings
from regcompare.conventions.findings import FINDINGS, SUITE_MARKER, Finding, Held, by_id
from regcompare.judge import STATUSES
from tests.conftest import run_cli

ROOT = Path(__file__).parent.parent


def _row(**keys: object) -> dict:
    row = {"case": "c", "framework": "numpy", "api": "numpy.handwritten", "quantity": "penalty", "dtype": "bfloat16",
           "tensor": None, "status": "mismatch", "known": None}
    return row | keys


def test_every_finding_has_an_id_a_kind_a_reason_a_source_and_a_framework() -> None:
    assert len(by_id()) == len(FINDINGS)
    for f in FINDINGS:
        assert f.kind in findings.KINDS
        if f.precision:  # what is held in which precision, never a status or a result condition
            assert f.held is not None and f.held.what in findings.HELD and f.status is None and f.result is None
        else:
            assert f.status in STATUSES and f.status not in ("match", "skipped") and f.held is None
        assert f.reason and f.source and f.framework
        assert f.inputs is None or f.inputs in findings.CONDITIONS
        assert f.result is None or f.result in findings.RESULTS


def test_the_kind_is_checked_when_a_finding_is_made() -> None:
    with pytest.raises(ValueError, match="kind"):
        Finding("x", "bug", "why", "where", status="mismatch")
    with pytest.raises(ValueError, match="precision finding says what is held"):
        Finding("x", "precision", "why", "where", status="mismatch")
    with pytest.raises(ValueError, match="precision finding says what is held"):
        Finding("x", "defect", "why", "where", held=Held("accumulator", "bfloat16"))
    with pytest.raises(ValueError, match="result condition"):
        Finding("x", "precision", "why", "where", held=Held("accumulator", "bfloat16"), result="non-finite result")
    with pytest.raises(ValueError, match="held"):
        Held("learning rate", "float32")


def test_the_issues_precision_behaviours_are_precision_findings_and_the_bugs_defects() -> None:
    kinds = {f.id: f.kind for f in FINDINGS}
    for fid in ("numpy-bfloat16-sum", "keras-float32-hyperparameters", "keras-adam-float32-betas",
                "torch-float32-scalar-state", "paddle-float32-hyperparameters"):
        assert kinds[fid] == "precision", fid
    for fid in ("paddle-no-cpu-float16", "paddle-weightnormparamattr-pir", "paddle-weightnormparamattr-old-ir-dim",
                "torch-float16-eps-underflow"):
        assert kinds[fid] == "defect", fid


def test_a_finding_selects_by_every_field_it_gives() -> None:
    f = by_id()["numpy-bfloat16-sum"]
    assert f.selects(_row())
    assert not f.selects(_row(dtype="float16"))
    assert not f.selects(_row(quantity="gradient"))
    keras = by_id()["keras-adam-float32-betas"]
    adam = _row(framework="tensorflow", api="keras.optimizers.AdamW", quantity="update", dtype="float64",
                optimizer="keras.optimizers.AdamW(learning_rate=0.1)")
    assert keras.selects(adam)
    assert not keras.selects(adam | {"optimizer": "keras.optimizers.SGD(learning_rate=0.1)"})
    optax = by_id()["optax-schedule-float32"]
    scheduled = _row(framework="jax", api="optax.adamw", quantity="update", dtype="float64",
                     schedule="optax.exponential_decay(init_value=0.1, transition_steps=1, decay_rate=0.7)")
    assert optax.selects(scheduled)
    assert not optax.selects(scheduled | {"schedule": None})
    assert not optax.selects(scheduled | {"schedule": "optax.cosine_decay_schedule(init_value=0.1, decay_steps=4)"})
    pir = by_id()["paddle-weightnormparamattr-pir"]
    row = _row(framework="paddle", api="paddle.static.WeightNormParamAttr", quantity="update", status="error")
    assert pir.explains(row) and not pir.explains(row | {"status": "match"})


def test_a_precision_finding_explains_only_a_row_its_widening_turned_from_mismatch() -> None:
    f = by_id()["numpy-bfloat16-sum"]
    widened = {"finding": f.id, "without": "mismatch"}
    assert f.explains(_row(status="match", tolerance=widened))
    assert f.explains(_row(status="divergent", tolerance=widened))
    assert not f.explains(_row(status="mismatch", tolerance=widened))  # too far even so: the row's own failure
    assert not f.explains(_row(status="match", tolerance={"finding": f.id, "without": "match"}))  # not needed
    assert not f.explains(_row(status="match", tolerance={"finding": "other", "without": "mismatch"}))
    assert not f.explains(_row())


def test_an_input_condition_needs_the_cases_weights() -> None:
    ftz = by_id()["tensorflow-float32-ftz"]
    row = _row(framework="tensorflow", api="keras.regularizers.L1", quantity="gradient", dtype="float32")
    assert ftz.selects(row, {"w": np.array([0.0, 1e-40])})
    assert not ftz.selects(row, {"w": np.array([0.0, 1e-30])})  # a normal float32
    assert not ftz.selects(row, None)


def test_a_result_condition_explains_only_such_results() -> None:
    eps = by_id()["torch-float16-eps-underflow"]
    row = _row(framework="torch", api="torch.optim.Adam", quantity="update", dtype="float16",
               optimizer="torch.optim.Adam(lr=0.01)", detail="NaN where the exact value is 0.5 at index (3,)")
    assert eps.explains(row)
    assert eps.explains(row | {"detail": "overflow: float16 result is -inf where the exact value 0.2 fits float16"})
    assert not eps.explains(row | {"detail": "0.49 vs 0.5: abs err 0.01 > 0.001 allowed"})


def test_defect_rows_carry_the_id_and_the_reason_and_do_not_fail(write_case) -> None:
    case = load_case(write_case("weights: {w: [1]}\ndtypes: [float16]\nregularizers: [{l2: 1}]\n"))
    rows = [_row(framework="paddle", api="paddle.regularizer.L2Decay", dtype="float16", status="unsupported"),
            _row(framework="torch", api="torch.handwritten", dtype="float16")]
    engine.apply_findings(case, rows)
    assert rows[0]["finding"] == "paddle-no-cpu-float16"
    assert rows[0]["known"] == by_id()["paddle-no-cpu-float16"].reason
    assert rows[1]["finding"] is None and rows[1]["known"] is None
    assert engine.Run(rows, {}).failures == 1  # the torch row only


def test_a_precision_finding_never_excuses_a_mismatch(write_case) -> None:
    # The row keeps the id its band was widened by (regcompare.judge puts it there), but a mismatch beyond the
    # widened band is the row's own: no ``known``, it fails the run.
    case = load_case(write_case("weights: {w: [1]}\ndtypes: [bfloat16]\nregularizers: [{l2: 1}]\n"))
    rows = [_row(finding="numpy-bfloat16-sum", tolerance={"finding": "numpy-bfloat16-sum", "without": "mismatch"})]
    engine.apply_findings(case, rows)
    assert rows[0]["finding"] == "numpy-bfloat16-sum" and rows[0]["known"] is None
    assert engine.Run(rows, {}).failures == 1


def test_a_finding_that_explains_nothing_is_stale() -> None:
    # A precision finding whose widening no row needed (its rows match in their own dtype's band) is stale.
    rows = [_row(status="match", tolerance={"finding": "numpy-bfloat16-sum", "without": "match"})]
    stale = engine.stale_findings(rows, {}, {"numpy"}, [by_id()["numpy-bfloat16-sum"]])
    assert len(stale) == 1
    assert stale[0].startswith("built-in finding numpy-bfloat16-sum: expected a row its accumulator in bfloat16 "
                               "widen from mismatch to its verdict")
    assert "the rows it selects are: match" in stale[0]
    needed = [_row(status="match", tolerance={"finding": "numpy-bfloat16-sum", "without": "mismatch"})]
    assert engine.stale_findings(needed, {}, {"numpy"}, [by_id()["numpy-bfloat16-sum"]]) == []
    pir = by_id()["paddle-weightnormparamattr-pir"]
    row = _row(framework="paddle", api="paddle.static.WeightNormParamAttr", quantity="update")
    assert engine.stale_findings([row | {"status": "match"}], {}, {"paddle"}, [pir])[0].startswith(
        "built-in finding paddle-weightnormparamattr-pir: expected error")
    assert engine.stale_findings([row | {"status": "error"}], {}, {"paddle"}, [pir]) == []


def test_a_finding_of_a_framework_that_did_not_run_is_not_judged() -> None:
    assert engine.stale_findings([], {}, {"numpy"}, [by_id()["paddle-no-cpu-float16"]]) == []
    own = Finding("x", "defect", "why", "where", status="error", framework="numpy")
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


def test_paddle_rprop_holds_its_hyper_parameters_in_a_bfloat16_rows_dtype() -> None:
    """paddle's Rprop makes etas a tensor of the parameter's dtype: bfloat16 etaplus = 1.2 is 1.203125 (77/64), the
    initial step size 0.01 is 0.010009765625 (41/4096). With a constant gradient (no sign change) the step sizes
    grow by etaplus each step: three steps from 0 move the weight by −41/4096·(1 + 77/64 + (77/64)²) =
    −613073/16777216, where the reference's 0.01·(1 + 1.2 + 1.44) is −0.0364."""
    from regcompare import errormodel, rules
    from regcompare.conventions import Decay, Regularizer

    finding = by_id()["paddle-rprop-low-precision-hyperparameters"]
    assert finding.kind == "precision" and finding.held == Held("hyper-parameters", findings.ROW_DTYPE)
    row = _row(framework="paddle", api="paddle.ParamAttr.L2Decay", quantity="update", dtype="bfloat16",
               optimizer="paddle.optimizer.Rprop(learning_rate=0.01, etas=(0.5, 1.2))")
    assert finding.selects(row)
    assert not finding.selects(row | {"dtype": "float32"})
    assert not finding.selects(row | {"optimizer": "paddle.optimizer.Adam(learning_rate=0.01)"})
    decay = Decay(Regularizer())
    spec = errormodel.UpdateSpec("rprop", rules.canonical("rprop", {"lr": 0.01}, {}), 3, {"w": decay})
    held = finding.held.precision("bfloat16")
    out = errormodel.run_in(spec, np.zeros(1), np.ones(1), decay, np.dtype(np.float64),
                            scalars=errormodel.computed_in(held))
    assert out[0] == -613073 / 16777216
    assert errormodel.run_in(spec, np.zeros(1), np.ones(1), decay, np.dtype(np.float64))[0] == pytest.approx(-0.0364)


def test_apply_findings_marks_what_the_first_explaining_finding_in_registry_order_says(write_case) -> None:
    # apply_findings asks only the defects of a row's status (kept by registry): the same as asking each finding's
    # ``explains`` in registry order, for rows of every status, with a custom registry and then the built-in one.
    case = load_case(write_case("weights: {w: [1]}\ndtypes: [float16]\nregularizers: [{l2: 1}]\n"))
    first = Finding("first", "defect", "first reason", "src", framework="torch", status="error")
    second = Finding("second", "defect", "second reason", "src", framework="torch", status="error")
    other = Finding("other", "defect", "other reason", "src", framework="torch", status="mismatch", dtypes=("float32",))
    rows = [_row(framework="torch", api="torch.handwritten", dtype=d, status=s)
            for s in ("error", "mismatch", "match", "unsupported") for d in ("float16", "float32")]
    for registry in ((second, first, other), (first, second, other), FINDINGS):
        marked = [dict(r) for r in rows]
        engine.apply_findings(case, marked, registry)
        for row, got in zip(rows, marked, strict=True):
            hit = next((f for f in registry if not f.precision and f.explains(row, case.weights)), None)
            assert got["finding"] == (hit and hit.id) and got["known"] == (hit and hit.reason), (registry[0].id, row)
    marked = [dict(r) for r in rows]
    engine.apply_findings(case, marked, (second, first, other))
    assert [r["finding"] for r in marked] == ["second", "second", None, "other", None, None, None, None]
