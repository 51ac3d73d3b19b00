"""Program cases: the snippet contract, layouts, pairwise judging, faults, and the shipped layer cases run in the
real frameworks with their expected weights computed here in numpy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from regcompare import program_run, programs
from regcompare.cases import CaseError, load_case, load_cases
from regcompare.dtypes import Tolerance
from regcompare.engine import Run, run
from regcompare.workers import Outcome, WorkerPool
from tests.conftest import ROOT

PROGRAMS = ROOT / "cases" / "programs"


# --- layouts ------------------------------------------------------------------------------------------------


def _entry(name: str, where: str, transposed: bool = False) -> program_run.LayoutEntry:
    return program_run.LayoutEntry(name, where, object(), transposed)


def test_bind_maps_keras_names_and_says_how() -> None:
    entries = [_entry("kernel", "Linear.weight", True), _entry("bias", "Linear.bias")]
    bound = program_run.bind(["kernel", "bias"], entries)
    assert program_run.mapping_text(bound) == "kernel = Linear.weight.T, bias = Linear.bias"


def test_bind_matches_in_order_by_the_last_name_part() -> None:
    entries = [_entry("kernel", "0.Linear.weight", True), _entry("bias", "0.Linear.bias"),
               _entry("kernel", "1.Linear.weight", True), _entry("bias", "1.Linear.bias")]
    bound = program_run.bind(["first.kernel", "first.bias", "second/kernel", "second/bias"], entries)
    assert [bound[n].where for n in ("first.kernel", "second/kernel")] == ["0.Linear.weight", "1.Linear.weight"]


def test_bind_refuses_a_weight_without_parameter() -> None:
    with pytest.raises(program_run.ProgramError, match="no parameter for the case's weight 'gamma'"):
        program_run.bind(["gamma"], [_entry("kernel", "Linear.weight", True)])


def test_bind_refuses_a_parameter_without_weight() -> None:
    """A parameter the case gives no value would train on no gradient: refused, not ignored."""
    with pytest.raises(program_run.ProgramError, match=r"no weight for the model's Linear\.bias"):
        program_run.bind(["kernel"], [_entry("kernel", "Linear.weight", True), _entry("bias", "Linear.bias")])


# --- judging pairs (no framework) ----------------------------------------------------------------------------

CASE = """\
name: pairs
weights: {w: [1.0, -2.0]}
steps: 3
programs:
  torch: |
    opt = None
  paddle: |
    opt = None
