"""The scheduler classes of the registry: each framework's class for each case schedule, its own arguments and how
they carry the canonical schedule (``regcompare.rules.schedule_lr``), how a training loop steps it, and its source.

Everything about schedules derives from these records: the adapters build the classes from them
(``regcompare.schedules.scheduler``), the oracle takes a class's documented difference from its ``options``,
``regcompare conventions`` prints them, and ``regcompare translate --scheduler`` reads a source class's arguments
back into the canonical schedule (``ScheduleClass.read``) and writes every target's class from it.

A class's argument maps one canonical key (``step_size``, ``gamma``, ``t_max``, ``eta_min``, ``boundaries``,
``values``, ``warmup_steps``, ``start_factor``) or the optimizer's lr onto its own name (``form``), or is fixed to
the one value that makes the class the canonical schedule (Keras ``ExponentialDecay(staircase=True)`` is the step
schedule). Sources are files and functions of the pinned frameworks (torch 2.13.0, Keras 3.15.1, paddle 3.3.1).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Spec = Mapping[str, Any]
Form = Literal["key", "lr", "times_lr", "over_lr", "fixed", "piecewise_lambda", "first_value", "scales"]
REQUIRED = object()
"""An argument the class requires (no default)."""


class ScheduleReadError(ValueError):
    """A scheduler call that is not one of the canonical schedules; the message says which argument and why."""


@dataclass(frozen=True)
class ScheduleArg:
    """One argument of a scheduler class and the canonical value it carries:

    - ``key``: the schedule's ``key`` as it is; ``lr``: the optimizer's lr; ``times_lr`` / ``over_lr``: the key
      times / over lr (Keras ``alpha = eta_min/lr``); ``fixed``: always ``value``; ``piecewise_lambda``: torch's
      ``LambdaLR`` function, values[bisect_right(boundaries, k)]/lr; ``first_value``: values[0] (optax's
      ``init_value`` of a piecewise schedule); ``scales``: optax's ``boundaries_and_scales``, {boundaries[i]:
      values[i+1]/values[i]} (its lr is multiplied by each scale as the count passes the boundary)."""

    name: str
    form: Form
    key: str = ""
    value: Any = None
    default: Any = REQUIRED
    """The class's own default, for reading a call that leaves the argument out."""

    def native(self, spec: Spec, lr: float) -> Any:
        """The argument's value for a case schedule on the optimizer's ``lr``."""
        if self.form == "key":
            value = spec[self.key]
            return list(value) if isinstance(value, list | tuple) else value
        if self.form == "lr":
            return lr
        if self.form == "times_lr":
            return spec[self.key] * lr
        if self.form == "over_lr":
            return spec[self.key] / lr
        if self.form == "fixed":
            return self.value
        if self.form == "first_value":
            return float(spec["values"][0])
        if self.form == "scales":
            values = list(spec["values"])
            return {int(b): values[i + 1] / values[i] for i, b in enumerate(spec["boundaries"])}
        return piecewise_lambda(spec, lr)


def piecewise_lambda(spec: Spec, lr: float) -> Callable[[int], float]:
    """torch has no piecewise-constant class: a user writes ``LambdaLR`` with the values over the base lr."""
    boundaries, values = list(spec["boundaries"]), list(spec["values"])
    return lambda k: values[bisect.bisect_right(boundaries, k)] / lr


