"""Learning-rate schedules as each framework's real scheduler class runs them (docs/case-format.md, ``schedule``).

The canonical lr of each step is ``regcompare.rules.schedule_lr``; this module is the data that maps a case's
schedule onto one scheduler class per framework, with the class's own arguments and how a training loop steps it,
and says where a class documents another convention (Keras' piecewise boundaries). Adapters build the class from
``scheduler(framework, spec, lr)``; the registry's schedule records (``*_records.py``) print the same facts in
``regcompare conventions``.

Stepping, checked against the pinned sources: torch (torch/optim/lr_scheduler.py ``LRScheduler.step``) and paddle
(python/paddle/optimizer/lr.py ``LRScheduler.step``) change the lr when ``scheduler.step()`` is called after
``optimizer.step()``, so step k (0-based) runs at lr(k); Keras (keras/src/optimizers/base_optimizer.py
``_get_current_learning_rate``) calls the schedule with ``optimizer.iterations``, which is k at step k.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Spec = Mapping[str, Any]


@dataclass(frozen=True)
class Scheduler:
    """One scheduler class for one case schedule: its id, its arguments, and its documented convention."""

    api: str
    """The class, e.g. ``torch.optim.lr_scheduler.StepLR``."""
    args: Callable[[Spec, float], dict[str, Any]]
    """Its keyword arguments from the case's schedule and the optimizer's lr (the optimizer itself is added by
    the torch adapter, the first positional argument there)."""
    options: tuple[tuple[str, bool], ...] = ()
    """Where the class's lr differs from the canonical schedule: ``regcompare.rules.lr_at`` options."""
    why: str = ""
    """That difference, with its source, for ``divergent`` rows."""

    def kwargs(self, spec: Spec, lr: float) -> dict[str, Any]:
        return self.args(spec, lr)


def _piecewise_lambda(spec: Spec, lr: float) -> Callable[[int], float]:
    """torch has no piecewise-constant class: a user writes ``LambdaLR`` with the values over the base lr."""
    boundaries, values = list(spec["boundaries"]), list(spec["values"])
    return lambda k: values[bisect.bisect_right(boundaries, k)] / lr


KERAS_PIECEWISE_WHY = (
    "Keras PiecewiseConstantDecay switches after a boundary: values[i+1] once step > boundaries[i] "
    "(keras/src/optimizers/schedules/learning_rate_schedule.py), one step later than paddle PiecewiseDecay "
    "(step >= boundary)")

SCHEDULERS: dict[str, dict[str, Scheduler]] = {
    "torch": {
        "step": Scheduler("torch.optim.lr_scheduler.StepLR",
                          lambda s, lr: {"step_size": s["step_size"], "gamma": s["gamma"]}),
        "exponential": Scheduler("torch.optim.lr_scheduler.ExponentialLR", lambda s, lr: {"gamma": s["gamma"]}),
        "cosine": Scheduler("torch.optim.lr_scheduler.CosineAnnealingLR",
                            lambda s, lr: {"T_max": s["t_max"], "eta_min": s["eta_min"]}),
        "piecewise": Scheduler("torch.optim.lr_scheduler.LambdaLR",
                               lambda s, lr: {"lr_lambda": _piecewise_lambda(s, lr)}),
        "warmup": Scheduler("torch.optim.lr_scheduler.LinearLR",
                            lambda s, lr: {"start_factor": s["start_factor"], "end_factor": 1.0,
                                           "total_iters": s["warmup_steps"]}),
    },
    "tensorflow": {
        "step": Scheduler("keras.optimizers.schedules.ExponentialDecay",
                          lambda s, lr: {"initial_learning_rate": lr, "decay_steps": s["step_size"],
                                         "decay_rate": s["gamma"], "staircase": True}),
        "exponential": Scheduler("keras.optimizers.schedules.ExponentialDecay",
                                 lambda s, lr: {"initial_learning_rate": lr, "decay_steps": 1,
                                                "decay_rate": s["gamma"]}),
        "cosine": Scheduler("keras.optimizers.schedules.CosineDecay",
                            lambda s, lr: {"initial_learning_rate": lr, "decay_steps": s["t_max"],
                                           "alpha": s["eta_min"] / lr}),
        "piecewise": Scheduler("keras.optimizers.schedules.PiecewiseConstantDecay",
                               lambda s, lr: {"boundaries": list(s["boundaries"]), "values": list(s["values"])},
                               options=(("piecewise_switch_after", True),), why=KERAS_PIECEWISE_WHY),
        "warmup": Scheduler("keras.optimizers.schedules.PolynomialDecay",
                            lambda s, lr: {"initial_learning_rate": s["start_factor"] * lr,
                                           "decay_steps": s["warmup_steps"], "end_learning_rate": lr, "power": 1.0}),
    },
    "paddle": {
        "step": Scheduler("paddle.optimizer.lr.StepDecay",
                          lambda s, lr: {"learning_rate": lr, "step_size": s["step_size"], "gamma": s["gamma"]}),
        "exponential": Scheduler("paddle.optimizer.lr.ExponentialDecay",
                                 lambda s, lr: {"learning_rate": lr, "gamma": s["gamma"]}),
        "cosine": Scheduler("paddle.optimizer.lr.CosineAnnealingDecay",
                            lambda s, lr: {"learning_rate": lr, "T_max": s["t_max"], "eta_min": s["eta_min"]}),
        "piecewise": Scheduler("paddle.optimizer.lr.PiecewiseDecay",
                               lambda s, lr: {"boundaries": list(s["boundaries"]), "values": list(s["values"])}),
        "warmup": Scheduler("paddle.optimizer.lr.LinearWarmup",
                            lambda s, lr: {"learning_rate": lr, "warmup_steps": s["warmup_steps"],
                                           "start_lr": s["start_factor"] * lr, "end_lr": lr}),
    },
    # optax's schedule functions (optax/schedules/_schedule.py), called by scale_by_learning_rate with the step
    # count, 0 at the first update (optax/_src/transform.py scale_by_schedule): step k runs at lr(k). Piecewise
    # switches at count >= boundary (jnp.sign(threshold - count)), as paddle; its values are scales of the last.
    "jax": {
        "step": Scheduler("optax.exponential_decay",
                          lambda s, lr: {"init_value": lr, "transition_steps": s["step_size"],
                                         "decay_rate": s["gamma"], "staircase": True}),
        "exponential": Scheduler("optax.exponential_decay",
                                 lambda s, lr: {"init_value": lr, "transition_steps": 1, "decay_rate": s["gamma"]}),
        "cosine": Scheduler("optax.cosine_decay_schedule",
                            lambda s, lr: {"init_value": lr, "decay_steps": s["t_max"], "alpha": s["eta_min"] / lr}),
        "piecewise": Scheduler("optax.piecewise_constant_schedule", lambda s, lr: _optax_piecewise(s)),
        "warmup": Scheduler("optax.linear_schedule",
                            lambda s, lr: {"init_value": s["start_factor"] * lr, "end_value": lr,
                                           "transition_steps": s["warmup_steps"]}),
    },
}