"""


@pytest.fixture
def case(write_case):
    return load_case(write_case(CASE))


def _side(name: str, history: list[list[float]] | None, status: str = "ok", detail: str = "") -> programs.Side:
    values = None if history is None else {"w": np.asarray(history, np.float32)}
    return programs.Side(name, name, "program", Outcome(status, detail=detail), values)


START = {"w": np.array([1.0, -2.0])}
TOL = Tolerance(1.3e-6, 1e-5)


def test_equal_runs_match(case) -> None:
    a = _side("torch", [[0.9, -1.8], [0.8, -1.6], [0.7, -1.4]])
    b = _side("paddle", [[0.9, -1.8], [0.8, -1.6], [0.7, -1.4]])
    (row,) = programs.pair_rows(case, "float32", a, b, TOL, "test", START)
    assert (row["status"], row["against"], row["apart_from_step"]) == ("match", "paddle", None)
    assert row["step_abs_err"] == [0.0, 0.0, 0.0]


def test_runs_apart_from_a_step(case) -> None:
    """Equal after step 1, apart from step 2: the row names step 2 and the largest difference at each step."""
    a = _side("torch", [[0.9, -1.8], [0.8, -1.6], [0.7, -1.4]])
    b = _side("paddle", [[0.9, -1.8], [0.85, -1.6], [0.75, -1.4]])
    (row,) = programs.pair_rows(case, "float32", a, b, TOL, "test", START)
    assert row["status"] == "mismatch"
    assert row["apart_from_step"] == 2
    np.testing.assert_allclose(row["step_abs_err"], [0.0, 0.05, 0.05], atol=1e-7)
    assert "from step 2" in row["detail"]
    # update error after 3 steps: |0.7 − 0.75| / max|paddle − start| = 0.05 / 0.6
    assert f"{0.05 / 0.6:.0%} of paddle's" in row["detail"]
    assert row["raw"] == pytest.approx([0.7, -1.4]) and row["reference"] == pytest.approx([0.75, -1.4])


def test_a_failed_side_is_an_error_row(case) -> None:
    a = _side("torch", None, "error", "ValueError: boom (at x.yaml:programs.torch:2)")
    b = _side("paddle", [[0.9, -1.8], [0.8, -1.6], [0.7, -1.4]])
    (row,) = programs.pair_rows(case, "float32", a, b, TOL, "test", START)
    assert row["status"] == "error"
    assert row["detail"] == "torch: ValueError: boom (at x.yaml:programs.torch:2)"


def test_pairs_own_programs_translations_and_oracle() -> None:
    own = [programs.Side(fw, fw, "program", Outcome("ok"), {}) for fw in ("tensorflow", "torch", "paddle")]
    translated = programs.Side("paddle<paconvert>", "paddle", "paconvert", Outcome("ok"), {})
    refused = programs.Side("tensorflow<regcompare>", "tensorflow", "regcompare", Outcome("skipped"), None,
                            refused="no equivalent setting")
    oracle = programs.Side("oracle", "oracle", "oracle", Outcome("ok"), {})
    names = [(a.name, b.name) for a, b in programs.pairs([*own, translated, refused], oracle)]
    assert names[:3] == [("tensorflow", "torch"), ("tensorflow", "paddle"), ("torch", "paddle")]
    assert ("paddle<paconvert>", "torch") in names and ("tensorflow<regcompare>", "torch") in names
    assert ("paddle<paconvert>", "oracle") in names
    assert ("tensorflow<regcompare>", "oracle") not in names  # nothing to compare


def test_translator_summary_counts_settings() -> None:
    def row(case: str, status: str, detail: str = "", tensor: str = "w") -> dict:
        return {"case": case, "program": "paddle<paconvert>", "dtype": "float32", "tensor": tensor,
                "translator": "paconvert", "against": "torch", "status": status, "detail": detail, "known": None}

    rows = [row("a", "match"), row("a", "match", tensor="b"),       # equivalent
            row("b", "match"), row("b", "mismatch", "apart", "b"),   # wrong (one tensor apart is enough)
            row("c", "error", "TypeError"),                          # wrong: the translation crashes
            row("d", "skipped", "paddle<paconvert>: paconvert refused: marked unsupported: >>>>>>x"),
            {**row("a", "mismatch"), "against": "oracle"}]           # against the oracle: not a translation verdict
    summary = programs.translator_summary(rows)["paconvert"]
    assert {k: summary[k] for k in ("tried", "equivalent", "wrong", "refused")} == \
        {"tried": 4, "equivalent": 1, "wrong": 2, "refused": 1}
    assert summary["examples"]["wrong"]["status"] == "mismatch"


# --- load-time checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("programs: {paddle: 'opt = 1'}\ntranslate: [paconvert]\n", "translate: translators translate the torch program"),
    ("programs: {torch: 'opt = 1', caffe: 'opt = 1'}\n", "programs.caffe: unknown framework 'caffe'"),
    ("programs: {torch: 'opt = (', paddle: 'opt = 1'}\n", "programs.torch: line 1 of the snippet"),
    ("programs: {torch: 'opt = 1'}\n", "nothing to compare"),
    ("programs: {torch: 'opt = 1'}\ntranslate: [babel]\n", "translate[0]"),
    ("programs: {torch: 'opt = 1', paddle: 'opt = 1'}\nknown: [{status: mismatch, api: torch.optim.SGD, reason: x}]\n",
     "known[0].api: a program case's rows have api 'program'"),
])
def test_bad_programs_are_refused_at_load_time(write_case, text: str, message: str) -> None:
    with pytest.raises(CaseError) as exc:
        load_case(write_case("weights: {w: [1.0]}\n" + text))
    assert message in str(exc.value)


def test_one_program_with_a_canonical_setting_is_valid(write_case) -> None:
    case = load_case(write_case("weights: {w: [1.0]}\noptimizer: {name: sgd, lr: 0.1}\nregularizers: [{l2: 0.1}]\n"
                                "programs: {torch: 'opt = 1'}\n"))
    assert programs.canonical_setting(case) is not None


# --- in the real frameworks --------------------------------------------------------------------------------


def _run(paths: list[str], frameworks: tuple[str, ...], timeout: float = 120.0) -> Run:
    pool = WorkerPool(task_timeout=timeout)
    try:
        return run(load_cases(paths), frameworks, pool)
    finally:
        pool.close()


def _row(result: Run, case: str, program: str, against: str, tensor: str) -> dict:
    return next(r for r in result.rows if (r["case"], r["program"], r["against"], r["tensor"]) ==
                (case, program, against, tensor))


@pytest.fixture(scope="module")
def layers() -> Iterator[Run]:
    yield _run([str(p) for p in sorted(PROGRAMS.glob("layers_*.yaml"))], ("torch", "tensorflow", "paddle"))


def _sgd(w: np.ndarray, g: np.ndarray, lr: float, decay: float, steps: int) -> np.ndarray:
    for _ in range(steps):
        w = w - lr * (g + decay * w)
    return w


def test_keras_l2_against_torch_weight_decay(layers: Run) -> None:
    """Keras L2(0.05) is gradient 0.1·w on the kernel only; torch's weight_decay=0.05 is 0.05·w on both."""
    case = load_case(str(PROGRAMS / "layers_keras_l2_vs_torch_weight_decay.yaml"))
    k, b = (case.weights[n].astype(np.float32).astype(np.float64) for n in ("kernel", "bias"))
    from regcompare.plan import grads_of

    g = grads_of(case, "float32")[1]
    kernel = _row(layers, case.name, "tensorflow", "torch", "kernel")
    bias = _row(layers, case.name, "tensorflow", "torch", "bias")
    np.testing.assert_allclose(kernel["raw"], _sgd(k, g["kernel"], 0.1, 0.1, 3), rtol=1e-5)
    np.testing.assert_allclose(kernel["reference"], _sgd(k, g["kernel"], 0.1, 0.05, 3), rtol=1e-5)
    np.testing.assert_allclose(bias["raw"], _sgd(b, g["bias"], 0.1, 0.0, 3), rtol=1e-5)
    np.testing.assert_allclose(bias["reference"], _sgd(b, g["bias"], 0.1, 0.05, 3), rtol=1e-5)
    assert kernel["status"] == bias["status"] == "mismatch" and kernel["known"] and kernel["apart_from_step"] == 1
    assert kernel["mapping"]["torch"] == "kernel = Linear.weight.T, bias = Linear.bias"
    assert kernel["mapping"]["tensorflow"] == "kernel = dense/kernel, bias = dense/bias"
    # paddle's ParamAttr L2Decay(0.1) on the weight alone is the faithful port
    assert _row(layers, case.name, "tensorflow", "paddle", "kernel")["status"] == "match"
    assert _row(layers, case.name, "tensorflow", "paddle", "kernel")["mapping"]["paddle"] == \
        "kernel = Linear.weight, bias = Linear.bias"