@dataclass(frozen=True)
class ScheduleClass:
    """One scheduler class for one case schedule (``schedule``: its canonical name)."""

    framework: str
    schedule: str
    api: str
    args: tuple[ScheduleArg, ...]
    source: str
    """File and function of the pinned framework that define its lr."""
    options: tuple[tuple[str, bool], ...] = ()
    """Where the class's lr differs from the canonical schedule with the same arguments: ``rules.lr_at`` options
    (the oracle's documented reference for ``divergent`` rows)."""
    why: str = ""
    """That difference, with its source."""
    boundary_shift: int = 0
    """For ``translate``: the class's boundaries that give the canonical lrs are the canonical ones plus this (Keras
    switches one step after a boundary: −1). Cases pass the boundaries as written, which shows the difference."""

    def kwargs(self, spec: Spec, lr: float) -> dict[str, Any]:
        """The class's keyword arguments for a case schedule (the torch adapter adds the optimizer first)."""
        return {a.name: a.native(spec, lr) for a in self.args}

    def translated(self, spec: Spec) -> dict[str, Any]:
        """The schedule whose ``kwargs`` give the canonical lrs with this class (``boundary_shift`` applied)."""
        if not self.boundary_shift or "boundaries" not in spec:
            return dict(spec)
        return dict(spec) | {"boundaries": [b + self.boundary_shift for b in spec["boundaries"]]}

    def read(self, native: Mapping[str, Any], lr: float | None) -> tuple[dict[str, Any], float]:
        """The canonical schedule and the lr of a call ``api(**native)`` on an optimizer with ``lr`` (None: the
        class carries its own); ``ScheduleReadError`` where no canonical schedule is that call."""
        unknown = sorted(set(native) - {a.name for a in self.args})
        if unknown:
            raise ScheduleReadError(f"{self.api} takes no argument {unknown[0]!r} here; it takes "
                                    f"{', '.join(a.name for a in self.args)}")
        given = {a.name: native.get(a.name, a.default) for a in self.args}
        missing = [name for name, value in given.items() if value is REQUIRED]
        if missing:
            raise ScheduleReadError(f"{self.api} needs {missing[0]}")
        lr = self._lr(given, lr)
        spec: dict[str, Any] = {"name": self.schedule}
        for a in self.args:
            value = given[a.name]
            if a.form == "fixed" and value != a.value:
                raise ScheduleReadError(f"{self.api}({a.name}={value!r}) is not a canonical {self.schedule} "
                                        f"schedule: {a.name}={a.value!r} is")
            if a.form == "piecewise_lambda":
                raise ScheduleReadError(f"{self.api} takes a Python function: translate reads numeric arguments "
                                        f"only (give the piecewise schedule as paddle PiecewiseDecay)")
            if a.form == "scales":  # values from init_value and the running product of the scales
                boundaries = sorted(int(b) for b in value)
                values = [float(given[next(x.name for x in self.args if x.form == "first_value")])]
                for b in boundaries:
                    values.append(values[-1] * float(value[b]))
                spec["boundaries"], spec["values"] = boundaries, values
            if a.form in ("key", "times_lr", "over_lr"):
                factor = {"key": 1.0, "times_lr": 1.0 / lr, "over_lr": lr}[a.form]
                spec[a.key] = value if a.form == "key" else value * factor
        if "boundaries" in spec:
            spec["boundaries"] = [int(b) - self.boundary_shift for b in spec["boundaries"]]
        return spec, lr

    def _lr(self, given: Mapping[str, Any], lr: float | None) -> float:
        """The lr the class runs on: its own (Keras ``initial_learning_rate``, paddle ``learning_rate``; every one
        of them equal), a piecewise schedule's first value, or the optimizer's."""
        own = {float(given[a.name]) for a in self.args if a.form == "lr"}
        if len(own) > 1:
            names = [a.name for a in self.args if a.form == "lr"]
            raise ScheduleReadError(f"{self.api}: {' and '.join(names)} differ, which no canonical schedule does")
        if own:
            return own.pop()
        if self.schedule == "piecewise" and "values" in given:
            return float(next(iter(given["values"])))
        firsts = [a.name for a in self.args if a.form == "first_value"]
        if firsts:
            return float(given[firsts[0]])
        if lr is None:
            raise ScheduleReadError(f"{self.api} takes its lr from the optimizer: give the optimizer's lr")
        return float(lr)


