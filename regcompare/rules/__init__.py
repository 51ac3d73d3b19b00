"""Update rules: one small float64 module per optimizer rule, and the loop that places weight decay around them.

A rule module (``sgd.py``, ``adam.py``, ...) holds what one optimizer does to one tensor per step, written from
the framework sources it cites, and nothing about decay: the loop here places decay the way optax composes
``add_decayed_weights`` with a scaling transform, and *where* it sits is the convention:

- **coupled**: ``l1·sign(w) + l2·w`` is added to the loss gradient before the rule sees it, so it goes through
  momentum, Adam's moments, Adagrad's accumulator (torch ``weight_decay``, paddle ``L2Decay``);
- **decoupled**: ``w ← w − lr·λ·w`` before the rule's step, outside every statistic (torch ``AdamW``, every
  Keras ``weight_decay``); a rule that documents another place takes the coefficient itself
  (``takes_decoupled``: paddle's Lamb puts it inside the trust ratio).

A rule module defines:

- ``SETTINGS``: its canonical hyper-parameters (the case's ``optimizer`` keys, with defaults and bounds);
- ``OPTIONS``: the canonical form of choices frameworks make differently (where epsilon goes, ...), which an
  ``OptimizerCall`` can override with its own (the API's documented semantics);
- ``step(ctx) -> Δw``: the change of the weights at step ``ctx.t`` (lr included), from ``ctx.g`` (the loss
  gradient, negated when maximizing, plus the coupled decay), the weights ``ctx.w`` (already decoupled-decayed),
  and the rule's own ``ctx.state``;
- optionally ``takes_decoupled(settings) -> bool`` and ``JOINT = True`` (the rule sees every tensor as one flat
  vector, as torch's LBFGS does).

A rule that re-evaluates the objective (LBFGS) uses ``ctx.grad_at``/``ctx.loss_at``; one that treats the coupled
decay its own way (Ftrl's proximal form) finds the loss gradient alone in ``ctx.loss_grad`` and the decay in
``ctx.coupled``. The loop returns the next weights, not w + Δw, so an infinite weight stays infinite.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any, Literal

import numpy as np

from regcompare.conventions import Decay, Regularizer
from regcompare.conventions.model import rule_of

Settings = dict[str, Any]
Kind = Literal["positive", "nonnegative", "fraction", "unit", "bool", "count", "real", "choice"]

#: Case names (docs/case-format.md, lowercase torch spelling). ``adamw`` is Adam plus decoupled decay, a matter of the
#: API; every other name is a module of this package.
ALL_NAMES: tuple[str, ...] = (
    "sgd", "adam", "adamw", "adagrad", "rmsprop", "adadelta", "adamax", "nadam", "radam", "asgd", "lamb", "lion",
    "adafactor", "ftrl", "muon", "rprop", "lbfgs",
)


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(f"regcompare.rules.{rule_of(name)}") is not None


#: The names a case may use: those whose rule module exists.
NAMES: tuple[str, ...] = tuple(n for n in ALL_NAMES if _has_module(n))


@dataclass(frozen=True)
class Setting:
    """One canonical hyper-parameter of a rule: the case's ``optimizer`` key, its default and its bounds."""

    key: str
    default: Any
    kind: Kind = "positive"
    doc: str = ""
    choices: tuple[str, ...] = ()


@dataclass
class Step:
    """What a rule's ``step`` sees at step ``t`` of one tensor."""

    w: np.ndarray
    g: np.ndarray
    t: int
    lr: float
    s: Settings
    state: dict[str, Any]
    decoupled: float = 0.0
    """The decoupled decay coefficient; a rule whose ``takes_decoupled`` is true applies it itself."""
    grad_at: Callable[[np.ndarray], np.ndarray] | None = None
    """The gradient (loss + coupled decay) at other weights: for rules that evaluate it again (LBFGS)."""
    loss_at: Callable[[np.ndarray], float] | None = None
    """The loss Σ grads⊙w plus the coupled penalty, at other weights (LBFGS line search)."""
    extra: dict[str, Any] = field(default_factory=dict)
    loss_grad: np.ndarray | None = None
    """The loss gradient alone (without the coupled decay), for rules that treat the decay their own way (Ftrl)."""
    coupled: Regularizer = field(default_factory=Regularizer)
    """The coupled decay whose gradient ``g`` includes, for the same rules."""


