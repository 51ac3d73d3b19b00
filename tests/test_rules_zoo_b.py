"""The zoo's group B rules (asgd, lamb, lion, adafactor, ftrl, muon, rprop, lbfgs): each float64 step on an example
computed by hand from the framework's documented formula, and each case run through the real frameworks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from regcompare import rules
from regcompare.conventions import Decay, Regularizer
from tests.conftest import run_cases

ROOT = Path(__file__).parent.parent
CASES = ROOT / "cases" / "optimizers"


NO_DECAY = Decay()


def _run(name: str, w: list[float], g: list[float], steps: int, decay: Decay = NO_DECAY, **settings: object) -> np.ndarray:
    full = rules.canonical(name, settings)
    return rules.run(name, np.array(w, np.float64), np.array(g, np.float64), decay, full, steps)


# --- rprop ----------------------------------------------------------------------------------------------


def test_rprop_grows_the_step_while_the_sign_holds() -> None:
    # η = 0.1, then 0.1·1.2 = 0.12, then 0.144: w = 1 − 0.364.
    np.testing.assert_allclose(_run("rprop", [1.0], [1.0], 3, lr=0.1), [1.0 - 0.364], rtol=1e-15)


def test_rprop_halves_the_step_and_skips_it_when_the_sign_flips() -> None:
    # Coupled l2 = 20 from w = 0, loss gradient 1: g₁ = 1, w₁ = −0.1; g₂ = 1 − 2 = −1 flips: η = 0.05, g zeroed, w₂ = w₁;
    # g₃ = −1 after a zeroed g_prev: η stays 0.05, w₃ = −0.1 + 0.05.
    w = _run("rprop", [0.0], [1.0], 3, Decay(Regularizer(l2=20.0)), lr=0.1)
    np.testing.assert_allclose(w, [-0.05], rtol=1e-15)


def test_rprop_clamps_the_step_size() -> None:
    # η = 0.1·1.2 = 0.12 clamped to 0.11 on step 2: w = 1 − 0.1 − 0.11.
    w = _run("rprop", [1.0], [1.0], 2, lr=0.1, step_size_max=0.11)
    np.testing.assert_allclose(w, [0.79], rtol=1e-15)


def test_an_infinite_weight_stays_infinite_without_decay() -> None:
    assert _run("rprop", [np.inf, -np.inf], [1.0, 1.0], 2).tolist() == [np.inf, -np.inf]


# --- asgd -----------------------------------------------------------------------------------------------


def test_asgd_shrinks_by_lambd_with_a_decaying_step_size() -> None:
    # lr 0.1, lambd 0.5, alpha 1: w₁ = 1·(1 − 0.05) − 0.1 = 0.85; η₂ = 0.1/1.05;
    # w₂ = 0.85·(1 − 0.5·η₂) − η₂ = 0.85 − 0.1425/1.05 = 5/7.
    w = _run("asgd", [1.0], [1.0], 2, lr=0.1, lambd=0.5, alpha=1.0)
    np.testing.assert_allclose(w, [5 / 7], rtol=1e-14)


def test_asgd_weight_decay_is_coupled_on_top_of_lambd() -> None:
    # g = 1 + 1.0·w = 2 on step 1: w₁ = 0.95 − 0.2.
    w = _run("asgd", [1.0], [1.0], 1, Decay(Regularizer(l2=1.0)), lr=0.1, lambd=0.5, alpha=1.0)
    np.testing.assert_allclose(w, [0.75], rtol=1e-15)


def test_asgd_without_lambd_is_sgd() -> None:
    np.testing.assert_allclose(_run("asgd", [1.0], [1.0], 3, lr=0.1, lambd=0.0, t0=1.0), [0.7], rtol=1e-14)


def test_paddle_asgd_is_sag_over_the_last_gradients() -> None:
    # g = 1 + w (coupled l2 = 1), lr 0.1, n = 2: d = 2, w₁ = 0.8; d = 2 + 1.8, w₂ = 0.8 − 0.1·3.8/2 = 0.61;
    # the first gradient leaves: d = 3.8 − 2 + 1.61, w₃ = 0.61 − 0.1·3.41/2.
    full = rules.canonical("asgd", {"lr": 0.1, "lambd": 0.0}, {"sag_batches": 2})
    w = rules.run("asgd", np.array([1.0]), np.array([1.0]), Decay(Regularizer(l2=1.0)), full, 3)
    np.testing.assert_allclose(w, [0.4395], rtol=1e-14)


# --- lion -----------------------------------------------------------------------------------------------


def test_lion_steps_by_the_sign_of_the_interpolation() -> None:
    # c₁ = 0.1·1 → w₁ = 0.9, m₁ = 0.01; c₂ = 0.9·0.01 + 0.1 → w₂ = 0.8.
    np.testing.assert_allclose(_run("lion", [1.0], [1.0], 2, lr=0.1), [0.8], rtol=1e-15)


def test_lion_momentum_carries_the_sign_where_the_gradient_vanishes() -> None:
    # Coupled l2 = 20 from w = 0.05: g₁ = 2 → w₁ = −0.05, m₁ = 0.02; g₂ = 1 − 1 = 0, c₂ = 0.018 > 0 → w₂ = −0.15.
    w = _run("lion", [0.05], [1.0], 2, Decay(Regularizer(l2=20.0)), lr=0.1)
    np.testing.assert_allclose(w, [-0.15], rtol=1e-14)


def test_lion_decoupled_decay_is_a_direct_shrink() -> None:
    # w ← 1 − 0.1·0.5·1 = 0.95, then − 0.1·sign(0.1·1).
    np.testing.assert_allclose(_run("lion", [1.0], [1.0], 1, Decay(decoupled=0.5), lr=0.1), [0.85], rtol=1e-15)


# --- lamb -----------------------------------------------------------------------------------------------

W34, G1 = [3.0, 4.0], [1.0, -1.0]  # ‖w‖ = 5; step 1: m̂ = g, v̂ = g², r = g/(|g| + ε) ≈ [1, −1]


def test_lamb_scales_the_step_by_the_trust_ratio() -> None:
    w = _run("lamb", W34, G1, 1, lr=0.1, eps=1e-12)
    np.testing.assert_allclose(w, [3 - 0.5 / np.sqrt(2), 4 + 0.5 / np.sqrt(2)], rtol=1e-11)


def test_lamb_decay_inside_the_ratio_and_before_it() -> None:
    # paddle, the paper: r = [1, −1] + 0.5·[3, 4] = [2.5, 1], ratio 5/√7.25.
    inside = _run("lamb", W34, G1, 1, Decay(decoupled=0.5), lr=0.1, eps=1e-12)
    np.testing.assert_allclose(inside, np.array(W34) - 0.1 * 5 / np.sqrt(7.25) * np.array([2.5, 1.0]), rtol=1e-11)
    # Keras: w ← 0.95·w first (‖w‖ = 4.75), then r = [1, −1].
    full = rules.canonical("lamb", {"lr": 0.1, "eps": 1e-12}, {"decay_in_ratio": False})
    before = rules.run("lamb", np.array(W34), np.array(G1), Decay(decoupled=0.5), full, 1)
    np.testing.assert_allclose(before, [2.85 - 0.475 / np.sqrt(2), 3.8 + 0.475 / np.sqrt(2)], rtol=1e-11)


def test_paddle_lamb_skips_the_ratio_without_its_own_decay() -> None:
    w = _run("lamb", W34, G1, 1, lr=0.1, eps=1e-12, always_adapt=False)
    np.testing.assert_allclose(w, [2.9, 4.1], rtol=1e-11)


# --- lbfgs ----------------------------------------------------------------------------------------------


def test_lbfgs_walks_minus_g_on_a_linear_loss() -> None:
    # No curvature (y = 0): t = min(1, 1/‖g‖₁)·lr = 0.05 on the first iteration, then lr = 0.1 twice.
    w = _run("lbfgs", [1.0, 2.0], [1.0, -1.0], 1, lr=0.1, max_iter=3)
    np.testing.assert_allclose(w, [0.75, 2.25], rtol=1e-15)


def test_lbfgs_secant_step_finds_a_quadratic_minimum() -> None:
    # loss = w + w²/2 from w = 1, lr 1: t₁ = 1/2, w₁ = 1 − 0.5·2 = 0; s = −1, y = 1 − 2 = −1, H = 1, and the
    # two-loop recursion gives d = −1: w₂ = −1, where the gradient is 0 and LBFGS stops.
    w = _run("lbfgs", [1.0], [1.0], 1, Decay(Regularizer(l2=1.0)), lr=1.0)
    np.testing.assert_allclose(w, [-1.0], rtol=1e-15)


def test_lbfgs_sees_all_tensors_as_one_vector() -> None:
    full = rules.canonical("lbfgs", {"lr": 0.1, "max_iter": 3})
    out = rules.update("lbfgs", {"a": np.array([1.0]), "b": np.array([2.0])}, {"a": np.array([1.0]),
                       "b": np.array([-1.0])}, {"a": NO_DECAY, "b": NO_DECAY}, full, 1)
    assert (out["a"][0], out["b"][0]) == pytest.approx((0.75, 2.25), rel=1e-15)  # ‖g‖₁ = 2 over both


# --- adafactor ------------------------------------------------------------------------------------------

RMS34 = np.sqrt(12.5)  # RMS([3, 4])


def test_adafactor_step_is_relative_to_the_weights() -> None:
    # t = 1: ρ = min(0.1, 1), α = RMS(w)·ρ, v = g², u = g/|g| = [1, −1]; with d = 0.5 the RMS(u) = 1 halves it.
    w = _run("adafactor", W34, G1, 1, lr=0.1)
    np.testing.assert_allclose(w, [3 - 0.1 * RMS34, 4 + 0.1 * RMS34], rtol=1e-14)
    w = _run("adafactor", W34, G1, 1, lr=0.1, d=0.5)
    np.testing.assert_allclose(w, [3 - 0.05 * RMS34, 4 + 0.05 * RMS34], rtol=1e-14)


def test_adafactor_factors_a_matrix_second_moment() -> None:
    # rows mean(g²) = [2.5, 12.5], cols [5, 10]: v = r⊗c/mean(r) = [[5/3, 10/3], [25/3, 50/3]], u = g/√v;
    # w = 0 so α = eps2·ρ = 1e-4.
    g = np.array([[1.0, 2.0], [3.0, 4.0]])
    full = rules.canonical("adafactor", {"lr": 0.1})
    w = rules.run("adafactor", np.zeros((2, 2)), g, NO_DECAY, full, 1)
    np.testing.assert_allclose(w, -1e-4 * g * np.sqrt([[0.6, 0.3], [0.12, 0.06]]), rtol=1e-14)


def test_adafactor_decay_before_or_after_the_relative_step() -> None:
    # torch: α from the undecayed w, then w·(1 − 0.1·0.5); Keras: w·0.95 first, α from it.
    torch_like = _run("adafactor", W34, G1, 1, Decay(decoupled=0.5), lr=0.1)
    np.testing.assert_allclose(torch_like, [2.85 - 0.1 * RMS34, 3.8 + 0.1 * RMS34], rtol=1e-14)
    full = rules.canonical("adafactor", {"lr": 0.1}, {"rms_before_decay": False})
    keras_like = rules.run("adafactor", np.array(W34), np.array(G1), Decay(decoupled=0.5), full, 1)
    np.testing.assert_allclose(keras_like, [2.85 - 0.095 * RMS34, 3.8 + 0.095 * RMS34], rtol=1e-14)


# --- muon -----------------------------------------------------------------------------------------------


def test_muon_orthogonalizes_the_momentum() -> None:
    # g = diag(3, 4) on a 2×2 weight, momentum 0, no Nesterov: X = g/5, every Newton–Schulz step maps each singular
    # value σ to aσ + bσ³ + cσ⁵, starting from 0.6 and 0.8; lr' = 0.1·√max(1, 2/2).
    def quintic(x: float) -> float:
        for _ in range(5):
            x = 3.4445 * x - 4.775 * x**3 + 2.0315 * x**5
        return x

    w = _run("muon", [[0.0, 0.0], [0.0, 0.0]], [[3.0, 0.0], [0.0, 4.0]], 1, lr=0.1, momentum=0.0, nesterov=False)
    np.testing.assert_allclose(w, [[-0.1 * quintic(0.6), 0.0], [0.0, -0.1 * quintic(0.8)]], rtol=1e-13)


def test_muon_transposes_tall_matrices_and_adjusts_lr_to_the_shape() -> None:
    # A 3×1 column [3, 4, 0]: one singular value 1 after normalizing; "original" scales lr by √(3/1).
    g = [[3.0], [4.0], [0.0]]
    w = _run("muon", [[0.0], [0.0], [0.0]], g, 1, lr=0.1, momentum=0.0, nesterov=False)
    x = 1.0
    for _ in range(5):
        x = 3.4445 * x - 4.775 * x**3 + 2.0315 * x**5
    np.testing.assert_allclose(w, -0.1 * np.sqrt(3) * x * np.array(g) / 5, rtol=1e-13)
    w = _run("muon", [[0.0], [0.0], [0.0]], g, 1, lr=0.1, momentum=0.0, nesterov=False, adjust_lr_fn="match_rms_adamw")
    np.testing.assert_allclose(w, -0.1 * 0.2 * np.sqrt(3) * x * np.array(g) / 5, rtol=1e-13)


def test_muon_momentum_forms_give_the_same_direction() -> None:
    full = rules.canonical("muon", {"lr": 0.1})
    keras = rules.canonical("muon", {"lr": 0.1}, {"momentum_form": "sum"})
    w0, g = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[0.5, -1.0], [2.0, 1.0]])
    np.testing.assert_allclose(rules.run("muon", w0, g, NO_DECAY, full, 3), rules.run("muon", w0, g, NO_DECAY, keras, 3),
                               rtol=1e-12)


# --- ftrl -----------------------------------------------------------------------------------------------


def _ftrl(reg_form: str, w: float, g: float, decay: Decay) -> float:
    full = rules.canonical("ftrl", {"lr": 0.1}, {"reg_form": reg_form})
    return float(rules.run("ftrl", np.array([w]), np.array([g]), decay, full, 1)[0])


def test_ftrl_closed_form_step() -> None:
    # Keras' docstring: n = 0.1 + 1², σ = (√1.1 − √0.1)/lr, z = g − σ·w, w = −z/(√1.1/lr).
    z = 1.0 - (np.sqrt(1.1) - np.sqrt(0.1)) / 0.1
    assert _ftrl("gradient", 1.0, 1.0, NO_DECAY) == pytest.approx(-z / (np.sqrt(1.1) / 0.1), rel=1e-14)


def test_ftrl_coupled_l2_goes_into_the_accumulator_and_shrinkage_does_not() -> None:
    l2 = Decay(Regularizer(l2=0.5))  # g = 1 + 0.5·1 = 1.5 in z either way
    coupled_z = 1.5 - (np.sqrt(0.1 + 2.25) - np.sqrt(0.1)) / 0.1
    assert _ftrl("gradient", 1.0, 1.0, l2) == pytest.approx(-coupled_z / (np.sqrt(2.35) / 0.1), rel=1e-14)
    shrink_z = 1.5 - (np.sqrt(1.1) - np.sqrt(0.1)) / 0.1
    assert _ftrl("shrinkage", 1.0, 1.0, l2) == pytest.approx(-shrink_z / (np.sqrt(1.1) / 0.1), rel=1e-14)


def test_ftrl_proximal_l1_gives_exact_zeros_and_l2_enters_the_denominator() -> None:
    # From w = 0 with g = 0.1: z = 0.1 ≤ λ₁ = 0.3, so w = 0 exactly; the coupled L1 (sign(0) = 0) moves it.
    assert _ftrl("proximal", 0.0, 0.1, Decay(Regularizer(l1=0.3))) == 0.0
    assert _ftrl("gradient", 0.0, 0.1, Decay(Regularizer(l1=0.3))) == pytest.approx(-0.1 / (np.sqrt(0.11) / 0.1))
    # l2 = 0.5 is λ₂ = 0.25: the denominator gains 2λ₂, the gradient nothing.
    z = 1.0 - (np.sqrt(1.1) - np.sqrt(0.1)) / 0.1
    got = _ftrl("proximal", 1.0, 1.0, Decay(Regularizer(l2=0.5)))
    assert got == pytest.approx(-z / (np.sqrt(1.1) / 0.1 + 0.5), rel=1e-14)


# --- every case through the real frameworks ---------------------------------------------------------------


def _rows(*cases: str) -> tuple[list[dict], int]:
    """The rows of one run of ``cases`` and its failure count."""
    result = run_cases([CASES / c for c in cases])
    return result.rows, result.failures


def _statuses(rows: list[dict], api: str) -> set[str]:
    return {r["status"] for r in rows if r["api"] == api}


def test_rprop_case_matches_in_torch_and_paddle() -> None:
    rows, failures = _rows("rprop.yaml")
    assert failures == 0
    for api in ("torch.optim.Rprop", "paddle.optimizer.Rprop", "paddle.ParamAttr.L2Decay", "paddle.ParamAttr.L1Decay"):
        assert _statuses(rows, api) == {"match"}, api
    assert {r.get("variant") for r in rows if r["api"] == "torch.optim.Rprop"} == {None, "foreach", "maximize"}


def test_paddle_rprop_turns_an_infinite_weight_into_nan() -> None:
    rows, failures = _rows("rprop_infinite.yaml")
    assert failures == 0
    paddle = [r for r in rows if r["api"] == "paddle.optimizer.Rprop"]
    assert paddle and all(r["status"] == "mismatch" and r["known"] for r in paddle)
    assert all(r["raw"][0] == "NaN" for r in paddle)
    assert _statuses(rows, "torch.optim.Rprop") == {"match"}


def test_asgd_runs_in_torch_and_paddle_only_without_lambd() -> None:
    rows, failures = _rows("asgd.yaml", "asgd_lambd_zero.yaml")
    assert failures == 0
    lambd = [r for r in rows if r["case"] == "optimizers-asgd"]
    assert _statuses(lambd, "torch.optim.ASGD") == {"match"}
    skipped = [r for r in lambd if r["api"] == "paddle.optimizer.ASGD"]
    assert skipped and all(r["status"] == "skipped" and "lambd" in r["detail"] for r in skipped)
    rows = [r for r in rows if r["case"] == "optimizers-asgd-lambd-zero"]
    for api in ("torch.optim.ASGD", "paddle.optimizer.ASGD", "paddle.regularizer.L1Decay", "paddle.ParamAttr.L2Decay"):
        assert _statuses(rows, api) == {"match"}, api
    assert _statuses(rows, "paddle.optimizer.ASGD.batch_num") == {"divergent"}
    crash = [r for r in rows if r["api"] == "paddle.param_group.int_weight_decay"]
    assert crash and all(r["status"] == "error" and r["known"] and "'int' object is not callable" in r["detail"]
                         for r in crash)


def test_lion_decay_is_a_shrink_and_l2_goes_through_the_sign() -> None:
    rows, failures = _rows("lion.yaml")
    assert failures == 0
    assert _statuses(rows, "keras.optimizers.Lion") == {"divergent"}
    assert _statuses(rows, "keras.regularizers.L2") == _statuses(rows, "keras.regularizers.L1") == {"match"}


def test_keras_weight_decay_zero_still_turns_an_infinite_weight_into_nan() -> None:
    rows, failures = _rows("lion_infinite.yaml")
    assert failures == 0
    for api in ("keras.optimizers.Lion", "keras.regularizers.L2"):
        assert all(r["status"] == "mismatch" and r["known"] and r["raw"][0] == "NaN" for r in rows if r["api"] == api)
    assert _statuses(rows, "keras.regularizers.L1L2") == {"match"}


def test_lamb_decay_inside_the_ratio_in_paddle_and_before_it_in_keras() -> None:
    rows, failures = _rows("lamb.yaml", "lamb_paddle_default.yaml")
    assert failures == 0
    lamb = [r for r in rows if r["case"] == "optimizers-lamb" and r["dtype"] == "float32"]
    decayed = [r for r in lamb if r["native"] in ({"lamb_weight_decay": 0.5}, {"weight_decay": 0.5})]
    assert {r["status"] for r in decayed} == {"divergent"}
    assert any("inside the trust ratio" in r["detail"] for r in decayed if r["api"] == "paddle.optimizer.Lamb")
    assert any("before update_step" in r["detail"] for r in decayed if r["api"] == "keras.optimizers.Lamb")
    assert _statuses(lamb, "paddle.ParamAttr.L2Decay") == _statuses(lamb, "keras.regularizers.L2") == {"match"}
    default = [r for r in rows if r["case"] == "optimizers-lamb-paddle-default"]
    assert {r["status"] for r in default if r["framework"] == "tensorflow"} == {"skipped"}


def test_lbfgs_matches_and_paddle_ignores_its_weight_decay() -> None:
    rows, failures = _rows("lbfgs.yaml")
    assert failures == 0
    assert _statuses(rows, "torch.optim.LBFGS") == _statuses(rows, "torch.optim.LBFGS.penalty") == {"match"}
    paddle = {(r["native"]["weight_decay"], r["dtype"], r["tensor"]): r for r in rows
              if r["api"] == "paddle.optimizer.LBFGS"}
    for (wd, dtype, tensor), row in paddle.items():
        if wd:  # the same weights as without decay: weight_decay ignored
            assert row["status"] == "mismatch" and row["known"]
            assert row["raw"] == paddle[(0.0, dtype, tensor)]["raw"]
        else:
            assert row["status"] == "match"


def test_adafactor_decay_places_differ_between_torch_and_keras() -> None:
    rows, failures = _rows("adafactor.yaml")
    assert failures == 0
    decayed = [r for r in rows if r["native"].get("weight_decay") == 0.5]
    assert {r["framework"] for r in decayed} == {"torch", "tensorflow"}
    assert {r["status"] for r in decayed} == {"divergent"}
    assert _statuses(rows, "keras.regularizers.L2") == {"match"}
    undecayed = [r for r in rows if r["native"].get("weight_decay") == 0.0]
    assert {r["status"] for r in undecayed} == {"match"}


def test_muon_keras_matches_and_torch_decays_decoupled() -> None:
    rows, failures = _rows("muon.yaml")
    assert failures == 0
    f32 = [r for r in rows if r["dtype"] == "float32"]
    assert {r["status"] for r in f32 if r["api"] == "keras.optimizers.Muon"} == {"match", "divergent"}
    assert _statuses(f32, "keras.regularizers.L2") == {"match"}
    # torch's bfloat16 Newton–Schulz is the same in both runs (the gradients do not depend on w): the difference
    # between the decayed and undecayed weights is the decoupled decay alone.
    torch = {(r["native"]["weight_decay"], r["tensor"]): r for r in rows
             if r["api"] == "torch.optim.Muon" and r["dtype"] == "float64" and r["variant"] is None}
    for tensor in ("w", "k"):
        decayed, plain = torch[(0.5, tensor)], torch[(0.0, tensor)]
        measured = np.subtract(decayed["raw"], plain["raw"])
        expected = np.subtract(decayed["decoupled_reference"], plain["reference"])
        np.testing.assert_allclose(measured, expected, rtol=1e-2, atol=1e-4)
        coupled = np.subtract(decayed["reference"], plain["reference"])
        assert np.abs(measured - coupled).max() > 0.05  # and not the coupled L2 through the orthogonalization


def test_ftrl_regularization_arguments_are_conventions_of_their_own() -> None:
    rows, failures = _rows("ftrl.yaml")
    assert failures == 0
    decayed = [r for r in rows if r["regularizer"] != {"l1": 0.0, "l2": 0.0}]
    for api in ("keras.optimizers.Ftrl.proximal", "keras.optimizers.Ftrl.shrinkage", "keras.optimizers.Ftrl"):
        assert _statuses(decayed, api) == {"divergent"}, api
    for api in ("keras.regularizers.L1", "keras.regularizers.L2", "keras.regularizers.L1L2"):
        assert _statuses(rows, api) == {"match"}, api


def test_lbfgs_direction_without_held_scalars_is_the_held_recursion_in_float64() -> None:
    # The two-loop recursion's path without held scalars (no _dot/_held calls per product) against the general
    # path with every scalar held in float64 (a no-op rounding): the same direction, bit for bit, over a history.
    from regcompare.rules import lbfgs

    rng = np.random.default_rng(3)
    for pairs in (0, 1, 5, 12):
        st = {"dirs": [rng.normal(size=7) for _ in range(pairs)], "stps": [rng.normal(size=7) for _ in range(pairs)],
              "ro": [float(rng.uniform(0.1, 3.0)) for _ in range(pairs)], "H_diag": float(rng.uniform(0.5, 2.0))}
        g = rng.normal(size=7)
        plain = lbfgs._direction(g, st, {})
        held = lbfgs._direction(g, st, {lbfgs.SCALAR_PRECISION: "float64"})
        assert plain.tobytes() == held.tobytes(), pairs
        assert pairs == 0 or not np.array_equal(plain, -g * st["H_diag"])  # the pairs were used