@dataclass(frozen=True)
class Stepping:
    """How a framework's training loop advances its schedules, and how the optimizer takes one."""

    framework: str
    counts: Literal["scheduler.step() calls", "optimizer iterations"]
    """What the schedule's step counts: calls of ``scheduler.step()`` (torch, paddle: the user decides, usually
    once per epoch in their docs' loops) or the optimizer's own iterations (Keras: every ``apply_gradients``)."""
    takes: str
    """How the optimizer gets the schedule, as code (``{scheduler}`` is the class call)."""
    source: str


def _a(name: str, form: Form, key: str = "", value: Any = None, default: Any = REQUIRED) -> ScheduleArg:
    return ScheduleArg(name, form, key, value, default)


KERAS_PIECEWISE_WHY = (
    "Keras PiecewiseConstantDecay switches after a boundary: values[i+1] once step > boundaries[i] "
    "(keras/src/optimizers/schedules/learning_rate_schedule.py), one step later than paddle PiecewiseDecay "
    "(step >= boundary)")

KERAS_MOMENTUM_WHY = (
    "Keras SGD keeps the lr inside its momentum (m ← μm − lr_k·g; w ← w + m: keras/src/optimizers/sgd.py), torch "
    "and paddle outside it (buf ← μ·buf + g; w ← w − lr_k·buf): under a schedule past steps keep their own lr")

_TORCH = "torch/optim/lr_scheduler.py"
_KERAS = "keras/src/optimizers/schedules/learning_rate_schedule.py"
_PADDLE = "python/paddle/optimizer/lr.py"
_OPTAX = "optax/schedules/_schedule.py"

