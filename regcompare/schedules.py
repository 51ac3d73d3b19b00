"""Learning-rate schedules as each framework's real scheduler class runs them (docs/case-format.md, ``schedule``).

The canonical lr of each step is ``regcompare.rules.schedule_lr``; the registry's schedule records
(``regcompare.conventions.schedule_records``) map a case's schedule onto one scheduler class per framework, with the
class's own arguments, its source and how a training loop steps it, and say where a class documents another
convention (Keras' piecewise boundaries). This module looks them up for the adapters (``scheduler(framework, spec)``
and its ``kwargs(spec, lr)``), the judge (``semantics``: the oracle's options for a class's own convention), the rows
(``text``) and ``regcompare translate`` (``code``).

Stepping, checked against the pinned sources: torch (torch/optim/lr_scheduler.py ``LRScheduler.step``) and paddle
(python/paddle/optimizer/lr.py ``LRScheduler.step``) change the lr when ``scheduler.step()`` is called after
``optimizer.step()``, so step k (0-based) runs at lr(k); Keras (keras/src/optimizers/base_optimizer.py
``_get_current_learning_rate``) calls the schedule with ``optimizer.iterations``, which is k at step k.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from regcompare.conventions.schedule_records import (
    KERAS_MOMENTUM_WHY,
    KERAS_PIECEWISE_WHY,
    SCHEDULE_CLASSES,
    STEPPING,
    ScheduleClass,
    Spec,
)

__all__ = ["KERAS_MOMENTUM_WHY", "KERAS_PIECEWISE_WHY", "SAME_CLASSES", "SCHEDULERS", "STEPPING",
           "WEIGHT_DECAY_SCHEDULE_REFUSALS", "Scheduler", "classes_framework", "scheduler", "semantics", "text",
           "weight_decay_schedule_refusal"]


Scheduler = ScheduleClass
"""One scheduler class for one case schedule: a record of ``regcompare.conventions.schedule_records``."""

#: framework → case schedule name → its class, from the registry's records.
SCHEDULERS: dict[str, dict[str, Scheduler]] = {}
for _found in SCHEDULE_CLASSES:
    SCHEDULERS.setdefault(_found.framework, {})[_found.schedule] = _found


def semantics(framework: str, rule: str, settings: Mapping[str, Any]) -> tuple[dict[str, bool], str]:
    """The rule options by which ``framework``'s scheduled update differs from the canonical one (empty if it does
    not), and why: a scheduler class's own convention, or an optimizer whose form differs only once lr changes."""
    spec = settings.get("schedule")
    found = None if spec is None else scheduler(framework, spec)
    if found is None:
        return {}, ""
    options, whys = dict(found.options), [found.why] if found.why else []
    if classes_framework(framework) == "tensorflow" and rule == "sgd" and settings.get("momentum"):
        options["lr_in_momentum"] = True
        whys.append(KERAS_MOMENTUM_WHY)
    return options, "; ".join(whys)


def scheduler(framework: str, spec: Spec) -> Scheduler | None:
    """The scheduler class ``framework`` runs a case schedule with (None: no class for it)."""
    return SCHEDULERS.get(classes_framework(framework), {}).get(spec["name"])


#: Frameworks whose scheduler classes are another framework's: Keras' schedules are its own on every backend
#: (regcompare.adapters.keras_common.scheduled_kwargs builds them for keras-torch and keras-jax too).
SAME_CLASSES = {"keras-torch": "tensorflow", "keras-jax": "tensorflow"}


def classes_framework(framework: str) -> str:
    """The framework whose schedule records ``framework`` runs."""
    return SAME_CLASSES.get(framework, framework)


def text(framework: str, spec: Spec, lr: float, code: bool = False) -> str:
    """``torch.optim.lr_scheduler.StepLR(step_size=2, gamma=0.5)``: the class as rows show it; ``code``: as a user
    writes it (torch's ``LambdaLR`` function as a lambda, the optimizer first)."""
    found = scheduler(framework, spec)
    if found is None:
        return ""
    args = [f"{k}={_fmt(v, spec, lr, code)}" for k, v in found.kwargs(spec, lr).items()]
    if code and framework == "torch":
        args.insert(0, "optimizer")
    return f"{found.api}({', '.join(args)})"


def _fmt(value: Any, spec: Spec, lr: float, code: bool) -> str:
    if callable(value):
        if not code:
            return "<lambda k: values[bisect_right(boundaries, k)] / lr>"
        factors = ", ".join(f"{v / lr:g}" for v in spec["values"])
        return f"lambda k: ({factors})[bisect.bisect_right({tuple(spec['boundaries'])}, k)]"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v, spec, lr, code) for v in value) + "]"
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
    if classes_framework(framework) == "tensorflow":
        if role == "optimizer" and coupling == "decoupled":
            return ""
        return "a Keras layer regularizer's coefficient is a constant"
    return WEIGHT_DECAY_SCHEDULE_REFUSALS.get(framework, f"{framework} takes no weight-decay schedule")