def _optax_piecewise(spec: Spec) -> dict[str, Any]:
    """optax's piecewise schedule multiplies: boundaries_and_scales={b_i: values[i+1]/values[i]}."""
    values = list(spec["values"])
    scales = {int(b): values[i + 1] / values[i] for i, b in enumerate(spec["boundaries"])}
    return {"init_value": values[0], "boundaries_and_scales": scales}


KERAS_MOMENTUM_WHY = (
    "Keras SGD keeps the lr inside its momentum (m ← μm − lr_k·g; w ← w + m: keras/src/optimizers/sgd.py), torch "
    "and paddle outside it (buf ← μ·buf + g; w ← w − lr_k·buf): under a schedule past steps keep their own lr")


def semantics(framework: str, rule: str, settings: Mapping[str, Any]) -> tuple[dict[str, bool], str]:
    """The rule options by which ``framework``'s scheduled update differs from the canonical one (empty if it does
    not), and why: a scheduler class's own convention, or an optimizer whose form differs only once lr changes."""
    spec = settings.get("schedule")
    found = None if spec is None else scheduler(framework, spec)
    if found is None:
        return {}, ""
    options, whys = dict(found.options), [found.why] if found.why else []
    if framework == "tensorflow" and rule == "sgd" and settings.get("momentum"):
        options["lr_in_momentum"] = True
        whys.append(KERAS_MOMENTUM_WHY)
    return options, "; ".join(whys)


def scheduler(framework: str, spec: Spec) -> Scheduler | None:
    """The scheduler class ``framework`` runs a case schedule with (None: no class for it)."""
    return SCHEDULERS.get(framework, {}).get(spec["name"])


def schedule_classes(framework: str) -> str:
    """``step: torch.optim.lr_scheduler.StepLR, …``: the class each schedule runs with, for the records."""
    return ", ".join(f"{name}: {found.api}" for name, found in SCHEDULERS.get(framework, {}).items())


def text(framework: str, spec: Spec, lr: float) -> str:
    """``torch.optim.lr_scheduler.StepLR(step_size=2, gamma=0.5)``: the class as rows show it."""
    found = scheduler(framework, spec)
    if found is None:
        return ""
    args = ", ".join(f"{k}={_fmt(v)}" for k, v in found.kwargs(spec, lr).items())
    return f"{found.api}({args})"


def _fmt(value: Any) -> str:
    if callable(value):
        return "<lambda k: values[bisect_right(boundaries, k)] / lr>"
    return f"{value:g}" if isinstance(value, float) else str(value)


#: Which APIs take a weight-decay schedule (``schedule.weight_decay: true``), and why the others do not run it.
WEIGHT_DECAY_SCHEDULE_REFUSALS: dict[str, str] = {
    "torch": "torch.optim has no weight-decay schedule: lr_scheduler classes change param_group['lr'] only",
    "paddle": "paddle.optimizer.lr schedulers drive learning_rate only; weight_decay is a float, a Tensor or a "
              "regularizer object, none of them stepped",
}


def weight_decay_schedule_refusal(framework: str, role: str, coupling: str) -> str:
    """Why an API cannot take a weight-decay schedule ('' if it takes one: Keras optimizers' ``weight_decay``
    accepts a callable in the constructor)."""
    if framework == "jax":
        return ""  # optax's add_decayed_weights takes a schedule as weight_decay (optax/transforms/_adding.py)
    if framework == "tensorflow":
        if role == "optimizer" and coupling == "decoupled":
            return ""
        return "a Keras layer regularizer's coefficient is a constant"
    return WEIGHT_DECAY_SCHEDULE_REFUSALS.get(framework, f"{framework} takes no weight-decay schedule")