SCHEDULE_CLASSES: tuple[ScheduleClass, ...] = (
    # --- torch.optim.lr_scheduler: the optimizer's lr is the base lr ---
    ScheduleClass("torch", "step", "torch.optim.lr_scheduler.StepLR",
                  (_a("step_size", "key", "step_size"), _a("gamma", "key", "gamma", default=0.1)),
                  f"{_TORCH} StepLR.get_lr"),
    ScheduleClass("torch", "exponential", "torch.optim.lr_scheduler.ExponentialLR",
                  (_a("gamma", "key", "gamma"),), f"{_TORCH} ExponentialLR.get_lr"),
    ScheduleClass("torch", "cosine", "torch.optim.lr_scheduler.CosineAnnealingLR",
                  (_a("T_max", "key", "t_max"), _a("eta_min", "key", "eta_min", default=0.0)),
                  f"{_TORCH} CosineAnnealingLR.get_lr (recursive form)"),
    ScheduleClass("torch", "piecewise", "torch.optim.lr_scheduler.LambdaLR",
                  (_a("lr_lambda", "piecewise_lambda"),), f"{_TORCH} LambdaLR.get_lr (base_lr·lr_lambda(k))"),
    ScheduleClass("torch", "warmup", "torch.optim.lr_scheduler.LinearLR",
                  (_a("start_factor", "key", "start_factor", default=1 / 3),
                   _a("end_factor", "fixed", value=1.0, default=1.0),
                   _a("total_iters", "key", "warmup_steps", default=5)),
                  f"{_TORCH} LinearLR.get_lr"),
    # --- keras.optimizers.schedules: the schedule carries the lr and is the optimizer's learning_rate ---
    ScheduleClass("tensorflow", "step", "keras.optimizers.schedules.ExponentialDecay",
                  (_a("initial_learning_rate", "lr"), _a("decay_steps", "key", "step_size"),
                   _a("decay_rate", "key", "gamma"), _a("staircase", "fixed", value=True, default=False)),
                  f"{_KERAS} ExponentialDecay.__call__ (lr·rate^floor(step/decay_steps) with staircase)"),
    ScheduleClass("tensorflow", "exponential", "keras.optimizers.schedules.ExponentialDecay",
                  (_a("initial_learning_rate", "lr"), _a("decay_steps", "fixed", value=1),
                   _a("decay_rate", "key", "gamma"), _a("staircase", "fixed", value=False, default=False)),
                  f"{_KERAS} ExponentialDecay.__call__ (lr·rate^(step/decay_steps))"),
    ScheduleClass("tensorflow", "cosine", "keras.optimizers.schedules.CosineDecay",
                  (_a("initial_learning_rate", "lr"), _a("decay_steps", "key", "t_max"),
                   _a("alpha", "over_lr", "eta_min", default=0.0)),
                  f"{_KERAS} CosineDecay.__call__ (lr·((1 − alpha)·(1 + cos(π·step/decay_steps))/2 + alpha))"),
    ScheduleClass("tensorflow", "piecewise", "keras.optimizers.schedules.PiecewiseConstantDecay",
                  (_a("boundaries", "key", "boundaries"), _a("values", "key", "values")),
                  f"{_KERAS} PiecewiseConstantDecay.__call__",
                  options=(("piecewise_switch_after", True),), why=KERAS_PIECEWISE_WHY, boundary_shift=-1),
    ScheduleClass("tensorflow", "warmup", "keras.optimizers.schedules.PolynomialDecay",
                  (_a("initial_learning_rate", "times_lr", "start_factor"), _a("decay_steps", "key", "warmup_steps"),
                   _a("end_learning_rate", "lr"), _a("power", "fixed", value=1.0, default=1.0)),
                  f"{_KERAS} PolynomialDecay.__call__ (rising from initial to end_learning_rate, power 1)"),
    # --- paddle.optimizer.lr: the scheduler carries the lr and is the optimizer's learning_rate ---
    ScheduleClass("paddle", "step", "paddle.optimizer.lr.StepDecay",
                  (_a("learning_rate", "lr"), _a("step_size", "key", "step_size"),
                   _a("gamma", "key", "gamma", default=0.1)),
                  f"{_PADDLE} StepDecay.get_lr"),
    ScheduleClass("paddle", "exponential", "paddle.optimizer.lr.ExponentialDecay",
                  (_a("learning_rate", "lr"), _a("gamma", "key", "gamma")), f"{_PADDLE} ExponentialDecay.get_lr"),
    ScheduleClass("paddle", "cosine", "paddle.optimizer.lr.CosineAnnealingDecay",
                  (_a("learning_rate", "lr"), _a("T_max", "key", "t_max"), _a("eta_min", "key", "eta_min", default=0)),
                  f"{_PADDLE} CosineAnnealingDecay.get_lr (recursive form, as torch)"),
    ScheduleClass("paddle", "piecewise", "paddle.optimizer.lr.PiecewiseDecay",
                  (_a("boundaries", "key", "boundaries"), _a("values", "key", "values")),
                  f"{_PADDLE} PiecewiseDecay.get_lr (values[i] once step >= boundaries[i−1])"),
    ScheduleClass("paddle", "warmup", "paddle.optimizer.lr.LinearWarmup",
                  (_a("learning_rate", "lr"), _a("warmup_steps", "key", "warmup_steps"),
                   _a("start_lr", "times_lr", "start_factor"), _a("end_lr", "lr")),
                  f"{_PADDLE} LinearWarmup.get_lr"),
    # --- optax's schedule functions: the schedule carries the lr and is the transform's learning_rate; optax calls
    # it with the update count, 0 at the first update (optax/_src/transform.py scale_by_schedule) ---
    ScheduleClass("jax", "step", "optax.exponential_decay",
                  (_a("init_value", "lr"), _a("transition_steps", "key", "step_size"), _a("decay_rate", "key", "gamma"),
                   _a("staircase", "fixed", value=True, default=False)),
                  f"{_OPTAX} exponential_decay (init·rate^floor(count/transition_steps) with staircase)"),
    ScheduleClass("jax", "exponential", "optax.exponential_decay",
                  (_a("init_value", "lr"), _a("transition_steps", "fixed", value=1), _a("decay_rate", "key", "gamma"),
                   _a("staircase", "fixed", value=False, default=False)),
                  f"{_OPTAX} exponential_decay (init·rate^(count/transition_steps))"),
    ScheduleClass("jax", "cosine", "optax.cosine_decay_schedule",
                  (_a("init_value", "lr"), _a("decay_steps", "key", "t_max"), _a("alpha", "over_lr", "eta_min",
                                                                                 default=0.0)),
                  f"{_OPTAX} cosine_decay_schedule (init·((1 − alpha)·(1 + cos(π·count/decay_steps))/2 + alpha))"),
    ScheduleClass("jax", "piecewise", "optax.piecewise_constant_schedule",
                  (_a("init_value", "first_value"), _a("boundaries_and_scales", "scales")),
                  f"{_OPTAX} piecewise_constant_schedule (switches once count >= boundary: "
                  "jnp.sign(threshold − count), as paddle; each value a scale of the last)"),
    ScheduleClass("jax", "warmup", "optax.linear_schedule",
                  (_a("init_value", "times_lr", "start_factor"), _a("end_value", "lr"),
                   _a("transition_steps", "key", "warmup_steps")),
                  f"{_OPTAX} linear_schedule (init → end over transition_steps counts)"),
)

