"""Built-in findings: framework behaviours that hold for every case, as data with a selector, a reason and a source.

A case's ``known`` list is for findings of the user's own; what every user of a framework would otherwise
rediscover and re-declare lives here, once. A finding is one of two kinds (``kind``):

- ``precision``: the framework computes some part (``held``: its hyper-parameters, its sums, its subnormal
  inputs) in a lower precision than the row's dtype. That is not a fault, so it must not hide the row's verdict:
  the error model (regcompare.errormodel) samples the computation with that part in that precision, the row's
  band widens to cover it, and the row is judged as usual — ``match``, ``divergent`` (its documented semantics)
  or ``mismatch``. The row carries the finding's id (why its band is wider) and its ``tolerance`` says the status
  it would have had with its own dtype's band (``without``); a precision finding never excuses a mismatch.
- ``defect``: the framework does something else (a fused kernel skipping blocks, a missing kernel, a bug that
  raises, a non-finite result). A row it selects with the finding's ``status`` carries the finding's id in
  ``finding`` and its reason in ``known``, and does not fail the run.

Stale findings: the shipped suite (a folder holding ``SUITE_MARKER``, as ``cases/`` does) must show every built-in
finding at least once — a defect finding a row of its status, a precision finding a row its widening turned from
``mismatch`` into the row's semantic verdict. When a run covers every case file of such a folder, a finding that
shows nowhere fails the run as stale, as a case's stale ``known`` entry does (``regcompare.engine``). A finding of
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


#: The kinds of finding (module docstring).
KINDS = ("precision", "defect")
#: What a precision finding may hold in a lower precision, as the error model samples it (regcompare.errormodel):
#: the hyper-parameters and coefficients with every scalar operation on them rounded there; the accumulator of a
#: sum; subnormal inputs, read as zero (flush-to-zero); an orthogonalization (Muon's Newton–Schulz iteration) with
#: each op rounded there.
HELD = ("hyper-parameters", "accumulator", "subnormals", "orthogonalization")
#: The precision a part is held in: a dtype, or ``dtype`` for the row's own (a 16-bit run's hyper-parameters).
ROW_DTYPE = "dtype"


@dataclass(frozen=True)
class Held:
    """What a precision finding says the framework holds in a lower precision (``what``, one of ``HELD``) and in
    which (``dtype``: float32, bfloat16, or ``ROW_DTYPE``)."""

    what: str
    dtype: str

    def __post_init__(self) -> None:
        if self.what not in HELD:
            raise ValueError(f"held: {self.what!r} is not one of {HELD}")

    def precision(self, row_dtype: str) -> str:
        """The dtype the part is held in, for a row of ``row_dtype``."""
        return row_dtype if self.dtype == ROW_DTYPE else self.dtype


@dataclass(frozen=True)
class Finding:
    """One framework behaviour: the rows it selects (every given field must match; ``api`` and ``optimizer`` are
    shell-style patterns, ``dtypes`` and ``quantities`` sets), its kind, and why. A ``defect`` gives the status
    the rows it explains have; a ``precision`` finding says what is ``held`` in which precision instead."""

    id: str
    kind: str
    reason: str
    source: str
    """The upstream issue, or the framework source file and function, that shows the behaviour."""
    status: str | None = None
    """A defect's rows' status (``mismatch``, ``unsupported``, ``error``)."""
    held: Held | None = None
    """A precision finding's part in lower precision."""
    framework: str | tuple[str, ...] | None = None
    """One framework or several (Keras on its three backends)."""
    api: str | tuple[str, ...] | None = None
    optimizer: str | tuple[str, ...] | None = None
    """A pattern (or several) over the row's ``optimizer`` call text (``keras.optimizers.Adam*``)."""
    quantities: tuple[str, ...] | None = None
    dtypes: tuple[str, ...] | None = None
    schedule: str | tuple[str, ...] | None = None
    """A pattern (or several) over the row's ``schedule`` class text (``optax.exponential_decay*``)."""
    tensor: str | None = None
    inputs: str | None = None
    """A name in ``CONDITIONS`` the case's weights must satisfy."""
    result: str | None = None
    """A name in ``RESULTS`` the row's result must satisfy (a finding about NaN explains NaN, not any mismatch)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"finding {self.id}: kind {self.kind!r} is not one of {KINDS}")
        if (self.kind == "precision") != (self.held is not None) or (self.kind == "defect") != bool(self.status):
            raise ValueError(f"finding {self.id}: a precision finding says what is held, a defect its status")
        if self.kind == "precision" and self.result is not None:
            raise ValueError(f"finding {self.id}: a band cannot widen to a result condition; that is a defect")

    @property
    def precision(self) -> bool:
        return self.kind == "precision"

    def frameworks(self) -> tuple[str, ...]:
        return () if self.framework is None else _names(self.framework)

    def selects(self, row: dict[str, Any], weights: dict[str, np.ndarray] | None = None) -> bool:
        """Whether the row is one this finding is about (its status aside)."""
        if not self.selects_keys(row):
            return False
        if self.result is not None and not RESULTS[self.result](row):
            return False
        return self.inputs is None or (weights is not None and CONDITIONS[self.inputs](weights))

    def selects_keys(self, row: dict[str, Any]) -> bool:
        """Whether the row's keys in ``ROW_TESTS`` (what the row is, not its result or its case's inputs) match."""
        for field, key, test in ROW_TESTS:
            wanted = getattr(self, field)
            if wanted is not None and not test(row.get(key), wanted):
                return False
        return True

    def explains(self, row: dict[str, Any], weights: dict[str, np.ndarray] | None = None) -> bool:
        """Whether the row shows this finding: for a defect, a row it selects with its status; for a precision
        finding, a row whose band it widened and which that turned from ``mismatch`` into its verdict."""
        if self.precision:
            tol = row.get("tolerance") or {}
            return (tol.get("finding") == self.id and tol.get("without") == "mismatch"
                    and row.get("status") != "mismatch")
        return row.get("status") == self.status and self.selects(row, weights)

    def expectation(self) -> str:
        """What a run of the shipped suite should show, in words (a stale finding's message)."""
        if self.precision:
            assert self.held is not None
            return (f"a row its {self.held.what} in {self.held.dtype} widen from mismatch to its verdict "
                    f"({self.source})")
        return f"{self.status} ({self.source})"


def precision_findings(row: dict[str, Any], weights: dict[str, np.ndarray] | None,
                       findings: tuple[Finding, ...] | None = None,
                       holds: Callable[[str], bool] | None = None) -> list[Finding]:
    """The precision findings that select a row (regcompare.errormodel widens its band by each). ``holds`` answers
    whether the case's weights satisfy a condition of ``CONDITIONS`` by its name (a caller that judges many rows
    of a case computes each once); by default it is computed from ``weights``."""
    if findings is None:
        candidates = _precision_candidates(row)
    else:
        candidates = tuple(f for f in findings if f.precision and f.selects_keys(row))

    def met(name: str) -> bool:
        return holds(name) if holds is not None else weights is not None and CONDITIONS[name](weights)

    # A precision finding has no result condition (Finding.__post_init__): the row's keys and the inputs decide.
    return [f for f in candidates if f.inputs is None or met(f.inputs)]


#: The built-in precision findings whose ``ROW_TESTS`` a row's keys pass, by those keys (and the registry they
#: were selected from): every row of a framework's API, quantity, dtype and tensor asks the same question.
_CANDIDATES: dict[tuple[Any, ...], tuple[Finding, ...]] = {}
_CANDIDATES_OF: list[tuple[Finding, ...]] = [()]
_CANDIDATES_KEPT = 4096


def _precision_candidates(row: dict[str, Any]) -> tuple[Finding, ...]:
    """``precision_findings``' selection by the row's keys alone, over ``FINDINGS``, cached by exactly the keys
    ``ROW_TESTS`` reads (so the cache cannot serve one row another's findings)."""
    if _CANDIDATES_OF[0] is not FINDINGS:  # the registry was replaced (a test): what was cached is for the old one
        _CANDIDATES.clear()
        _CANDIDATES_OF[0] = FINDINGS
    key = tuple(row.get(k) for k in ROW_KEYS)
    try:
        return _CANDIDATES[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable value: not cached
        return tuple(f for f in FINDINGS if f.precision and f.selects_keys(row))
    if len(_CANDIDATES) >= _CANDIDATES_KEPT:  # optimizer texts carry each case's settings: bounded, not per run
        _CANDIDATES.clear()
    found = _CANDIDATES[key] = tuple(f for f in FINDINGS if f.precision and f.selects_keys(row))
    return found


def _names(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


def _matches(text: Any, patterns: str | tuple[str, ...]) -> bool:
    return any(fnmatchcase(str(text), p) for p in _names(patterns))


#: What ``Finding.selects`` reads of a row besides its result and its case's inputs: (the finding's field, the
#: row's key, the test of the row's value against the field's). ``precision_findings`` caches by these keys.
ROW_TESTS: tuple[tuple[str, str, Callable[[Any, Any], bool]], ...] = (
    ("framework", "framework", lambda value, wanted: value in _names(wanted)),
    ("api", "api", _matches),
    ("optimizer", "optimizer", _matches),
    ("quantities", "quantity", lambda value, wanted: value in wanted),
    ("dtypes", "dtype", lambda value, wanted: value in wanted),
    ("schedule", "schedule", _matches),
    ("tensor", "tensor", lambda value, wanted: value == wanted),
)
#: The row's keys ``ROW_TESTS`` reads.
ROW_KEYS = tuple(dict.fromkeys(key for _, key, _ in ROW_TESTS))


_FLOAT64 = ("float64",)
#: Keras 3 on each backend regcompare runs: the same optimizer and regularizer code.
_KERAS = ("tensorflow", "keras-torch", "keras-jax")

FINDINGS: tuple[Finding, ...] = (
    Finding(
        "numpy-bfloat16-sum", "precision",
        "numpy sums ml_dtypes' bfloat16 in bfloat16 (np.sum keeps the input's dtype as the accumulator for this "
        "user dtype): a long sum stops growing once each term is below half an ULP of the total (3,018 squares: "
        "14% low); torch, TensorFlow and paddle accumulate bfloat16 in float32",
        "numpy/_core/src/umath/reduction.c (the accumulator is the input dtype unless dtype= is given); "
        "ml_dtypes registers bfloat16 add without a wider accumulator",
        held=Held("accumulator", "bfloat16"),
        framework="numpy", api="numpy.handwritten", quantities=("penalty",), dtypes=("bfloat16",),
    ),
    Finding(
        "tensorflow-float32-ftz", "precision",
        "TensorFlow's CPU kernels run with flush-to-zero and denormals-are-zero set: a float32 subnormal weight is "
        "read as 0, so sign(1e-40) = 0 in an L1 gradient and 1e-40·c = 0 in an L2 one",
        "tensorflow/core/platform/denormal.cc (ScopedFlushDenormal, set around every CPU op by the executor)",
        held=Held("subnormals", "float32"),
        framework="tensorflow", quantities=("gradient",), dtypes=("float32",), inputs="float32 subnormal weights",
    ),
    Finding(
        "keras-adam-float32-betas", "precision",
        "Keras Adam computes the bias corrections 1−β₁ᵗ, 1−β₂ᵗ from betas cast to float32 (ops.cast of a Python "
        "float makes a float32 tensor first) while m and v use the exact 1−β: 1−β₂ᵗ loses ~1,000 ULP to "
        "cancellation, each step is ~6e-6 relative off, in float32 and float64 alike (checked: that formula "
        "reproduces Keras to 1e-7 in float32 and 1e-16 in float64)",
        "keras/src/optimizers/adam.py (Adam.update_step: beta_1_power = ops.power(ops.cast(self.beta_1, ...), "
        "local_step))",
        held=Held("hyper-parameters", "float32"),
        framework="tensorflow", optimizer="keras.optimizers.Adam*", quantities=("update",),
        dtypes=("float32", "float64"),
    ),
    Finding(
        "keras-adam-float32-betas-backends", "precision",
        "Keras Adam on its torch and jax backends computes the bias corrections 1−β₁ᵗ, 1−β₂ᵗ from betas cast to "
        "the variable's dtype: in float32 rows that is float32 (as on TensorFlow: keras-adam-float32-betas) while "
        "torch, paddle and optax take them from Python floats; in float64 these backends keep float64 betas",
        "keras/src/optimizers/adam.py (Adam.update_step: ops.cast(self.beta_1, variable.dtype))",
        held=Held("hyper-parameters", "float32"),
        framework=("keras-torch", "keras-jax"), optimizer="keras.optimizers.Adam*", quantities=("update",),
        dtypes=("float32",),
    ),
    Finding(
        "optax-schedule-float32", "precision",
        "optax's exponential_decay and linear_schedule compute the scheduled lr in float32 even with jax x64: the "
        "schedule is called with the transform's int32 step count, and count / transition_steps of an int32 is "
        "float32 (measured: exponential_decay(0.1, 1, 0.7)(int32 3) is 0.034299999475 in float32)",
        "optax/schedules/_schedule.py (exponential_decay, linear_schedule: (count − transition_begin) / "
        "transition_steps); optax/_src/transform.py (scale_by_schedule: count = jnp.zeros([], jnp.int32))",
        held=Held("hyper-parameters", "float32"),
        framework="jax", quantities=("update",), dtypes=("float64",),
        schedule=("optax.exponential_decay*", "optax.linear_schedule*"),
    ),
    Finding(
        "keras-low-precision-hyperparameters", "precision",
        "Keras optimizers compute in the variable's dtype and cast the learning rate, momentum, betas and ε to it: "
        "float16 and bfloat16 runs use them rounded to the dtype (lr 0.01 is 0.0100098 in bfloat16, β₂ = 0.999 is "
        "1.0, so Adam's 1 − β₂ᵗ is 0; ε = 1e-8 is 0 in float16: keras-float16-eps-underflow); torch keeps lr "
        "and the betas as Python floats",
        "keras/src/optimizers/sgd.py and adam.py (update_step: ops.cast(learning_rate, variable.dtype), "
        "ops.cast(self.beta_2, variable.dtype))",
        held=Held("hyper-parameters", ROW_DTYPE),
        framework=_KERAS, api="keras.*", quantities=("update",), dtypes=("float16", "bfloat16"),
    ),
    Finding(
        "keras-float16-eps-underflow", "defect",
        "Keras adds ε in a float16 variable's dtype, where ε = 1e-8 is 0: an element whose v = (1 − β₂)·g² "
        "underflows (|g| below ~0.008) has √v + ε = 0, and its step is ±inf or NaN (0/0 where m underflowed too), "
        "as torch's float16 Adam (torch-float16-eps-underflow). A band cannot widen to a non-finite result, so "
        "the row is marked (non-finite results only; finite float16 rows are judged with the hyper-parameters in "
        "float16, keras-low-precision-hyperparameters)",
        "keras/src/optimizers/adam.py (Adam.update_step: ops.add(ops.sqrt(v), self.epsilon) on the variable's dtype)",
        status="mismatch",
        framework=_KERAS, api="keras.*", quantities=("update",), dtypes=("float16",), result="non-finite result",
    ),
    Finding(
        "keras-float32-hyperparameters", "precision",
        "Keras keeps the learning rate in a float32 variable (BaseOptimizer: backend.Variable(learning_rate, "
        "dtype=backend.floatx())) and regularizer coefficients as float32 constants, even for float64 weights: "
        "lr 0.003 becomes 0.0030000000261 and l1 0.1 becomes 0.100000001, ~1e-8 relative off the exact update",
        "keras/src/optimizers/base_optimizer.py (BaseOptimizer.__init__, _build_learning_rate); "
        "keras/src/regularizers/regularizers.py (L1/L2.__call__: self.l2 * ops.sum(...))",
        held=Held("hyper-parameters", "float32"),
        framework=_KERAS, api="keras.*", dtypes=_FLOAT64,
    ),
    Finding(
        "torch-float32-scalar-state", "precision",
        "torch's ASGD and NAdam keep their scalar state (ASGD's eta and mu, NAdam's mu_product) as tensors of "
        "_get_scalar_dtype(), float32 unless torch's default dtype is float64: a float64 run's step sizes are "
        "float32-rounded, ~1e-8 relative off the exact update; in float32 they are computed op by op in float32 "
        "tensors (η = lr/(1 + λ·lr·t)^α), where the reference computes them exactly (make trust: ASGD, 64 steps, "
        "8e-6 off)",
        "torch/optim/optimizer.py (_get_scalar_dtype); torch/optim/asgd.py, nadam.py (_init_group: "
        "torch.as_tensor(..., dtype=_get_scalar_dtype()))",
        held=Held("hyper-parameters", "float32"),
        framework="torch", optimizer=("torch.optim.ASGD*", "torch.optim.NAdam*"), quantities=("update",),
        dtypes=("float32", "float64"),
    ),
    Finding(
        "torch-foreach-low-precision-scalars", "precision",
        "torch's multi-tensor (foreach) CPU ops with a Python scalar round the scalar to a float16/bfloat16 "
        "tensor's dtype (torch._foreach_mul_([t], 0.999) multiplies a float16 t by 0.9990234375, a bfloat16 t by "
        "1.0), where the for-loop path's t.mul_(0.999) computes with the float32 scalar: e.g. Adamax's "
        "exp_inf·β₂ (make trust: Adamax, 94 float16 steps, 0.0217 off against 0.0212 allowed)",
        "torch/optim/adamax.py, adam.py, nadam.py, ... (_multi_tensor_*: torch._foreach_mul_(..., beta2), "
        "_foreach_lerp_, _foreach_addcdiv_ with Python scalars); aten/src/ATen/native/ForeachOpsKernels.cpp",
        held=Held("hyper-parameters", ROW_DTYPE),
        framework="torch", optimizer="torch.optim.*foreach=True*", quantities=("update",),
        dtypes=("float16", "bfloat16"),
    ),
    Finding(
        "torch-muon-bfloat16-newton-schulz", "precision",
        "torch's Muon orthogonalizes the momentum in bfloat16 whatever the parameter's dtype (`ortho_grad = "
        "grad.bfloat16()`, then the norm, the division and every addmm of the Newton–Schulz iteration in "
        "bfloat16): its update direction is ~0.5% off the float64 iteration in every dtype, the shape's lr "
        "adjustment aside (make trust: generated non-square matrices, every dtype)",
        "torch/optim/_muon.py (_zeropower_via_newtonschulz)",
        held=Held("orthogonalization", "bfloat16"),
        framework="torch", optimizer="torch.optim.Muon*", quantities=("update",),
    ),
    Finding(
        "paddle-float32-hyperparameters", "precision",
        "paddle's optimizer kernels (adadelta, adagrad, adamax, lamb, nadam, radam, rmsprop, asgd) take their "
        "hyper-parameters (ρ, ε, β₁, β₂, the decay coefficient) as float attributes: a float64 run uses them "
        "rounded to float32 (checked for RAdam: with float32-rounded betas the oracle reproduces paddle to 3e-15); "
        "a float32 run computes their scalar terms in float32 too (1 − β₂ᵗ from the float32 β-power accumulators, "
        "RAdam's ρₜ = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)), where the reference computes them in float64 (make trust: RAdam, 43 "
        "float32 steps, 1.47e-7 off against 1.3e-7 allowed)",
        "paddle/phi/ops/yaml/ops.yaml (float attributes of adadelta_, adagrad_, adamax_, lamb_, nadam_, radam_, "
        "rmsprop_, asgd_)",
        held=Held("hyper-parameters", "float32"),
        framework="paddle", optimizer=tuple(f"paddle.optimizer.{name}*" for name in (
            "Adadelta", "Adagrad", "Adamax", "Lamb", "NAdam", "RAdam", "RMSProp", "ASGD")),
        quantities=("update",), dtypes=("float32", "float64"),
    ),
    Finding(
        "paddle-rprop-low-precision-hyperparameters", "precision",
        "paddle's Rprop makes its etas and learning_rate_range tensors of the parameter's dtype and fills its "
        "step-size accumulator with the learning rate in that dtype, and its kernel multiplies the step sizes by "
        "those etas in that dtype: in bfloat16 etaplus = 1.2 is 1.203125, so a step size that keeps growing is "
        "~0.26% larger per growth than the reference's (checked: the bfloat16 kernel's arithmetic with the etas, "
        "the range and the initial lr rounded to bfloat16 reproduces paddle to the bit on the make-trust draw, "
        "ParamAttr(L2Decay(0.1)), 26 steps, 0.94 off against 0.27 allowed)",
        "python/paddle/optimizer/rprop.py (Rprop._to_tensor: to_tensor(etas / learning_rate_range, "
        "dtype=param.dtype); _create_accumulators: fill_value=learning_rate in p.dtype); "
        "paddle/phi/kernels/cpu/rprop_kernel.cc (RpropKernelCPUImpl: eta_positive = etas.data<T>()[1])",
        held=Held("hyper-parameters", ROW_DTYPE),
        framework="paddle", optimizer="paddle.optimizer.Rprop*", quantities=("update",), dtypes=("bfloat16",),
    ),
    Finding(
        "paddle-momentum-float32-mu", "precision",
        "paddle's momentum kernel takes μ as a float attribute (float32): a float64 run uses μ = 0.9 rounded to "
        "0.899999976 (checked: the update with that μ reproduces paddle exactly)",
        "paddle/phi/kernels/impl/momentum_kernel_impl.h (MomentumDenseKernel: float mu); "
        "python/paddle/optimizer/momentum.py (_append_optimize_op passes self._momentum as an attribute)",
        held=Held("hyper-parameters", "float32"),
        framework="paddle", optimizer="paddle.optimizer.Momentum*", quantities=("update",), dtypes=_FLOAT64,
    ),
    Finding(
        "paddle-adamw-float32-coeff", "precision",
        "paddle's adamw kernel takes the weight-decay coefficient as a float attribute (float32): a float64 run "
        "decays by 1 − lr·0.100000001 instead of 1 − lr·0.1 (checked: with that coefficient the float64 update "
        "matches paddle to 7e-15 after 75 steps)",
        "python/paddle/optimizer/adamw.py (_append_optimize_op: coeff as an attribute); "
        "paddle/phi/kernels/cpu/adamw_kernel.cc (float coeff)",
        held=Held("hyper-parameters", "float32"),
        framework="paddle", optimizer="paddle.optimizer.AdamW*", quantities=("update",), dtypes=_FLOAT64,
    ),
    Finding(
        "paddle-weight-norm-float64", "defect",
        "paddle.nn.utils.weight_norm in float64 lands ~1e-13 relative (300–13,000 ULP) from the exact g, v and w "
        "after two plain SGD steps with dim=1, where one rounding of the inputs moves them by ~1e-15 (inspected, not "
        "yet traced; torch's parametrization matches)",
        "python/paddle/nn/utils/weight_norm_hook.py (norm_except_dim, _weight_norm)",
        status="mismatch",
        framework="paddle", api="paddle.nn.utils.weight_norm", quantities=("update",), dtypes=_FLOAT64,
    ),
    Finding(
        "torch-float16-eps-underflow", "defect",
        "torch's Adam, NAdam, RAdam, Adagrad and RMSprop (and optax's adam/adamw, whose scale_by_adam computes in "
        "the parameter's dtype) keep ε and the second-moment state in the parameter's dtype: in float16 ε = 1e-8 "
        "(Adagrad's 1e-10) rounds to 0 and the state (1 − β₂)·g², (1 − α)·g², Σg² underflows to 0 for small |g| "
        "(below ~0.008 for Adam), so √v + ε = 0 and the step is ±inf or NaN (checked: one Adam step with g = 1e-3 "
        "gives −inf; found by make trust for the others)",
        "torch/optim/adam.py (_single_tensor_adam: denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)); "
        "nadam.py, radam.py, adagrad.py (std = state_sum.sqrt().add_(eps)), rmsprop.py (avg = square_avg.sqrt()"
        ".add_(eps))",
        status="mismatch",
        framework=("torch", "jax"),
        optimizer=(*(f"torch.optim.{n}(*" for n in ("Adam", "AdamW", "NAdam", "RAdam", "Adagrad", "RMSprop")),
                   "optax.adam*"),
        quantities=("update",), dtypes=("float16",), result="non-finite result",
    ),
    Finding(
        "paddle-no-cpu-float16", "defect",
        "paddle has no CPU float16 kernels for abs, square, sign and the optimizers",
        "paddle/phi/kernels/cpu/abs_kernel.cc, activation_kernel.cc, sgd_kernel.cc (no phi::dtype::float16 in "
        "the CPU registrations)",
        status="unsupported",
        framework="paddle", dtypes=("float16",),
    ),
    Finding(
        "paddle-weightnormparamattr-pir", "defect",
        "paddle 3.3 bug: under PIR, the default static IR, LayerHelper builds WeightNormParamAttr's g and v as "
        "old-IR Parameters and paddle.divide rejects them (\"divide(): argument (position 1) must be Value, but "
        "got Parameter\"), before any step runs",
        "python/paddle/base/layer_helper_base.py (_create_weight_normalize)",
        status="error",
        framework="paddle", api="paddle.static.WeightNormParamAttr",
    ),
    Finding(
        "paddle-weightnormparamattr-old-ir-dim", "defect",
        "paddle 3.3 bug: under the old IR, WeightNormParamAttr's program builds, but its backward fails for any "
        "dim but None, with or without a regularizer (\"The input tensor X of AddNOp must have same shape\")",
        "python/paddle/base/layer_helper_base.py (_create_weight_normalize: __norm_except_dim)",
        status="error",
        framework="paddle", api="paddle.static.WeightNormParamAttr.old_ir",
    ),
)


def by_id() -> dict[str, Finding]:
    return {f.id: f for f in FINDINGS}
