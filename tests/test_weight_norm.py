"""Weight normalization: the float64 oracle (w = g·v/‖v‖, L2 on g and v) against finite differences and by hand;
the `weight_norm` key, its planning and rows; the three APIs through the real workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from regcompare import engine, oracle, translate
from regcompare.adapters.base import Task
from regcompare.cases import CaseError, load_case
from regcompare.conventions import Regularizer
from regcompare.workers import Outcome, WorkerPool, evaluate

WHOLE_CASE = Path(__file__).parent.parent / "cases" / "optimizers" / "weight_norm_whole.yaml"

W = np.array([[1.0, -2.0, 0.5], [-3.0, 4.0, 2.0]])
DW = np.array([[1.0, 0.5, -1.0], [-0.25, 2.0, 1.0]])
SGD = {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


@pytest.mark.parametrize("dim", [0, 1, None])
def test_split_reproduces_w_and_g_is_the_norm(dim: int | None) -> None:
    g, v = oracle.weight_norm_split(W, dim)
    np.testing.assert_allclose(oracle.weight_norm_grads(g, v, DW, dim)[0], W, rtol=1e-15)
    assert g.shape == ((2, 1) if dim == 0 else (1, 3) if dim == 1 else (1, 1))


@pytest.mark.parametrize("dim", [0, None])
def test_chained_gradients_match_finite_differences(dim: int | None) -> None:
    g, v = oracle.weight_norm_split(W, dim)
    g = g * 1.3  # away from g = ‖v‖, where a wrong g/‖v‖ factor would cancel

    def loss(g_: np.ndarray, v_: np.ndarray) -> float:
        return float(np.sum(DW * oracle.weight_norm_grads(g_, v_, DW, dim)[0]))

    _, dg, dv = oracle.weight_norm_grads(g, v, DW, dim)
    h = 1e-6
    for array, grad, is_g in ((g, dg, True), (v, dv, False)):
        for index in np.ndindex(array.shape):
            bump = np.zeros_like(array)
            bump[index] = h
            args = (g + bump, v) if is_g else (g, v + bump)
            back = (g - bump, v) if is_g else (g, v - bump)
            assert (loss(*args) - loss(*back)) / (2 * h) == pytest.approx(grad[index], rel=1e-7, abs=1e-9)


def test_one_sgd_step_by_hand_whole_tensor_norm() -> None:
    out = oracle.weight_norm_update(W, DW, Regularizer(l2=0.5), "sgd", SGD, 1, None)
    g0, v0 = oracle.weight_norm_split(W, None)
    _, dg, dv = oracle.weight_norm_grads(g0, v0, DW, None)
    np.testing.assert_allclose(out["g"], g0 - 0.1 * (dg + 0.5 * g0), rtol=1e-15)
    np.testing.assert_allclose(out["v"], v0 - 0.1 * (dv + 0.5 * v0), rtol=1e-15)
    # w is not decayed by 0.5·w: v's decay only shrinks ‖v‖, which w does not see; g's decay does reach w.
    no_decay = oracle.weight_norm_update(W, DW, Regularizer(), "sgd", SGD, 1, None)
    assert not np.allclose(out["w"], no_decay["w"] - 0.1 * 0.5 * W)


def test_l2_on_w_itself_would_decay_g_only() -> None:
    """The registry's caveat: (l2/2)‖w‖² chained through w = g·v/‖v‖ is l2·g on g and nothing on v, so the
    frameworks' decay of v is something an L2 penalty on w does not do."""
    for dim in (0, 1, None):
        g, v = oracle.weight_norm_split(W, dim)
        g = g * 1.3
        w = oracle.weight_norm_grads(g, v, DW, dim)[0]
        _, dg, dv = oracle.weight_norm_grads(g, v, 0.5 * w, dim)
        np.testing.assert_allclose(dg, 0.5 * g, rtol=1e-14)
        np.testing.assert_allclose(dv, 0.0, atol=1e-14)


# --- schema, planning and judging (no framework) ---------------------------------------------------------

CASE = """\
weights: {w: [[1, -2, 0.5], [-3, 4, 2]]}
regularizers: [{l2: 0.5}]
quantities: [update]
optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
grads: {w: [[1.0, 0.5, -1.0], [-0.25, 2.0, 1.0]]}
steps: 3
"""
WN_APIS = {"torch.nn.utils.parametrizations.weight_norm", "paddle.nn.utils.weight_norm",
           "paddle.static.WeightNormParamAttr", "paddle.static.WeightNormParamAttr.old_ir"}
MOMENTUM = SGD | {"momentum": 0.9}


@pytest.mark.parametrize(("text", "message"), [
    ("weight_norm: {dim: -1}", "weight_norm.dim"),
    ("weight_norm: {}", "weight_norm.dim"),
    ("weight_norm: {dim: 0, eps: 1.0e-12}", "weight_norm.eps"),
    ("weight_norm: {dim: '0'}", "weight_norm.dim"),
])
def test_weight_norm_key_is_strict(write_case, text: str, message: str) -> None:
    with pytest.raises(CaseError) as info:
        load_case(write_case(CASE + text + "\n"))
    assert message in str(info.value)


def _plan(write_case, extra: str) -> list[engine.Item]:
    return engine.plan_case(load_case(write_case(CASE + extra)), ("torch", "tensorflow", "paddle"))


def test_weight_norm_cases_run_the_weight_norm_apis_and_nothing_else(write_case) -> None:
    assert {i.api for i in _plan(write_case, "weight_norm: {dim: null}\n")} == WN_APIS
    assert not {i.api for i in _plan(write_case, "")} & WN_APIS


