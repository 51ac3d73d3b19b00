"""optax's zoo aliases, schedules, translate and program cases, each against numbers computed here by hand (numpy,
step by step, not regcompare.rules) or a measured fact, through real optax calls in a worker subprocess."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from regcompare import rules, translate
from regcompare.adapters.base import Task
from regcompare.conventions import Decay
from regcompare.workers import Outcome, evaluate
from tests.conftest import run_cli

if importlib.util.find_spec("jax") is None or importlib.util.find_spec("optax") is None:
    pytest.skip("needs jax and optax installed", allow_module_level=True)

W = np.array([1.0, -2.0])
G = np.array([0.5, 0.25])


def _update(api: str, optimizer: str, args: dict, wd: float, steps: int, grads: np.ndarray = G,
            schedule: dict | None = None, w: np.ndarray = W) -> Task:
    options = {"optimizer": optimizer, "args": args, "steps": steps, "grads": {"w": grads}}
    if schedule is not None:
        options["schedule"] = schedule
    return Task(api, "update", "float64", {"weight_decay": wd}, {"w": w}, options)


ADAM = {"learning_rate": 0.1, "b1": 0.9, "b2": 0.5, "eps": 1e-8}
TASKS: dict[str, Task] = {
    # optax.rprop on a constant gradient: 0, then lr, then lr·1.2 (measured; torch moves lr, 1.2·lr, 1.44·lr)
    "rprop": _update("optax.add_decayed_weights", "optax.rprop", {"learning_rate": 0.1, "eta_minus": 0.5,
                     "eta_plus": 1.2, "min_step_size": 1e-6, "max_step_size": 50.0}, 0.0, 3, np.array([1.0, -1.0])),
    "rprop_one": _update("optax.add_decayed_weights", "optax.rprop", {"learning_rate": 0.1, "eta_minus": 0.5,
                         "eta_plus": 1.2, "min_step_size": 1e-6, "max_step_size": 50.0}, 0.0, 1, np.array([1.0, -1.0])),
    "amsgrad": _update("optax.add_decayed_weights", "optax.amsgrad", ADAM, 0.0, 2, np.array([2.0, 2.0])),
    "nadam": _update("optax.add_decayed_weights", "optax.nadam", ADAM, 0.0, 2),
    "radam": _update("optax.add_decayed_weights", "optax.radam", ADAM | {"b2": 0.999}, 0.0, 7),
    "lion_own_default_off": _update("optax.add_decayed_weights", "optax.lion",
                                    {"learning_rate": 0.1, "b1": 0.9, "b2": 0.99}, 0.0, 1),
    "lion": _update("optax.lion", "optax.lion", {"learning_rate": 0.1, "b1": 0.9, "b2": 0.99}, 0.5, 1),
    "adadelta_coupled": _update("optax.adadelta", "optax.adadelta", {"learning_rate": 1.0, "rho": 0.9, "eps": 1e-6},
                                0.5, 1),
    "rmsprop_after": _update("optax.add_decayed_weights.after", "optax.rmsprop",
                             {"learning_rate": 0.1, "decay": 0.9, "eps": 1e-8, "momentum": 0.0, "centered": False},
                             0.5, 1),
    # the schedules: AdamW, decay 0.1, lr 1.0 then 0.5 on zero gradients → 0.9·0.95 = 0.855 (torch, Keras, paddle)
    "adamw_step": _update("optax.adamw", "optax.adamw", ADAM | {"learning_rate": 1.0}, 0.1, 2, np.zeros(1),
                          {"name": "step", "step_size": 1, "gamma": 0.5}, np.ones(1)),
    "sgd_piecewise": _update("optax.add_decayed_weights", "optax.sgd",
                             {"learning_rate": 0.1, "momentum": 0.0, "nesterov": False}, 0.0, 3, np.ones(1),
                             {"name": "piecewise", "boundaries": [1, 2], "values": [0.1, 0.01, 0.001]}, np.zeros(1)),
    "wd_schedule": _update("optax.adamw", "optax.adamw", ADAM | {"learning_rate": 0.1}, 0.1, 2, np.zeros(1),
                           {"name": "step", "step_size": 1, "gamma": 0.5, "weight_decay": True}, np.ones(1)),
}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    names = list(TASKS)
    return dict(zip(names, evaluate("jax", [TASKS[n] for n in names]), strict=True))


def _w(outcomes: dict[str, Outcome], name: str) -> np.ndarray:
    out = outcomes[name]
    assert out.status == "ok", out.detail
    return np.asarray(out.value["w"], np.float64)


def test_optax_rprop_lags_one_step(outcomes) -> None:
    """0 at the first step, then the previous step's sign·η: 0, 0.1, 0.12 → w − 0.22 (torch: w − 0.364)."""
    np.testing.assert_allclose(_w(outcomes, "rprop_one"), W, rtol=0, atol=0)
    np.testing.assert_allclose(_w(outcomes, "rprop"), W - np.array([0.22, -0.22]), rtol=1e-12)
    lagged = rules.run("rprop", W, np.array([1.0, -1.0]), Decay(), rules.canonical("rprop", {"lr": 0.1},
                                                                                      {"lagged": True}), 3)
    np.testing.assert_allclose(lagged, W - np.array([0.22, -0.22]), rtol=1e-12)