@cache
def module(name: str) -> ModuleType:
    """The rule module of a case's ``optimizer.name`` (``adamw`` → adam)."""
    if name not in NAMES:
        raise KeyError(f"no update rule {name!r}; known: {', '.join(NAMES)}")
    return importlib.import_module(f"regcompare.rules.{rule_of(name)}")


def settings_of(name: str) -> tuple[Setting, ...]:
    """The canonical hyper-parameters of a case's optimizer name."""
    return module(name).SETTINGS


def canonical(name: str, settings: Settings, options: dict[str, Any] | None = None) -> Settings:
    """The full settings of a rule: the case's values over the rule's defaults, then its canonical options,
    then ``options`` (an API's own documented ones)."""
    mod = module(name)
    full = {s.key: s.default for s in mod.SETTINGS} | dict(settings)
    return full | dict(getattr(mod, "OPTIONS", {})) | dict(options or {})


def _decay_gradient(w: np.ndarray, reg: Regularizer) -> np.ndarray:
    g = np.zeros_like(w)
    if reg.l1:
        g = g + reg.l1 * np.sign(w)
    if reg.l2:
        g = g + reg.l2 * w
    return g


def _penalty(w: np.ndarray, reg: Regularizer) -> float:
    return float(reg.l1 * np.sum(np.abs(w)) + reg.l2 / 2 * np.sum(w * w))


def run(
    name: str, w0: np.ndarray, loss_grad: np.ndarray, decay: Decay, settings: Settings, steps: int,
    state: dict[str, Any] | None = None,
) -> np.ndarray:
    """One tensor after ``steps`` steps of the rule on a constant loss gradient, with ``decay`` placed as the
    module docstring says, in float64. ``settings`` are full (``canonical``)."""
    mod = module(name)
    w = w0.astype(np.float64)
    dw = loss_grad.astype(np.float64)
    if settings.get("maximize"):
        dw = -dw  # torch: the loss gradient is negated before the decay is added; decay still shrinks w
    state = {} if state is None else state
    takes = getattr(mod, "takes_decoupled", lambda s: False)(settings)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(1, steps + 1):
            lr, factor = lr_at(settings, t - 1), decay_factor(settings, t - 1)
            w = advance(mod, w, dw, decay, settings, t, lr, state, takes, base_lr(settings), factor)
    return w


def step_once(
    mod: ModuleType, w: np.ndarray, dw: np.ndarray, decay: Decay, s: Settings, t: int, lr: float,
    state: dict[str, Any], takes: bool, lr0: float | None = None, factor: float = 1.0,
) -> np.ndarray:
    """Δw of one step: the gradient at w with the coupled decay, then decoupled decay, then the rule."""
    return advance(mod, w, dw, decay, s, t, lr, state, takes, lr0, factor) - w


def advance(
    mod: ModuleType, w: np.ndarray, dw: np.ndarray, decay: Decay, s: Settings, t: int, lr: float,
    state: dict[str, Any], takes: bool, lr0: float | None = None, factor: float = 1.0, split: bool = False,
) -> np.ndarray:
    """The weights after one step (not w + Δw: an infinite weight stays infinite instead of inf − inf = NaN).

    ``lr`` is this step's (scheduled) learning rate, ``lr0`` the optimizer's own number (for decoupled decay that
    does not follow the schedule, ``Decay.unscaled``) and ``factor`` a weight-decay schedule's multiplier. With
    ``split``, a rule that has ``parts`` (the operations a framework applies to the weight one at a time, each a
    function of the weight) has them applied one by one, so an array type that rounds each op stores the weight
    after each (the error model)."""

    def grad_at(x: np.ndarray) -> np.ndarray:
        return dw + factor * _decay_gradient(x, decay.coupled)

    def loss_at(x: np.ndarray) -> float:
        return float(np.sum(dw * x)) + factor * _penalty(x, decay.coupled)

    g = grad_at(w)  # the coupled term is part of the gradient, taken before the step changes w at all
    coefficient = factor * decay.decoupled
    decay_lr = lr0 if decay.unscaled and lr0 is not None else lr
    decayed = w if takes or not coefficient else w - decay_lr * coefficient * w
    ctx = Step(decayed, g, t, lr, s, state, coefficient, grad_at, loss_at, loss_grad=dw, coupled=decay.coupled)
    if split and hasattr(mod, "parts"):
        for part in mod.parts(ctx):
            decayed = part(decayed)
        return decayed
    return decayed + mod.step(ctx)


