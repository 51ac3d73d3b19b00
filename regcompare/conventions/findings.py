"""Built-in findings: framework behaviours that hold for every case, as data with a selector, a reason and a source.

A case's ``known`` list is for findings of the user's own; what every user of a framework would otherwise
rediscover and re-declare lives here, once. A row a finding selects (with the finding's ``status``) carries the
finding's id in ``finding`` and its reason in ``known``, and does not fail the run.

Stale findings: the shipped suite (a folder holding ``SUITE_MARKER``, as ``cases/`` does) must show every built-in
finding at least once; when a run covers every case file of such a folder, a finding that selects no row of its
status there fails the run as stale, as a case's stale ``known`` entry does (``regcompare.engine``). A finding of
a framework that did not run (not installed, excluded with ``--frameworks``) is not judged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import numpy as np

#: A file in a case folder that marks it as the shipped suite, whose runs check the built-in findings for staleness.
SUITE_MARKER = ".regcompare-suite"


def _has_subnormal_float32(weights: dict[str, np.ndarray]) -> bool:
    """Whether some weight, rounded to float32, is subnormal there (nonzero and below float32's smallest normal)."""
    tiny = float(np.finfo(np.float32).tiny)
    for w in weights.values():
        a = np.abs(np.asarray(w, np.float64).astype(np.float32))
        if bool(((a > 0) & (a < tiny)).any()):
            return True
    return False


#: Conditions on a case's inputs that a finding may require, by name.
CONDITIONS: dict[str, Callable[[dict[str, np.ndarray]], bool]] = {
    "float32 subnormal weights": _has_subnormal_float32,
}


def _non_finite(row: dict[str, Any]) -> bool:
    """The row's worst element is inf or NaN where the exact value is finite (regcompare.compare's wording)."""
    detail = str(row.get("detail") or "")
    return detail.startswith(("overflow:", "NaN where"))


#: Conditions on a row's result that a finding may require, by name.
RESULTS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "non-finite result": _non_finite,
}


@dataclass(frozen=True)
class Finding:
    """One framework behaviour: the rows it selects (every given field must match; ``api`` and ``optimizer`` are
    shell-style patterns, ``dtypes`` and ``quantities`` sets), the status those rows have, and why."""

    id: str
    status: str
    reason: str
    source: str
    """The upstream issue, or the framework source file and function, that shows the behaviour."""
    framework: str | tuple[str, ...] | None = None
    """One framework or several (Keras on its three backends)."""
    api: str | tuple[str, ...] | None = None
    optimizer: str | tuple[str, ...] | None = None
    """A pattern (or several) over the row's ``optimizer`` call text (``keras.optimizers.Adam*``)."""
    quantities: tuple[str, ...] | None = None
    dtypes: tuple[str, ...] | None = None
    tensor: str | None = None
    inputs: str | None = None
    """A name in ``CONDITIONS`` the case's weights must satisfy."""
    result: str | None = None
    """A name in ``RESULTS`` the row's result must satisfy (a finding about NaN explains NaN, not any mismatch)."""

    def frameworks(self) -> tuple[str, ...]:
        return () if self.framework is None else _names(self.framework)

    def selects(self, row: dict[str, Any], weights: dict[str, np.ndarray] | None = None) -> bool:
        """Whether the row is one this finding is about (its status aside)."""
        if self.framework is not None and row.get("framework") not in self.frameworks():
            return False
        if self.api is not None and not _matches(row.get("api"), self.api):
            return False
        if self.optimizer is not None and not _matches(row.get("optimizer"), self.optimizer):
            return False
        if self.quantities is not None and row.get("quantity") not in self.quantities:
            return False
        if self.dtypes is not None and row.get("dtype") not in self.dtypes:
            return False
        if self.tensor is not None and row.get("tensor") != self.tensor:
            return False
        if self.result is not None and not RESULTS[self.result](row):
            return False
        return self.inputs is None or (weights is not None and CONDITIONS[self.inputs](weights))

    def explains(self, row: dict[str, Any], weights: dict[str, np.ndarray] | None = None) -> bool:
        return row.get("status") == self.status and self.selects(row, weights)


