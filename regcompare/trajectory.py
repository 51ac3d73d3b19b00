"""The ``trajectory`` quantity: d2l's weight-decay experiment, trained to the end in every framework.

Linear regression ``ŷ = X·w + b`` on ``y = X·w* + b* + ε``, minibatch SGD, the regularizer on ``w`` only. The
objective every framework minimises (``conventions.TRAJECTORY_OBJECTIVE``)::

    J(w, b) = mean over the minibatch of ½(x·w + b − y)²  +  λ/2·‖w‖²

Everything random is drawn here, once, with numpy: the data (``generate``), the minibatch order, and (through
the case's ``weights``) the initial ``w`` and ``b``. Workers receive them as arrays rounded to the task's dtype,
so every framework starts from the same numbers and visits the same minibatches; the float64 oracle runs on
the same rounded numbers. A run returns the per-epoch train and test loss (the mean of ½(ŷ − y)², without the
penalty) and the final ‖w‖.

This module holds no framework code: adapters import ``minibatches`` from it in their workers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from regcompare.dtypes import Tolerance, cast, tolerance_for

if TYPE_CHECKING:
    from regcompare.cases import Case
    from regcompare.schema import CaseSpec, TrajectorySpec

Semantics = Literal["coupled", "decoupled"]
Curves = dict[str, np.ndarray]
#: What a run returns, in this order when flattened for the comparison.
PARTS = ("train_loss", "test_loss", "w_norm")
WEIGHTS = ("w", "b")

#: Default tolerances for a whole run (the case's ``tolerance`` overrides them). A trajectory is 400 dependent
#: SGD steps, and the frameworks sum in different orders, so these are looser than one op's. Measured on the
#: d2l seed, every framework: float32 worst 5.3e-6 relative (rtol 5e-5: ~10x margin); but where λ = 0 drives
#: the train loss to 3e-6, evaluating ½(ŷ − y)² in float32 cancels (ŷ ~ 10, ŷ − y ~ 2e-3) and leaves an
#: absolute error of up to 2.5e-8 on the loss whatever the trajectory: atol 1e-7 (~4x). float64: worst 1.3e-12
#: relative (rtol 1e-10). float16/bfloat16 are guesses, not measured: no seed runs them.
TOLERANCE: dict[str, Tolerance] = {
    "float16": Tolerance(1e-1, 1e-3),
    "bfloat16": Tolerance(5e-1, 1e-2),
    "float32": Tolerance(5e-5, 1e-7),
    "float64": Tolerance(1e-10, 1e-15),
}


@dataclass(frozen=True)
class Data:
    """Everything a run needs besides λ: initial parameters, both sets, the minibatch order, batch and lr."""

    w: np.ndarray
    """(features, 1)"""
    b: np.ndarray
    """(1,)"""
    x_train: np.ndarray
    y_train: np.ndarray
    """(n_train, 1)"""
    x_test: np.ndarray
    y_test: np.ndarray
    order: np.ndarray
    """(epochs, n_train) int64: the train examples in the order each epoch visits them."""
    batch: int
    lr: float

    def cast(self, dtype: str) -> Data:
        """Every float array rounded to ``dtype`` (the order stays integer)."""
        arrays = {k: cast(getattr(self, k), dtype) for k in ("w", "b", "x_train", "y_train", "x_test", "y_test")}
        return replace(self, **arrays)

    def widened(self) -> Data:
        arrays = {k: np.asarray(getattr(self, k), np.float64) for k in ("w", "b", "x_train", "y_train", "x_test",
                                                                          "y_test")}
        return replace(self, **arrays)

    def options(self) -> dict[str, Any]:
        """``Task.options`` of a trajectory task (``w`` and ``b`` travel as the task's weights)."""
        return {"x_train": self.x_train, "y_train": self.y_train, "x_test": self.x_test, "y_test": self.y_test,
                "order": self.order, "batch": self.batch, "lr": self.lr}


def generate(spec: TrajectorySpec, features: int) -> tuple[np.ndarray, ...]:
    """d2l's ``synthetic_data`` twice (train, then test) and the minibatch order, from one seeded generator:
    ``X ~ N(0, 1)``, ``y = X·(true_w·1) + true_b + N(0, noise)``; with ``shuffle`` one permutation per epoch."""
    rng = np.random.default_rng(spec.seed)
    true_w = np.full((features, 1), spec.true_w)

    def synthetic(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(0.0, 1.0, (n, features))
        return x, x @ true_w + spec.true_b + rng.normal(0.0, spec.noise, (n, 1))

    x_train, y_train = synthetic(spec.train)
    x_test, y_test = synthetic(spec.test)
    if spec.shuffle:
        order = np.stack([rng.permutation(spec.train) for _ in range(spec.epochs)])
    else:
        order = np.tile(np.arange(spec.train), (spec.epochs, 1))
    return x_train, y_train, x_test, y_test, order.astype(np.int64)


def data_of(case: Case, dtype: str) -> Data:
    """The case's run inputs rounded to ``dtype``: what the frameworks receive."""
    spec = case.spec.trajectory
    assert spec is not None, "trajectory items are planned for cases with a `trajectory` block"
    w, b = case.weights["w"], case.weights["b"]
    x_train, y_train, x_test, y_test, order = generate(spec, w.shape[0])
    return Data(w, b, x_train, y_train, x_test, y_test, order, spec.batch, spec.lr).cast(dtype)


def minibatches(order: np.ndarray, batch: int) -> list[np.ndarray]:
    """One epoch's minibatches (index arrays); the last is shorter when ``batch`` does not divide n_train."""
    return [order[i:i + batch] for i in range(0, len(order), batch)]


# --- the oracle ------------------------------------------------------------------------------------------


def _loss(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    r = x @ w + b - y
    return float(np.mean(r * r) / 2)


def oracle(data: Data, lam: float, semantics: Semantics = "coupled") -> Curves:
    """The run in float64. ``coupled``: w ← w − lr·(∂loss/∂w + λ·w) (the penalty's gradient, as torch/paddle
    weight_decay and every penalty do). ``decoupled``: w ← w − lr·λ·w, then w ← w − lr·∂loss/∂w with the
    gradient taken before the decay (Keras ``weight_decay``); with plain SGD the two agree exactly."""
    data = data.widened()
    w, b = data.w.copy(), data.b.copy()
    train, test = [], []
    for epoch in data.order:
        for index in minibatches(epoch, data.batch):
            x, y = data.x_train[index], data.y_train[index]
            r = x @ w + b - y
            grad_w, grad_b = x.T @ r / len(index), np.mean(r, axis=0)
            if semantics == "decoupled":
                w = w - data.lr * lam * w
            else:
                grad_w = grad_w + lam * w
            w, b = w - data.lr * grad_w, b - data.lr * grad_b
        train.append(_loss(w, b, data.x_train, data.y_train))
        test.append(_loss(w, b, data.x_test, data.y_test))
    return {"train_loss": np.array(train), "test_loss": np.array(test), "w_norm": np.array(np.sqrt(np.sum(w * w)))}


# --- judging helpers ------------------------------------------------------------------------------------


def flatten(curves: Curves) -> np.ndarray:
    """train losses, test losses, final ‖w‖ as one vector: one comparison covers the whole run."""
    return np.concatenate([np.ravel(np.asarray(curves[p], np.float64)) for p in PARTS])


def part_at(index: int, epochs: int) -> str:
    """A flat index in words: ``test loss, epoch 7`` (epochs count from 1)."""
    if index < 2 * epochs:
        return f"{'train' if index < epochs else 'test'} loss, epoch {index % epochs + 1}"
    return "final ‖w‖"


def deviations(raw: Curves, ref: Curves) -> dict[str, float]:
    """The worst relative deviation of each part from the reference."""
    out = {}
    for part in PARTS:
        a, r = np.asarray(raw[part], np.float64), np.asarray(ref[part], np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(a == r, 0.0, np.abs(a - r) / np.abs(r))
        out[part] = float(np.nanmax(np.where(np.isnan(rel), np.inf, rel)))
    return out


def tolerance(case: Case, dtype: str) -> tuple[Tolerance, str]:
    """The run's tolerance: this module's default for the dtype, or the case's ``tolerance`` for it."""
    override = case.spec.tolerance.get(dtype)  # type: ignore[call-overload]
    return tolerance_for(dtype, TOLERANCE[dtype], override, "trajectory default")


# --- load-time checks -----------------------------------------------------------------------------------


def problems(spec: CaseSpec, weights: dict[str, np.ndarray]) -> list[tuple[tuple[str | int, ...], str]]:
    """What a case needs for ``trajectory``, as (path, message) for ``cases.load_case``."""
    wanted = "trajectory" in spec.quantities
    if not wanted:
        return [] if spec.trajectory is None else [(("trajectory",), "`trajectory` settings need `trajectory` "
                                                                      "in `quantities`")]
    found: list[tuple[tuple[str | int, ...], str]] = []
    if spec.trajectory is None:
        found.append((("quantities", spec.quantities.index("trajectory")), "`trajectory` needs a `trajectory` "
                      "block (train, test, batch, epochs, lr, ...)"))
    if set(spec.weights) != set(WEIGHTS):
        found.append((("weights",), f"a trajectory trains `w` (shape [features, 1]) and `b` (shape [1]); "
                      f"got {', '.join(spec.weights) or 'none'}"))
    else:
        if weights.get("w") is not None and (weights["w"].ndim != 2 or weights["w"].shape[1] != 1):
            found.append((("weights", "w"), f"shape {list(weights['w'].shape)}; a trajectory needs [features, 1]"))
        if weights.get("b") is not None and weights["b"].shape != (1,):
            found.append((("weights", "b"), f"shape {list(weights['b'].shape)}; a trajectory needs [1]"))
    for i, reg in enumerate(spec.regularizers):
        if reg.l1 or reg.scope is not None or reg.param is not None:
            found.append((("regularizers", i), "a trajectory takes `l2` only (λ, on w, never on b)"))
    return found