def test_an_l1_regularizer_has_no_weight_norm_api(write_case) -> None:
    assert _plan(write_case, "weight_norm: {dim: 0}\n")
    text = CASE.replace("{l2: 0.5}", "{l1: 0.5}") + "weight_norm: {dim: 0}\n"
    with pytest.raises(CaseError, match="no weight-normalization API takes it"):
        load_case(write_case(text))


def test_translate_never_offers_a_weight_norm_api() -> None:
    src = translate.source("torch.optim.SGD", {"weight_decay": 0.5, "momentum": 0.9})
    assert not {t.conv.api for t in translate.translations(src)} & WN_APIS


def _judge(write_case, value: dict[str, np.ndarray]) -> dict[str, dict]:
    item = next(i for i in _plan(write_case, "weight_norm: {dim: 0}\n") if i.api == "paddle.nn.utils.weight_norm")
    assert engine.update_options(item)["weight_norm"] == {"dim": 0}
    rows = engine.judge(item, Outcome("ok", value), {"w": W})
    return {r["tensor"]: r for r in rows}


def test_rows_are_g_v_and_w_against_the_oracle_with_decay_on_g_and_v(write_case) -> None:
    ref = oracle.weight_norm_update(W, DW, Regularizer(l2=0.5), "sgd", MOMENTUM, 3, 0)
    rows = _judge(write_case, {"w.g": ref["g"], "w.v": ref["v"], "w": ref["w"]})
    assert list(rows) == ["w.g", "w.v", "w"]
    assert all(r["status"] == "match" and r["weight_norm"] == {"dim": 0} for r in rows.values())
    # Decay on w itself (coupled L2 on the plain weight) is a mismatch on every tensor.
    plain = oracle.update({"w": W}, {"w": DW}, Regularizer(l2=0.5), "sgd", MOMENTUM, 3, "coupled")["w"]
    assert _judge(write_case, {"w.g": ref["g"], "w.v": ref["v"], "w": plain})["w"]["status"] == "mismatch"
    # Forgetting the decay on v changes v (and, through g/‖v‖, w).
    no_v = oracle.weight_norm_update(W, DW, Regularizer(), "sgd", MOMENTUM, 3, 0)["v"]
    assert _judge(write_case, {"w.g": ref["g"], "w.v": no_v, "w": ref["w"]})["w.v"]["status"] == "mismatch"


# --- the real frameworks ------------------------------------------------------------------------------------


def test_whole_tensor_case_through_the_real_frameworks() -> None:
    case = load_case(str(WHOLE_CASE))
    pool = WorkerPool()
    try:
        result = engine.run([case], ("torch", "paddle"), pool)
    finally:
        pool.close()
    rows = {(r["api"], r["dtype"], r["tensor"]): r for r in result.rows}
    for api in ("torch.nn.utils.parametrizations.weight_norm", "paddle.nn.utils.weight_norm",
                "paddle.static.WeightNormParamAttr.old_ir"):
        for tensor in ("w.g", "w.v", "w", "ones.g", "ones.v", "ones"):
            row = rows[(api, "float64", tensor)]
            assert row["status"] == "match", (api, tensor, row["detail"])
            if api.startswith("paddle"):
                # paddle's momentum kernel holds μ in float32: beyond float64's own band, within the band the
                # precision finding widens it to (μ held in float32).
                assert row["finding"] == "paddle-momentum-float32-mu" and row["tolerance"]["without"] == "mismatch"
    pir = [r for r in result.rows if r["api"] == "paddle.static.WeightNormParamAttr"]
    assert pir and all(r["status"] == "error" and "must be Value, but got Parameter" in r["detail"] for r in pir)
    assert result.failures == 0


def test_static_tasks_leave_the_paddle_worker_in_dygraph() -> None:
    """Two static tasks (one failing under PIR) and then a dygraph update in the same worker: the static
    graph is entered and left per task, and a failed task leaves nothing behind for the next."""
    grads = {"w": DW.astype(np.float32)}
    options = {"optimizer": "paddle.optimizer.SGD", "args": {"learning_rate": 0.1}, "grads": grads, "steps": 2,
               "weight_norm": {"dim": None}}
    weights = {"w": W.astype(np.float32)}
    tasks = [Task(api, "update", "float32", {"coeff": 0.5}, weights, options) for api in (
        "paddle.static.WeightNormParamAttr", "paddle.static.WeightNormParamAttr",
        "paddle.static.WeightNormParamAttr.old_ir", "paddle.nn.utils.weight_norm")]
    plain = {k: v for k, v in options.items() if k != "weight_norm"}
    tasks.append(Task("paddle.optimizer.SGD", "update", "float32", {"weight_decay": 0.5}, weights, plain))
    outcomes = evaluate("paddle", tasks)
    assert [o.status for o in outcomes] == ["error", "error", "ok", "ok", "ok"], [o.detail for o in outcomes]
    assert outcomes[0].detail == outcomes[1].detail  # not "created before" the second time
    ref = oracle.weight_norm_update(W, DW, Regularizer(l2=0.5), "sgd", SGD, 2, None)
    for outcome in outcomes[2:4]:
        np.testing.assert_allclose(outcome.value["w"], ref["w"], rtol=2e-6)
        assert outcome.value["w.g"].shape == (1, 1)
    plain_ref = oracle.update({"w": W}, {"w": DW}, Regularizer(l2=0.5), "sgd", SGD, 2, "coupled")["w"]
    np.testing.assert_allclose(outcomes[4].value["w"], plain_ref, rtol=2e-6)