def test_optax_amsgrad_keeps_the_maximum_of_v_hat(outcomes) -> None:
    """Constant g = 2, β₂ = 0.5: v̂ = 4 at both steps, so max v̂ = 4 and each step is lr·m̂/(2 + ε) = lr; torch's
    max(v)/(1−β₂ᵗ) is the same here: the rule option is checked on a falling gradient below."""
    np.testing.assert_allclose(_w(outcomes, "amsgrad"), W - 2 * 0.1 * (2 / (2 + 1e-8)), rtol=1e-12)
    s = rules.canonical("adam", {"lr": 0.1, "beta1": 0.0, "beta2": 0.5, "eps": 0.0, "amsgrad": True},
                        {"amsgrad_max": "v_hat"})
    # g = 2 then 1: v = 2, 1.5; v̂ = 4, 2 → max 4: steps lr·2/2 and lr·1/2 (torch: max v = 2, /0.75 → lr·1/√(8/3))
    w = W[:1]
    state: dict = {}
    for t, g in ((1, 2.0), (2, 1.0)):
        w = rules.advance(rules.module("adam"), w, np.array([g]), Decay(), s, t, 0.1, state, False)
    np.testing.assert_allclose(w, W[:1] - 0.1 - 0.05, rtol=1e-12)


def test_optax_nadam_is_torch_nadam_without_a_momentum_schedule(outcomes) -> None:
    """optax's nadam: m̂ = β₁m/(1−β₁ᵗ⁺¹) + (1−β₁)g/(1−β₁ᵗ), /(√v̂ + ε), written out for two steps."""
    b1, b2, eps, lr = 0.9, 0.5, 1e-8, 0.1
    w, m, v = W.copy(), np.zeros(2), np.zeros(2)
    for t in (1, 2):
        m, v = b1 * m + (1 - b1) * G, b2 * v + (1 - b2) * G * G
        m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * G / (1 - b1**t)
        w = w - lr * m_hat / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(_w(outcomes, "nadam"), w, rtol=1e-12)
    rule = rules.run("nadam", W, G, Decay(), rules.canonical("nadam", {"lr": lr, "beta2": b2, "eps": eps},
                                                             {"momentum_decay": math.inf}), 2)
    np.testing.assert_allclose(rule, w, rtol=1e-12)


def test_optax_radam_adds_eps_to_the_corrected_root(outcomes) -> None:
    """Seven steps: five of momentum SGD (ρ₅ ≈ 4.99), then rectified (optax: ρₜ ≥ 5), ε on √v̂ = √(v/(1−β₂ᵗ))."""
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.1
    w, m, v = W.copy(), np.zeros(2), np.zeros(2)
    rho_inf = 2 / (1 - b2) - 1
    for t in range(1, 8):
        m, v = b1 * m + (1 - b1) * G, b2 * v + (1 - b2) * G * G
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho >= 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            w = w - lr * r * m_hat / (np.sqrt(v_hat) + eps)
        else:
            w = w - lr * m_hat
    np.testing.assert_allclose(_w(outcomes, "radam"), w, rtol=1e-12)


