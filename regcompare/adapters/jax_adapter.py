"""jax: penalties written with jax.numpy (gradients by ``jax.grad``), optax's weight decay and flax's kernels-only
decay, each a real call of jax 0.10 / optax 0.2.8 / flax 0.12.8.

64-bit floats are enabled before anything is computed (``jax_enable_x64``): without it jax silently turns every
float64 array into float32. Arrays keep the task's dtype throughout (float16 and bfloat16 included): a Python
float coefficient is weakly typed in jax and so never widens a low-precision computation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import jax

jax.config.update("jax_enable_x64", True)  # before any array is made: float64 stays float64

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

from regcompare import program_run, schedules  # noqa: E402
from regcompare.adapters.base import Adapter, Task, Unsupported, Value  # noqa: E402
from regcompare.conventions.jax_records import SCALING  # noqa: E402

Params = dict[str, jax.Array]
Penalty = Callable[[Params], jax.Array]


def to_jax(array: np.ndarray, dtype: str) -> jax.Array:
    """Exact: jax reads numpy's float16/32/64 and ml_dtypes' bfloat16 as they are; the dtype check guards
    against a silent cast (float64 without x64 would become float32)."""
    out = jnp.asarray(np.asarray(array))
    if out.dtype.name != dtype:
        raise TypeError(f"weights arrived as {out.dtype.name}, task says {dtype}")
    return out


def to_numpy(array: jax.Array) -> np.ndarray:
    """In the array's own dtype (bfloat16 as ml_dtypes.bfloat16); the worker widens."""
    return np.asarray(array)


def handwritten(native: dict[str, float]) -> Penalty:
    """``l1 * Σ jnp.sum(jnp.abs(p)) + l2 / 2 * Σ jnp.sum(p ** 2)`` over the parameter tree, as flax examples write
    the decay penalty. A term with a zero coefficient is not written, as a user would not write it (so 0·inf
    never makes an infinite weight's gradient NaN)."""
    l1, l2 = native.get("l1", 0.0), native.get("l2", 0.0)

    def penalty(params: Params) -> jax.Array:
        leaves = jax.tree_util.tree_leaves(params)
        total = jnp.zeros((), leaves[0].dtype)
        if l2:
            total = total + l2 / 2 * sum(jnp.sum(p**2) for p in leaves)
        if l1:
            total = total + l1 * sum(jnp.sum(jnp.abs(p)) for p in leaves)
        return total

    return penalty


def tree_norm(native: dict[str, float]) -> Penalty:
    """``l2 / 2 * optax.tree_utils.tree_norm(params, squared=True)``: optax's own Σ‖p‖² over the tree."""
    l2 = native.get("l2", 0.0)
    return lambda params: l2 / 2 * optax.tree_utils.tree_norm(params, squared=True)


def _mask(task: Task, params: Params) -> Any:
    """optax's ``mask``: None without a scope (every leaf decayed), a pytree of bools with one, or the ``mask``
    variant's callable that keeps every leaf (the masked code path on an unscoped case)."""
    scope = task.options.get("scope")
    if scope is not None:
        return {n: n in scope for n in params}
    if task.options["args"].get("mask") == "callable":
        return lambda tree: jax.tree.map(lambda _: True, tree)
    return None


def _hypers(task: Task) -> dict[str, Any]:
    """The optimizer's own arguments (the variant's ``mask`` key is applied through ``_mask``), its learning rate
    the case's schedule as optax's schedule function when there is one."""
    args = {k: v for k, v in task.options["args"].items() if k != "mask"}
    if "momentum" in args and not args["momentum"]:
        args["momentum"] = None  # optax.sgd's "no momentum" is None (no trace at all), not a trace of decay 0
    schedule = lr_schedule(task)
    if schedule is not None:
        args["learning_rate"] = schedule
    return args


def lr_schedule(task: Task) -> optax.Schedule | None:
    """The case's ``schedule`` as optax's schedule function (regcompare.schedules), None for a constant lr. optax
    calls it with the update count, 0 at the first update (scale_by_schedule), so step k runs at lr(k)."""
    spec = task.options.get("schedule")
    if spec is None:
        return None
    found = schedules.scheduler("jax", spec)
    if found is None:
        raise LookupError(f"no optax schedule for {spec['name']!r}")
    make = getattr(optax, found.api.removeprefix("optax."))
    return make(**found.kwargs(spec, float(task.options["args"]["learning_rate"])))


def _decay(task: Task) -> float | optax.Schedule:
    """The case's decay coefficient: a constant, or with a weight-decay schedule (``schedule.weight_decay``)
    wd·lr(k)/lr₀ as a schedule, which add_decayed_weights calls with its own count (optax/transforms/_adding.py)."""
    wd = float(task.native.get("weight_decay", 0.0))
    spec = task.options.get("schedule")
    schedule = lr_schedule(task)
    if schedule is None or spec is None or not spec.get("weight_decay"):
        return wd
    lr0 = float(spec["values"][0]) if spec["name"] == "piecewise" else float(task.options["args"]["learning_rate"])
    return lambda count: wd * schedule(count) / lr0