# --- learning-rate schedules (docs/case-format.md ``optimizer.schedule``) ---------------------------------------------
#
# Step k (0-based) of the optimizer runs at lr(k): every framework here evaluates its schedule at the number of steps
# already taken (torch and paddle call ``scheduler.step()`` after ``optimizer.step()``; Keras calls the schedule with
# ``optimizer.iterations``, 0 at the first ``apply_gradients``).


def schedule_lr(schedule: Mapping[str, Any] | None, lr: float, k: int, switch_after: bool = False) -> float:
    """The learning rate of step ``k`` (0-based) of a schedule on the optimizer's ``lr``, in float64.

    - ``step``:        lr·γ^⌊k/step_size⌋
    - ``exponential``: lr·γ^k
    - ``cosine``:      η_min + (lr − η_min)·(1 + cos(π·min(k, t_max)/t_max))/2
    - ``piecewise``:   values[i], i = the number of boundaries b with b ≤ k (``switch_after``: b < k, Keras)
    - ``warmup``:      lr·(f + (1 − f)·k/warmup_steps) while k < warmup_steps, then lr (f = ``start_factor``)
    """
    if schedule is None:
        return lr
    name = schedule["name"]
    if name == "step":
        return lr * schedule["gamma"] ** (k // schedule["step_size"])
    if name == "exponential":
        return lr * schedule["gamma"] ** k
    if name == "cosine":
        t_max, eta_min = schedule["t_max"], schedule["eta_min"]
        return eta_min + (lr - eta_min) * (1.0 + math.cos(math.pi * min(k, t_max) / t_max)) / 2.0
    if name == "piecewise":
        passed = sum(b < k if switch_after else b <= k for b in schedule["boundaries"])
        return float(schedule["values"][passed])
    if name == "warmup":
        n, f = schedule["warmup_steps"], schedule["start_factor"]
        return lr * (f + (1.0 - f) * k / n) if k < n else lr
    raise KeyError(f"no schedule {name!r}")


def base_lr(s: Settings) -> float:
    """The learning-rate number the optimizer is built with: ``lr``, or a piecewise schedule's first value."""
    schedule = s.get("schedule")
    return float(schedule["values"][0]) if schedule and schedule["name"] == "piecewise" else float(s["lr"])


def lr_at(s: Settings, k: int) -> float:
    """The learning rate of step ``k`` (0-based) under the settings' schedule (``piecewise_switch_after``: an
    API's own documented boundary convention)."""
    return schedule_lr(s.get("schedule"), float(s["lr"]), k, bool(s.get("piecewise_switch_after")))


def decay_factor(s: Settings, k: int) -> float:
    """A weight-decay schedule's multiplier at step ``k``: lr(k)/lr₀ when the schedule says ``weight_decay: true``
    (the decay coefficient follows the learning rate, as TF add-ons advise), else 1."""
    schedule = s.get("schedule")
    if not schedule or not schedule.get("weight_decay"):
        return 1.0
    return lr_at(s, k) / base_lr(s)


def update(
    name: str, weights: dict[str, np.ndarray], grads: dict[str, np.ndarray], decays: dict[str, Decay],
    settings: Settings, steps: int,
) -> dict[str, np.ndarray]:
    """Every tensor after ``steps`` steps, each with its own decay; a ``JOINT`` rule sees them as one vector."""
    mod = module(name)
    if not getattr(mod, "JOINT", False):
        return {n: run(name, w, grads[n], decays[n], settings, steps) for n, w in weights.items()}
    names = list(weights)
    kinds = {decays[n] for n in names}
    if len(kinds) != 1:
        raise ValueError(f"{name} optimizes all tensors as one vector: one decay for all of them")
    flat = np.concatenate([weights[n].astype(np.float64).reshape(-1) for n in names])
    grad = np.concatenate([grads[n].astype(np.float64).reshape(-1) for n in names])
    out = run(name, flat, grad, kinds.pop(), settings, steps)
    parts, start = {}, 0
    for n in names:
        size = weights[n].size
        parts[n] = out[start:start + size].reshape(weights[n].shape)
        start += size
    return parts