def test_grouped_port_matches_everywhere(layers: Run) -> None:
    rows = [r for r in layers.rows if r["case"] == "layers-keras-l2-vs-torch-grouped"]
    assert len(rows) == 6 and {r["status"] for r in rows} == {"match"}


def test_batchnorm_scale_and_shift(layers: Run) -> None:
    """gamma 1 → (1 − lr·wd)³ = 0.999³ in torch and paddle; Keras' BatchNormalization is not decayed."""
    row = _row(layers, "layers-batchnorm-decay", "tensorflow", "torch", "gamma")
    np.testing.assert_allclose(row["raw"], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(row["reference"], [0.999 ** 3] * 3, rtol=1e-6)
    beta = _row(layers, "layers-batchnorm-decay", "tensorflow", "paddle", "beta")
    np.testing.assert_allclose(beta["reference"], np.array([0.5, -0.25, 0.125]) * 0.999 ** 3, rtol=1e-6)
    assert _row(layers, "layers-batchnorm-decay", "torch", "paddle", "gamma")["status"] == "match"


def test_gradient_tape_without_model_losses_and_fit(layers: Run) -> None:
    """The issue's figures: 1.0 stays 1.0 in a tape loop that forgets model.losses, 0.9 with fit()."""
    tape = _row(layers, "layers-gradient-tape-forgets-losses", "tensorflow", "oracle", "kernel")
    fit = _row(layers, "layers-fit-adds-losses", "tensorflow", "oracle", "kernel")
    assert tape["raw"] == [[1.0]] and tape["status"] == "mismatch" and tape["known"]
    assert fit["raw"] == [[float(np.float32(1.0 - 1.0 * 2 * 0.05 * 1.0))]] and fit["status"] == "match"
    assert tape["reference"] == fit["reference"] == [[0.9]]


def test_layer_cases_pass_with_their_known_findings(layers: Run) -> None:
    assert layers.failures == 0, [r["detail"] for r in layers.rows if r["status"] != "match" and not r["known"]]


FAULTS = """\
name: {name}
weights: {{w: [1.0, -2.0]}}
grads: {{w: ones}}
steps: 2
optimizer: {{name: sgd, lr: 0.1}}
regularizers: [{{l2: 0.1}}]
programs:
  torch: |
{snippet}
"""


def test_raising_crashing_and_hanging_snippets_lose_nothing(tmp_path: Path) -> None:
    snippets = {
        "raises": "    x = 1\n    raise ValueError('boom')",
        "no-opt": "    optimizer = torch.optim.SGD(params.values(), lr=0.1)",
        "crashes": "    import os, signal\n    os.kill(os.getpid(), signal.SIGSEGV)",
        "hangs": "    import time\n    time.sleep(600)",
        "fine": "    opt = torch.optim.SGD(params.values(), lr=0.1, weight_decay=0.1)",
    }
    for name, snippet in snippets.items():
        (tmp_path / f"{name}.yaml").write_text(FAULTS.format(name=name, snippet=snippet))
    result = _run([str(tmp_path / f"{n}.yaml") for n in snippets], ("torch",), timeout=20.0)
    status = {r["case"]: (r["status"], r["detail"]) for r in result.rows}
    assert status["raises"][0] == "error" and "ValueError: boom (at raises.yaml:programs.torch:2)" in status["raises"][1]
    assert status["no-opt"][0] == "error"
    assert status["no-opt"][1].startswith("torch: ProgramError: the snippet defined no `opt`")
    assert status["crashes"][0] == "error" and "SIGSEGV" in status["crashes"][1]
    assert status["hangs"][0] == "error" and "timed out after 20 s" in status["hangs"][1]
    # the case after them: w ← w − 0.1·(1 + 0.1·w), twice
    fine = _row(result, "fine", "torch", "oracle", "w")
    assert fine["status"] == "match"
    np.testing.assert_allclose(fine["raw"], _sgd(np.array([1.0, -2.0]), np.ones(2), 0.1, 0.1, 2), rtol=1e-6)


def test_schedulers_in_each_framework_s_idiom() -> None:
    """torch StepLR, paddle StepDecay and Keras' staircase ExponentialDecay: lr 0.1, 0.1, 0.05, 0.05."""
    path = PROGRAMS / "schedule_step_decay.yaml"
    result = _run([str(path)], ("torch", "tensorflow", "paddle"))
    case = load_case(str(path))
    from regcompare.plan import grads_of

    w, g = case.weights["w"].astype(np.float32).astype(np.float64), grads_of(case, "float32")[1]["w"]
    for lr in (0.1, 0.1, 0.05, 0.05):
        w = w - lr * (g + 0.01 * w)
    for program, against in (("torch", "paddle"), ("torch", "tensorflow"), ("paddle", "tensorflow")):
        row = _row(result, case.name, program, against, "w")
        assert row["status"] == "match"
        np.testing.assert_allclose(row["raw"], w, rtol=1e-5)
        np.testing.assert_allclose(row["reference"], w, rtol=1e-5)