def _scaling(name: str, args: dict[str, Any]) -> optax.GradientTransformation:
    """The scaling transform of an optax alias without its learning rate, as optax/_src/alias.py builds it:
    sgd = chain(trace(momentum, nesterov), scale_by_learning_rate); adam = chain(scale_by_adam, …); nadam is
    adam(nesterov=True); rmsprop = chain(scale_by_rms|scale_by_stddev, scale_by_learning_rate, trace(momentum)),
    whose trace comes here before the decay (the same steps at a constant learning rate)."""
    a = {k: v for k, v in args.items() if k != "learning_rate"}
    if name == "optax.sgd":
        momentum = a.get("momentum")
        return optax.identity() if momentum is None else optax.trace(momentum, nesterov=a.get("nesterov", False))
    if name == "optax.rmsprop":
        momentum, centered = a.pop("momentum", None), a.pop("centered", False)
        rms = (optax.scale_by_stddev if centered else optax.scale_by_rms)(**a)
        return rms if momentum is None else optax.chain(rms, optax.trace(momentum))
    if name == "optax.nadam":
        return optax.scale_by_adam(**a, nesterov=True)
    if name not in SCALING:
        raise LookupError(f"no scaling transform for {name}")
    return getattr(optax, SCALING[name].removeprefix("optax."))(**a)


def _optimizer(name: str, args: dict[str, Any]) -> optax.GradientTransformation:
    """An optax alias; one with a decay of its own gets ``weight_decay=0.0`` (optax.lion's default is 1e-3): the
    chain's add_decayed_weights is then the only decay."""
    fn = getattr(optax, name.removeprefix("optax."))
    own = {"weight_decay": 0.0} if "weight_decay" in inspect.signature(fn).parameters else {}
    return fn(**args, **own)


#: The mask argument of the aliases with a decay of their own (optax/_src/alias.py: adadelta's is weight_decay_mask).
_MASK_ARG = {"optax.adadelta": "weight_decay_mask"}