def test_the_chain_turns_lions_own_default_decay_off(outcomes) -> None:
    """optax.lion's weight_decay defaults to 1e-3: in the coupled chain it is passed 0.0, so with no decay one step
    is w − lr·sign((1−β₁)g) exactly; optax.lion(weight_decay=0.5) is w − lr·(sign + 0.5·w)."""
    np.testing.assert_allclose(_w(outcomes, "lion_own_default_off"), W - 0.1 * np.sign(G), rtol=1e-15)
    np.testing.assert_allclose(_w(outcomes, "lion"), W - 0.1 * (np.sign(G) + 0.5 * W), rtol=1e-15)


def test_optax_adadelta_weight_decay_is_coupled(outcomes) -> None:
    """g' = g + 0.5·w, then √(0 + ε)/√(0.1·g'² + ε)·g' with lr 1."""
    g = G + 0.5 * W
    np.testing.assert_allclose(_w(outcomes, "adadelta_coupled"), W - math.sqrt(1e-6) / np.sqrt(0.1 * g * g + 1e-6) * g,
                               rtol=1e-12)


def test_the_decoupled_rmsprop_chain_puts_eps_inside_the_root(outcomes) -> None:
    np.testing.assert_allclose(_w(outcomes, "rmsprop_after"),
                               W - 0.1 * (G / np.sqrt(0.1 * G * G + 1e-8) + 0.5 * W), rtol=1e-12)


def test_optax_schedules_step_from_count_zero(outcomes) -> None:
    np.testing.assert_allclose(_w(outcomes, "adamw_step"), [0.855], rtol=1e-12)
    # piecewise: lr 0.1 at step 0, 0.01 at step 1 (count >= 1), 0.001 at step 2: 0 − 0.111
    np.testing.assert_allclose(_w(outcomes, "sgd_piecewise"), [-0.111], rtol=1e-12)
    # a weight-decay schedule wd(k) = 0.1·lr(k)/lr₀, scaled by lr(k): (1 − 0.1·0.1)(1 − 0.05·0.05) on zero gradients,
    # within float32 rounding only: optax's exponential_decay divides the int32 count and computes in float32 even
    # with x64 (measured: exponential_decay(0.1, 1, 0.5, staircase=True)(1) = 0.05000000074505806)
    exact = (1 - 0.1 * 0.1) * (1 - 0.05 * 0.05)
    assert _w(outcomes, "wd_schedule")[0] == pytest.approx(exact, rel=1e-7)
    assert _w(outcomes, "wd_schedule")[0] != pytest.approx(exact, rel=1e-12)


# --- translate ------------------------------------------------------------------------------------------------------


def test_split_call_reads_a_whole_call() -> None:
    assert translate.split_call("torch.optim.Adam(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.01)") == (
        "torch.optim.Adam", ["lr=1e-3", "betas=(0.9,0.99)", "weight_decay=0.01"])
    assert translate.split_call("torch.optim.SGD") == ("torch.optim.SGD", [])
    with pytest.raises(translate.TranslateError):
        translate.split_call("torch.optim.SGD(lr=0.1")


def test_translate_to_jax_gives_optax_code() -> None:
    done = run_cli("translate", "torch.optim.AdamW(lr=1e-3, weight_decay=0.01)", "--to", "jax")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  = optax.adamw(weight_decay=0.01, learning_rate=0.001, b1=0.9, b2=0.999, eps=1e-08)" in lines
    assert ("  = optax.chain(optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-08), optax.add_decayed_weights("
            "weight_decay=0.01), optax.scale_by_learning_rate(0.001))") in lines
    assert not any(line.startswith(("torch:", "paddle:", "tensorflow:")) for line in lines)
    coupled = run_cli("translate", "torch.optim.Adam(lr=1e-3, weight_decay=0.01)", "--to", "jax,keras-jax")
    assert ("  = optax.chain(optax.add_decayed_weights(weight_decay=0.01), optax.adam(learning_rate=0.001, b1=0.9, "
            "b2=0.999, eps=1e-08))") in coupled.stdout.splitlines()
    assert "keras-jax:" in coupled.stdout and "keras.regularizers.L2@jax(l2=0.005)" in coupled.stdout
    bad = run_cli("translate", "torch.optim.Adam", "weight_decay=0.1", "--to", "mxnet")
    assert bad.returncode != 0 and "--to mxnet" in bad.stderr


