"""Muon, 2-D weights only (torch/optim/_muon.py ``_single_tensor_muon``, ``_zeropower_via_newtonschulz``,
``_adjust_lr``; keras/src/optimizers/muon.py ``Muon._muon_update_step``, ``zeropower_via_newtonschulz5``,
``lr_adjust``).

    torch: buf ← μ·buf + (1−μ)·g;  x = (1−μ)·g + μ·buf (nesterov) or buf
    Keras: m ← μ·m + g;            x = g + μ·m (nesterov) or m          (the same direction, ×1/(1−μ))
    X = x/max(‖x‖_F, eps) (Keras: x/(‖x‖_F + 1e-7)), on the wide orientation (transposed if rows > cols), then
    ns_steps times:  A = XXᵀ;  X ← a·X + (b·A + c·A²)·X
    w ← w − lr'·X,  lr' = lr·√max(1, rows/cols) ("original", torch's default) or lr·0.2·√max(rows, cols)
    ("match_rms_adamw", Keras' only one with its rms_rate 0.2)

Decay is decoupled in both (``w·(1 − lr·λ)`` with the unadjusted lr, before the step): the loop places it.
torch runs the Newton–Schulz iteration in bfloat16 by design (``grad.bfloat16()``): ~0.5% off this float64 rule, a
precision finding whose band samples the iteration in bfloat16 (``NS_PRECISION``).
Keras runs Muon on 2-D variables only and AdamW on the others; torch refuses other shapes.

==================  ==========  ========================================================
key                 default     torch / Keras name
==================  ==========  ========================================================
``lr``              0.1         ``lr`` / ``learning_rate`` (both default 0.001)
``momentum``        0.95        ``momentum``
``nesterov``        True        ``nesterov``
``ns_a``            3.4445      ``ns_coefficients[0]`` / ``muon_a``
``ns_b``            -4.775      ``ns_coefficients[1]`` / ``muon_b``
``ns_c``            2.0315      ``ns_coefficients[2]`` / ``muon_c``
``ns_steps``        5           ``ns_steps``
``eps``             1e-7        ``eps`` / fixed 1e-7, added to the norm
``adjust_lr_fn``    original    ``adjust_lr_fn`` / fixed ``match_rms_adamw`` (``rms_rate``)
==================  ==========  ========================================================
"""

from __future__ import annotations

import math

import numpy as np

from regcompare.dtypes import cast
from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate (before the shape adjustment)"),
    Setting("momentum", 0.95, "fraction", "μ"),
    Setting("nesterov", True, "bool", "Nesterov momentum"),
    Setting("ns_a", 3.4445, "real", "Newton–Schulz coefficient a"),
    Setting("ns_b", -4.775, "real", "Newton–Schulz coefficient b"),
    Setting("ns_c", 2.0315, "real", "Newton–Schulz coefficient c"),
    Setting("ns_steps", 5, "count", "Newton–Schulz iterations"),
    Setting("eps", 1e-7, "positive", "floor of the momentum's Frobenius norm"),
    Setting("adjust_lr_fn", "original", "choice", "the learning rate's shape adjustment",
            ("original", "match_rms_adamw")),
)
OPTIONS = {"momentum_form": "lerp", "norm_eps": "clamp"}


#: A setting the rule reads but no case sets: the dtype each Newton–Schulz operation's result is rounded to. The
#: error model sets it to sample torch's iteration in bfloat16 (finding ``torch-muon-bfloat16-newton-schulz``); the
#: reference leaves it out and iterates in float64.
NS_PRECISION = "ns_precision"


def orthogonalize(x: np.ndarray, s: dict) -> np.ndarray:
    """The quintic Newton–Schulz iteration towards UVᵀ of x = USVᵀ; with ``s[NS_PRECISION]``, each operation's
    result rounded to that dtype, where torch's kernels store one (the input cast, the norm, the division, XXᵀ, each
    ``addmm``: a·X + B·X and b·A + c·A² are one kernel each, computed wider and rounded once)."""
    precision = s.get(NS_PRECISION)

    def r(v: np.ndarray) -> np.ndarray:
        return v if precision is None else cast(np.asarray(v, np.float64), precision).astype(np.float64)

    wide = r(x.T if x.shape[0] > x.shape[1] else x)
    norm = float(r(np.linalg.norm(wide)))
    X = r(wide / (max(norm, s["eps"]) if s["norm_eps"] == "clamp" else norm + s["eps"]))
    for _ in range(int(s["ns_steps"])):
        A = r(X @ X.T)
        X = r(s["ns_a"] * X + r(s["ns_b"] * A + s["ns_c"] * (A @ A)) @ X)
    return X.T if x.shape[0] > x.shape[1] else X


def adjusted_lr(lr: float, shape: tuple[int, ...], how: str) -> float:
    rows, cols = shape[:2]
    return lr * (0.2 * math.sqrt(max(rows, cols)) if how == "match_rms_adamw" else math.sqrt(max(1.0, rows / cols)))


def step(ctx: Step) -> np.ndarray:
    s, g = ctx.s, ctx.g
    if g.ndim != 2:
        raise ValueError("Muon updates 2-D weights only")
    mu = s["momentum"]
    buf = ctx.state.get("buf", np.zeros_like(g))
    if s["momentum_form"] == "lerp":
        buf = mu * buf + (1.0 - mu) * g
        x = (1.0 - mu) * g + mu * buf if s["nesterov"] else buf
    else:
        buf = mu * buf + g
        x = g + mu * buf if s["nesterov"] else buf
    ctx.state["buf"] = buf
    return -adjusted_lr(ctx.lr, g.shape, s["adjust_lr_fn"]) * orthogonalize(x, s)