class JaxAdapter(Adapter):
    framework = "jax"
    # jax runs all four dtypes here; Unsupported is this adapter's own refusal (flax's mask against a scope).
    refusals = (Unsupported,)

    def __init__(self) -> None:
        super().__init__()
        self.apis = {
            "jax.handwritten": self.penalty(handwritten),
            "optax.tree_utils.tree_norm": self.penalty(tree_norm),
            "optax.add_decayed_weights": self.coupled,
            "optax.add_decayed_weights.after": self.decoupled,
            **{api: self.own for api in ("optax.adamw", "optax.adamaxw", "optax.nadamw", "optax.lion", "optax.lamb",
                                         "optax.adadelta")},
            "flax.nnx.Optimizer": self.flax,
        }

    def version(self) -> str:
        return f"jax {jax.__version__}, optax {optax.__version__}, flax {version('flax')}"

    def program(self, task: Task) -> Value:
        """The user's snippet (docs/programs.md) given ``params`` (a dict of jax arrays), ``jax``, ``jnp`` and
        ``optax``; it defines ``tx``, an optax GradientTransformation, trained in optax's idiom: ``grads =
        jax.grad(loss)(params)`` (the loss Σ g⊙w, so every gradient is the case's g), ``updates, state =
        tx.update(grads, state, params)``, ``params = optax.apply_updates(params, updates)``; a schedule is
        ``tx``'s own learning_rate. The weights after every step, in the case's layout."""
        params = {n: to_jax(w, task.dtype) for n, w in task.weights.items()}
        names = program_run.run_snippet(task, {"jax": jax, "jnp": jnp, "optax": optax, "params": params}, "tx")
        for other in ("model", "step", "scheduler"):
            if other in names:
                raise program_run.ProgramError(f"the jax snippet defines `{other}`: jax programs train `params` with "
                                               "`tx` only (an optax schedule goes in tx's learning_rate)")
        tx = names["tx"]
        grads = {n: to_jax(g, task.dtype) for n, g in task.options["grads"].items()}

        def loss(p: Params) -> jax.Array:
            return sum(jnp.sum(grads[n] * p[n]) for n in p)

        state = {"params": params, "opt": tx.init(params)}

        def step() -> None:
            updates, state["opt"] = tx.update(jax.grad(loss)(state["params"]), state["opt"], state["params"])
            state["params"] = optax.apply_updates(state["params"], updates)

        def read() -> dict[str, np.ndarray]:
            return {n: to_numpy(p).copy() for n, p in state["params"].items()}

        history = program_run.train(task.options["steps"], step, None, read)
        out: dict[str, np.ndarray] = {n: np.stack(h) for n, h in history.items()}
        return out | {program_run.MAPPING_KEY: np.asarray("")}

    def penalty(self, make: Callable[[dict[str, float]], Penalty]) -> Callable[[Task], Value]:
        """An API measured as a penalty, or its gradient per tensor by ``jax.grad``."""

        def run(task: Task) -> Value:
            params = {n: to_jax(w, task.dtype) for n, w in task.weights.items()}
            penalty = make(task.native)
            if task.quantity == "penalty":
                return to_numpy(penalty(params))
            if task.quantity != "gradient":
                raise ValueError(f"{task.api} measures a penalty or its gradient, not {task.quantity!r}")
            return {n: to_numpy(g) for n, g in jax.grad(penalty)(params).items()}

        return run

    # --- update: optax chains, applied by optax.apply_updates -------------------------------------------------

    def coupled(self, task: Task) -> Value:
        """``chain(add_decayed_weights(wd, mask), optax.sgd|adam(…))``: the decay term goes through the optimizer."""
        params = self._params(task)
        decay = optax.add_decayed_weights(_decay(task), _mask(task, params))
        return self._steps(task, params, optax.chain(decay, _optimizer(task.options["optimizer"], _hypers(task))))

    def decoupled(self, task: Task) -> Value:
        """``chain(<scaling>, add_decayed_weights(wd, mask), scale_by_learning_rate(lr))``: after the scaling."""
        params, args = self._params(task), _hypers(task)
        decay = optax.add_decayed_weights(_decay(task), _mask(task, params))
        chain = optax.chain(_scaling(task.options["optimizer"], args), decay,
                            optax.scale_by_learning_rate(args["learning_rate"]))
        return self._steps(task, params, chain)

    def own(self, task: Task) -> Value:
        """An alias with its own decay argument: ``optax.adamw|adamaxw|nadamw|lion|lamb|adadelta(…, weight_decay,
        mask)`` (adadelta's mask is ``weight_decay_mask``)."""
        params = self._params(task)
        name = task.options["optimizer"]
        mask = {_MASK_ARG.get(name, "mask"): _mask(task, params)}
        tx = getattr(optax, name.removeprefix("optax."))(**_hypers(task), weight_decay=_decay(task), **mask)
        return self._steps(task, params, tx)

    def flax(self, task: Task) -> Value:
        """The case's tensors as the ``nnx.Param``s of an nnx module, trained by ``nnx.Optimizer(model,
        optax.adamw(…, mask=…), wrt=nnx.Param)``. With a scope the mask is flax examples' kernels-only one,
        ``p.ndim > 1``, which must then be the case's scope; without one every parameter is decayed."""
        params = self._params(task)
        scope = task.options.get("scope")
        mask: Any = None
        if scope is not None:
            kernels = sorted(n for n, p in params.items() if p.ndim > 1)
            if kernels != sorted(scope):
                raise Unsupported(f"flax's kernels-only mask (p.ndim > 1) decays {kernels}, the case's scope is "
                                  f"{sorted(scope)}")
            mask = lambda tree: jax.tree.map(lambda p: p.ndim > 1, tree)  # noqa: E731 — the flax examples' mask
        elif task.options["args"].get("mask") == "callable":
            mask = _mask(task, params)
        model = Model(params)
        optimizer = nnx.Optimizer(model, optax.adamw(**_hypers(task), weight_decay=_decay(task), mask=mask),
                                  wrt=nnx.Param)
        grads = {n: to_jax(g, task.dtype) for n, g in task.options["grads"].items()}

        def loss(m: Model) -> jax.Array:  # Σ g⊙p: its gradient is the case's loss gradient, as nnx.grad gives it
            return sum(jnp.sum(grads[n] * getattr(m, n)[...]) for n in params)

        for _ in range(task.options["steps"]):
            optimizer.update(model, nnx.grad(loss)(model))
        return {n: to_numpy(getattr(model, n)[...]) for n in params}

    def _params(self, task: Task) -> Params:
        if task.quantity != "update":
            raise LookupError(f"{task.api} measures an update, not {task.quantity!r}")
        return {n: to_jax(w, task.dtype) for n, w in task.weights.items()}

    def _steps(self, task: Task, params: Params, tx: optax.GradientTransformation) -> Value:
        """``steps`` times ``tx.update`` on the case's loss gradient, then ``optax.apply_updates``."""
        grads = {n: to_jax(g, task.dtype) for n, g in task.options["grads"].items()}
        state = tx.init(params)
        for _ in range(task.options["steps"]):
            updates, state = tx.update(grads, state, params)
            params = optax.apply_updates(params, updates)
        return {n: to_numpy(p) for n, p in params.items()}


class Model(nnx.Module):
    """A flax module whose parameters are the case's tensors, each an ``nnx.Param`` under the case's name."""

    def __init__(self, tensors: Params) -> None:
        for name, value in tensors.items():
            setattr(self, name, nnx.Param(value))


ADAPTER = JaxAdapter