STEPPING: dict[str, Stepping] = {
    "torch": Stepping("torch", "scheduler.step() calls",
                      "scheduler = {scheduler}; scheduler.step() after optimizer.step()",
                      f"{_TORCH} LRScheduler.step (the docs' loops call it once per epoch)"),
    "tensorflow": Stepping("tensorflow", "optimizer iterations", "learning_rate={scheduler} in place of the number",
                           "keras/src/optimizers/base_optimizer.py _get_current_learning_rate "
                           "(schedule(optimizer.iterations), every apply_gradients)"),
    "paddle": Stepping("paddle", "scheduler.step() calls",
                       "learning_rate=scheduler in place of the number, scheduler = {scheduler}; "
                       "scheduler.step() after optimizer.step()",
                       f"{_PADDLE} LRScheduler.step (the docs' loops call it once per epoch or per batch)"),
    "jax": Stepping("jax", "optimizer iterations", "learning_rate={scheduler} in place of the number",
                    "optax/_src/transform.py scale_by_schedule (schedule(count), count 0 at the first update)"),
}


def classes(framework: str) -> tuple[ScheduleClass, ...]:
    return tuple(c for c in SCHEDULE_CLASSES if c.framework == framework)


def schedule_classes(framework: str) -> str:
    """``step: torch.optim.lr_scheduler.StepLR, …``: the class each schedule runs with, for the records."""
    return ", ".join(f"{c.schedule}: {c.api}" for c in classes(framework))


def caveats(framework: str) -> tuple[str, ...]:
    """The records' lines for ``regcompare conventions``: one per class, with its arguments and source."""
    out = []
    for c in classes(framework):
        args = ", ".join(_arg_text(a) for a in c.args)
        out.append(f"{c.schedule}: {c.api}({args}) — {c.source}"
                   + (f"; boundaries − {-c.boundary_shift} give the canonical lrs" if c.boundary_shift else ""))
    stepping = STEPPING.get(framework)
    if stepping is not None:
        out.append(f"Stepped by {stepping.counts}: {stepping.source}; the optimizer takes it as "
                   + stepping.takes.format(scheduler="<class>"))
    return tuple(out)


def _arg_text(a: ScheduleArg) -> str:
    shown = {"key": a.key, "lr": "lr", "times_lr": f"{a.key}·lr", "over_lr": f"{a.key}/lr",
             "fixed": repr(a.value), "piecewise_lambda": "lambda k: values[bisect_right(boundaries, k)]/lr"}
    return f"{a.name}={shown[a.form]}"