#: Sources translated to and from optax, every translation then run in its real framework.
SOURCES = [
    ("torch.optim.Adam", ["weight_decay=0.1", "lr=0.05", "betas=0.9,0.99", "eps=1e-8"], None),
    ("optax.adamw", ["weight_decay=0.1", "learning_rate=0.05", "b1=0.9", "b2=0.99", "eps=1e-8"], None),
    ("optax.add_decayed_weights", ["weight_decay=0.1", "learning_rate=0.05", "decay=0.9", "eps=1e-8",
                                   "momentum=0.5"], "rmsprop"),
    ("optax.lion", ["weight_decay=0.1", "learning_rate=0.05", "b1=0.9", "b2=0.99"], None),
]


@pytest.fixture(scope="module")
def round_trips() -> list[tuple[str, Outcome, list[tuple[translate.Translation, Outcome]]]]:
    from regcompare import adapters

    mat = np.array([[1.0, -2.0], [-3.0, 4.0]])
    grads = {"w": np.array([[1.0, 0.5], [-0.25, 2.0]])}
    plans = []
    for api, pairs, family in SOURCES:
        src = translate.source(api, translate.parse_args(pairs), family)
        options = {"optimizer": src.call.api, "args": src.call.native(src.settings), "grads": grads, "steps": 3}
        own = Task(api, "update", "float64", src.conv.to_native(src.reg), {"w": mat}, options)
        targets = [(t, Task(t.conv.api, "update", "float64", t.native, {"w": mat}, t.options(grads, 3)))
                   for t in translate.translations(src)]
        plans.append((api, own, targets))
    tasks = [own for _, own, _ in plans] + [task for _, _, targets in plans for _, task in targets]
    table = adapters.conventions()
    outcomes: dict[int, Outcome] = {}
    for fw in sorted({table[t.api].framework for t in tasks}):
        mine = [t for t in tasks if table[t.api].framework == fw]
        outcomes |= {id(t): o for t, o in zip(mine, evaluate(fw, mine), strict=True)}
    return [(api, outcomes[id(own)], [(t, outcomes[id(task)]) for t, task in targets]) for api, own, targets in plans]


def test_translations_to_and_from_optax_reproduce_the_source(round_trips) -> None:
    seen = set()
    for api, own, targets in round_trips:
        assert own.status == "ok", (api, own.detail)
        for t, outcome in targets:
            if outcome.status == "skipped":
                continue  # a framework not installed here
            assert outcome.status == "ok", (t.text(), outcome.detail)
            close = np.allclose(own.value["w"], outcome.value["w"], rtol=2e-5, atol=1e-6)
            if t.equivalent:
                # Keras' float64 Adam corrections use float32 betas (~7e-6 relative per step)
                assert close or t.framework in ("tensorflow", "keras-torch", "keras-jax"), (api, t.text())
                seen.add((api, t.conv.api))
            elif not t.nearest:
                assert not close, (api, t.text())
    assert ("torch.optim.Adam", "optax.add_decayed_weights") in seen
    assert ("optax.adamw", "torch.optim.AdamW") in seen


# --- program cases --------------------------------------------------------------------------------------------------


def _program(source: str) -> Task:
    options = {"source": source, "side": "jax", "file": "test", "grads": {"w": G}, "steps": 2}
    return Task("program", "program", "float64", {}, {"w": W}, options)


def test_a_jax_program_trains_its_tx_and_refuses_what_it_does_not_run() -> None:
    good, bad = evaluate("jax", [
        _program("tx = optax.adamw(learning_rate=0.1, weight_decay=0.5)"),
        _program("tx = optax.sgd(0.1)\nscheduler = None"),
    ])
    assert good.status == "ok", good.detail
    # step 1: m̂/(√v̂ + ε) = sign(g) (up to ε); w ← w − 0.1·(sign(g) + 0.5·w), twice
    w = W.copy()
    for _ in range(2):
        w = w - 0.1 * (np.sign(G) * (np.abs(G) / (np.abs(G) + 1e-8)) + 0.5 * w)
    np.testing.assert_allclose(np.asarray(good.value["w"])[-1], w, rtol=1e-9)
    assert bad.status == "error" and "scheduler" in bad.detail