def _names(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


def _matches(text: Any, patterns: str | tuple[str, ...]) -> bool:
    return any(fnmatchcase(str(text), p) for p in _names(patterns))


_FLOAT64 = ("float64",)
#: Keras 3 on each backend regcompare runs: the same optimizer and regularizer code.
_KERAS = ("tensorflow", "keras-torch", "keras-jax")

FINDINGS: tuple[Finding, ...] = (
    Finding(
        "numpy-bfloat16-sum", "mismatch",
        "numpy sums ml_dtypes' bfloat16 in bfloat16 (np.sum keeps the input's dtype as the accumulator for this "
        "user dtype): a long sum stops growing once each term is below half an ULP of the total (3,018 squares: "
        "14% low); torch, TensorFlow and paddle accumulate bfloat16 in float32",
        "numpy/_core/src/umath/reduction.c (the accumulator is the input dtype unless dtype= is given); "
        "ml_dtypes registers bfloat16 add without a wider accumulator",
        framework="numpy", api="numpy.handwritten", quantities=("penalty",), dtypes=("bfloat16",),
    ),
    Finding(
        "tensorflow-float32-ftz", "mismatch",
        "TensorFlow's CPU kernels run with flush-to-zero and denormals-are-zero set: a float32 subnormal weight is "
        "read as 0, so sign(1e-40) = 0 in an L1 gradient and 1e-40·c = 0 in an L2 one",
        "tensorflow/core/platform/denormal.cc (ScopedFlushDenormal, set around every CPU op by the executor)",
        framework="tensorflow", quantities=("gradient",), dtypes=("float32",), inputs="float32 subnormal weights",
    ),
    Finding(
        "keras-adam-float32-betas", "mismatch",
        "Keras Adam computes the bias corrections 1−β₁ᵗ, 1−β₂ᵗ from betas cast to float32 (ops.cast of a Python "
        "float makes a float32 tensor first) while m and v use the exact 1−β: 1−β₂ᵗ loses ~1,000 ULP to "
        "cancellation, each step is ~6e-6 relative off, in float32 and float64 alike (checked: that formula "
        "reproduces Keras to 1e-7 in float32 and 1e-16 in float64)",
        "keras/src/optimizers/adam.py (Adam.update_step: beta_1_power = ops.power(ops.cast(self.beta_1, ...), "
        "local_step))",
        framework="tensorflow", optimizer="keras.optimizers.Adam*", quantities=("update",),
        dtypes=("float32", "float64"),
    ),
    Finding(
        "keras-low-precision-hyperparameters", "mismatch",
        "Keras optimizers compute in the variable's dtype and cast the learning rate, momentum, betas and ε to it: "
        "float16 and bfloat16 runs use them rounded to the dtype (lr 0.01 is 0.0100098 in bfloat16, β₂ = 0.999 is "
        "1.0, so Adam's 1 − β₂ᵗ is 0; ε = 1e-8 is 0 in float16, so an underflowed v gives NaN); torch keeps lr "
        "and the betas as Python floats",
        "keras/src/optimizers/sgd.py and adam.py (update_step: ops.cast(learning_rate, variable.dtype), "
        "ops.cast(self.beta_2, variable.dtype))",
        framework=_KERAS, api="keras.*", quantities=("update",), dtypes=("float16", "bfloat16"),
    ),
    Finding(
        "keras-float32-hyperparameters", "mismatch",
        "Keras keeps the learning rate in a float32 variable (BaseOptimizer: backend.Variable(learning_rate, "
        "dtype=backend.floatx())) and regularizer coefficients as float32 constants, even for float64 weights: "
        "lr 0.003 becomes 0.0030000000261 and l1 0.1 becomes 0.100000001, ~1e-8 relative off the exact update",
        "keras/src/optimizers/base_optimizer.py (BaseOptimizer.__init__, _build_learning_rate); "
        "keras/src/regularizers/regularizers.py (L1/L2.__call__: self.l2 * ops.sum(...))",
        framework=_KERAS, api="keras.*", dtypes=_FLOAT64,
    ),
    Finding(
        "torch-float32-scalar-state", "mismatch",
        "torch's ASGD and NAdam keep their scalar state (ASGD's eta and mu, NAdam's mu_product) as tensors of "
        "_get_scalar_dtype(), float32 unless torch's default dtype is float64: a float64 run's step sizes are "
        "float32-rounded, ~1e-8 relative off the exact update",
        "torch/optim/optimizer.py (_get_scalar_dtype); torch/optim/asgd.py, nadam.py (_init_group: "
        "torch.as_tensor(..., dtype=_get_scalar_dtype()))",
        framework="torch", optimizer=("torch.optim.ASGD*", "torch.optim.NAdam*"), quantities=("update",),
        dtypes=_FLOAT64,
    ),
    Finding(
        "paddle-float32-hyperparameters", "mismatch",
        "paddle's optimizer kernels (adadelta, adagrad, adamax, lamb, nadam, radam, rmsprop, asgd) take their "
        "hyper-parameters (ρ, ε, β₁, β₂, the decay coefficient) as float attributes: a float64 run uses them "
        "rounded to float32 (checked for RAdam: with float32-rounded betas the oracle reproduces paddle to 3e-15)",
        "paddle/phi/ops/yaml/ops.yaml (float attributes of adadelta_, adagrad_, adamax_, lamb_, nadam_, radam_, "
        "rmsprop_, asgd_)",
        framework="paddle", optimizer=tuple(f"paddle.optimizer.{name}*" for name in (
            "Adadelta", "Adagrad", "Adamax", "Lamb", "NAdam", "RAdam", "RMSProp", "ASGD")),
        quantities=("update",), dtypes=_FLOAT64,
    ),
    Finding(
        "paddle-momentum-float32-mu", "mismatch",
        "paddle's momentum kernel takes μ as a float attribute (float32): a float64 run uses μ = 0.9 rounded to "
        "0.899999976 (checked: the update with that μ reproduces paddle exactly)",
        "paddle/phi/kernels/impl/momentum_kernel_impl.h (MomentumDenseKernel: float mu); "
        "python/paddle/optimizer/momentum.py (_append_optimize_op passes self._momentum as an attribute)",
        framework="paddle", optimizer="paddle.optimizer.Momentum*", quantities=("update",), dtypes=_FLOAT64,
    ),
    Finding(
        "paddle-adamw-float32-coeff", "mismatch",
        "paddle's adamw kernel takes the weight-decay coefficient as a float attribute (float32): a float64 run "
        "decays by 1 − lr·0.100000001 instead of 1 − lr·0.1 (checked: with that coefficient the float64 update "
        "matches paddle to 7e-15 after 75 steps)",
        "python/paddle/optimizer/adamw.py (_append_optimize_op: coeff as an attribute); "
        "paddle/phi/kernels/cpu/adamw_kernel.cc (float coeff)",
        framework="paddle", optimizer="paddle.optimizer.AdamW*", quantities=("update",), dtypes=_FLOAT64,
    ),
    Finding(
        "paddle-weight-norm-float64", "mismatch",
        "paddle.nn.utils.weight_norm in float64 lands ~1e-13 relative (300–13,000 ULP) from the exact g, v and w "
        "after two plain SGD steps with dim=1, where one rounding of the inputs moves them by ~1e-15 (inspected, not "
        "yet traced; torch's parametrization matches)",
        "python/paddle/nn/utils/weight_norm_hook.py (norm_except_dim, _weight_norm)",
        framework="paddle", api="paddle.nn.utils.weight_norm", quantities=("update",), dtypes=_FLOAT64,
    ),
    Finding(
        "torch-float16-adam-eps-underflow", "mismatch",
        "torch's Adam (and optax's adam/adamw, whose scale_by_adam computes in the parameter's dtype) keeps ε and "
        "the moments in the parameter's dtype: in float16 ε = 1e-8 rounds to 0 and "
        "(1 − β₂)·g² underflows to 0 for |g| below ~0.008, so √v̂ + ε = 0 and the step is ±inf or NaN (checked: "
        "one step with g = 1e-3 gives −inf)",
        "torch/optim/adam.py (_single_tensor_adam: denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps))",
        framework=("torch", "jax"), optimizer=("torch.optim.Adam*", "optax.adam*"), quantities=("update",),
        dtypes=("float16",), result="non-finite result",
    ),
    Finding(
        "paddle-no-cpu-float16", "unsupported",
        "paddle has no CPU float16 kernels for abs, square, sign and the optimizers",
        "paddle/phi/kernels/cpu/abs_kernel.cc, activation_kernel.cc, sgd_kernel.cc (no phi::dtype::float16 in "
        "the CPU registrations)",
        framework="paddle", dtypes=("float16",),
    ),
    Finding(
        "paddle-weightnormparamattr-pir", "error",
        "paddle 3.3 bug: under PIR, the default static IR, LayerHelper builds WeightNormParamAttr's g and v as "
        "old-IR Parameters and paddle.divide rejects them (\"divide(): argument (position 1) must be Value, but "
        "got Parameter\"), before any step runs",
        "python/paddle/base/layer_helper_base.py (_create_weight_normalize)",
        framework="paddle", api="paddle.static.WeightNormParamAttr",
    ),
    Finding(
        "paddle-weightnormparamattr-old-ir-dim", "error",
        "paddle 3.3 bug: under the old IR, WeightNormParamAttr's program builds, but its backward fails for any "
        "dim but None, with or without a regularizer (\"The input tensor X of AddNOp must have same shape\")",
        "python/paddle/base/layer_helper_base.py (_create_weight_normalize: __norm_except_dim)",
        framework="paddle", api="paddle.static.WeightNormParamAttr.old_ir",
    ),
)


def by_id() -> dict[str, Finding]:
    return {f.id: f for f in FINDINGS}
