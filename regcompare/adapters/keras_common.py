"""The Keras 3 APIs on whichever backend Keras runs: its weight regularizers and its optimizers, shared by the
tensorflow, keras-torch and keras-jax workers. Only the autodiff is the backend's own (``KerasAdapter``'s hooks).

Import this module only after ``keras_backend.pin``: it imports Keras, which picks its backend at that moment.
Every API is called as a user calls it, on tensors of the task's dtype, with no cast of ours. What Keras 3.15 does
per dtype (keras/src/regularizers/regularizers.py), on every backend:

* ``L1.__call__``/``L2.__call__`` return ``ops.cast(coeff, dtype=x.dtype) * ops.sum(...)`` and ``L1L2`` starts
  from ``ops.convert_to_tensor(0.0, dtype=x.dtype)``: the arithmetic stays in the input's dtype (float16 squares
  and sums overflow at 65504; nothing is widened to floatx).
* The coefficient is a Python float (``L1`` even stores ``ops.convert_to_tensor(l1)``, a float32 tensor), rounded
  to float32 before it reaches float64 (``L2(0.01)`` in float64 multiplies by 0.009999999776…).
* ``L1L2`` skips a term whose coefficient is 0, so ``L1L2()`` returns a constant unconnected to the weights (its
  gradient is "unconnected": zero here, as an optimizer sees it).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import keras
import numpy as np
from keras import ops

from regcompare import program_run, schedules
from regcompare.adapters.base import Adapter, Task, Unsupported, Value, tuple_args

#: A backend tensor (tf.Tensor, torch.Tensor, jax.Array).
Tensor = Any
#: A penalty of one tensor, built from the task's native arguments: the framework call under test.
TensorPenalty = Callable[[Tensor], Tensor]
#: The Keras APIs every backend runs, by their registry id on tensorflow (other backends add ``KerasAdapter.suffix``).
REGULARIZERS = ("keras.regularizers.L1", "keras.regularizers.L2", "keras.regularizers.L1L2")
#: Ftrl's own regularization arguments, applied inside its update (no weight_decay).
FTRL = ("keras.optimizers.Ftrl.proximal", "keras.optimizers.Ftrl.shrinkage")


def keras_regularizer(cls: type[keras.regularizers.Regularizer], native: dict[str, float]) -> TensorPenalty:
    """``cls(**native)``: an empty ``native`` calls the API with its own defaults (L1/L2: 0.01, L1L2: 0)."""
    try:
        return cls(**native)
    except ValueError as exc:
        # Keras' own argument check (validate_float_arg: negative, inf or nan coefficient) refuses the
        # input; only the constructor is guarded, so a ValueError elsewhere stays an error row.
        raise Unsupported(f"{cls.__name__}({native}): {exc}") from exc


def scheduled_kwargs(task: Task, kwargs: dict[str, Any], holder: list[Any]) -> dict[str, Any]:
    """The optimizer arguments a ``schedule`` replaces: ``learning_rate`` by the Keras schedule object (called with
    ``optimizer.iterations``), and with ``schedule.weight_decay`` the ``weight_decay`` by a callable following it,
    as a user writes it (``holder`` receives the optimizer the callable reads its iterations from). Keras'
    schedules are its own on every backend; their records are the tensorflow worker's."""
    spec = task.options.get("schedule")
    if spec is None:
        return {}
    found = schedules.scheduler("tensorflow", spec)
    if found is None:
        raise LookupError(f"no Keras schedule for {spec['name']!r}")
    lr = kwargs["learning_rate"]
    schedule = getattr(keras.optimizers.schedules, found.api.rsplit(".", 1)[1])(**found.kwargs(spec, lr))
    out: dict[str, Any] = {"learning_rate": schedule}
    wd = kwargs.get("weight_decay")
    if spec.get("weight_decay") and wd is not None:
        out["weight_decay"] = lambda: wd * schedule(holder[0].iterations) / lr
    return out


@contextmanager
def weight_decay_refusal(optimizer: keras.optimizers.Optimizer) -> Iterator[None]:
    """Keras takes a callable ``weight_decay`` in the constructor and refuses it at the first ``apply_gradients``
    (it converts it to a tensor: a ValueError on TensorFlow, a TypeError on torch and jax, where its update multiplies
    or converts the function): that refusal is an ``unsupported`` row with Keras' own message."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        if not callable(getattr(optimizer, "weight_decay", None)):
            raise
        raise Unsupported(f"{type(optimizer).__name__}(weight_decay=<callable>).apply_gradients: {exc}") from exc


def constant(array: np.ndarray) -> Callable[..., Tensor]:
    """An initializer holding exactly ``array`` (Keras' Constant takes a scalar only)."""

    def init(shape: tuple[int, ...], dtype: str | None = None) -> Tensor:
        return ops.convert_to_tensor(array)

    return init


def to_numpy(tensor: Tensor) -> np.ndarray:
    """In the tensor's own dtype (bfloat16 comes back as ``ml_dtypes.bfloat16``); the worker widens."""
    return np.asarray(ops.convert_to_numpy(tensor))


def total(terms: Sequence[Tensor]) -> Tensor:
    """Terms added up in their dtype, left to right, as Keras adds a model's losses."""
    return functools.reduce(operator.add, terms)


def run_keras_snippet(task: Task, names: dict[str, Any]) -> tuple[dict[str, keras.Variable], dict[str, Any]]:
    """The user's snippet (regcompare.program_run) with ``params`` — the case's weights as ``keras.Variable``s of
    the task's dtype, ``keras.config.floatx`` set to it while the snippet builds layers — and ``names``; returns
    ``params`` and what the snippet defined. Every backend's program path starts here."""
    params = {n: keras.Variable(np.asarray(w), dtype=task.dtype, name=n) for n, w in task.weights.items()}
    previous = keras.config.floatx()
    keras.config.set_floatx(task.dtype if task.dtype != "bfloat16" else previous)
    try:
        defined = program_run.run_snippet(task, {"keras": keras, "params": params, **names})
    finally:
        keras.config.set_floatx(previous)
    return params, defined


def bound_program_weights(task: Task, model: Any, params: dict[str, keras.Variable]) -> dict[str, Any]:
    """A program's trained variables by the case's weight names: ``params``, or the built ``model``'s variables
    matched by their Keras names (``kernel``, ``bias``, …; regcompare.program_run.bind) and set to the case's
    values. The same matching as the tensorflow worker's, on any backend."""
    if model is None:
        return {n: program_run.LayoutEntry(n, n, v) for n, v in params.items()}
    if not model.built:
        raise program_run.ProgramError("the snippet's model is not built: call model.build(input_shape)")
    # Keras numbers layer names per process (dense_3/kernel): the number is dropped, so the text is reproducible.
    entries = [program_run.LayoutEntry(v.name, re.sub(r"_\d+(?=/|$)", "", v.path), v) for v in model.trainable_weights]
    bound = program_run.bind(list(task.weights), entries)
    for name, entry in bound.items():
        if entry.param.dtype != task.dtype:
            raise program_run.ProgramError(f"the model's {entry.where} is {entry.param.dtype}, the case's dtype "
                                           f"{task.dtype}: build the layer with dtype={task.dtype!r}")
        entry.param.assign(np.asarray(task.weights[name]))
    return bound


class KerasAdapter(Adapter):
    """Keras' regularizer and optimizer APIs; a subclass gives the backend's autodiff (``_grad``,
    ``_gradients``) and may measure penalties its own way (``_measure``)."""

    backend: ClassVar[str]
    suffix: ClassVar[str] = ""
    """What this backend's records add to the tensorflow ids (``@torch``: ``keras.regularizers.L2@torch``)."""

    def keras_apis(self) -> dict[str, Callable[[Task], Value]]:
        """The Keras APIs under this backend's ids; optimizers not listed run through ``optimizer``."""
        calls = (self.keras_l1, self.keras_l2, self.keras_l1l2)
        apis = {f"{api}{self.suffix}": call for api, call in zip(REGULARIZERS, calls, strict=True)}
        for name in ("SGD", "Adam", "AdamW"):
            apis[f"keras.optimizers.{name}{self.suffix}"] = self.optimizer_update
        for name in FTRL:
            apis[f"{name}{self.suffix}"] = self.ftrl_arguments
        return apis

    def optimizer(self, task: Task) -> Value:
        return self.optimizer_update(task)

    def run(self, task: Task) -> Value:
        # A Keras optimizer's id on this backend is its class's id plus the suffix: run it by the class.
        if (task.quantity == "update" and task.api not in self.apis and self.suffix
                and task.options.get("optimizer") == task.api.removesuffix(self.suffix)):
            return self.optimizer(task)
        return super().run(task)

    def program(self, task: Task) -> Value:
        """The user's snippet (docs/programs.md) on this backend, given ``params`` (``keras.Variable``s), ``keras``
        and ``ops``: it defines ``opt`` and may define a built ``model``, trained as the tensorflow worker trains it
        (loss Σ g⊙w plus ``model.losses``, as ``fit()`` adds them; ``opt.apply_gradients``), the gradient by this
        backend's autodiff. A custom ``step`` is TensorFlow's GradientTape idiom: the tensorflow worker's only."""
        params, names = run_keras_snippet(task, {"ops": ops})
        for other, why in (("scheduler", "Keras takes a schedule as the optimizer's learning_rate"),
                           ("step", "a custom step (GradientTape) runs in the tensorflow worker only")):
            if other in names:
                raise program_run.ProgramError(f"the snippet defines `{other}`: {why}")
        model = names.get("model")
        bound = bound_program_weights(task, model, params)
        grads = {n: ops.convert_to_tensor(np.asarray(g)) for n, g in task.options["grads"].items()}
        variables = [e.param for e in bound.values()]

        def weight(name: str) -> Tensor:
            entry = bound[name]
            return ops.transpose(entry.param.value) if entry.transposed else entry.param.value

        def loss() -> Tensor:
            return total([*(ops.sum(grads[n] * weight(n)) for n in bound), *(model.losses if model else [])])

        def step() -> None:
            names["opt"].apply_gradients(zip(self._gradients(loss, variables), variables, strict=True))

        history = program_run.train(task.options["steps"], step, None,
                                    lambda: {n: to_numpy(weight(n)).copy() for n in bound})
        mapping = program_run.mapping_text(bound) if model is not None else ""
        return {n: np.stack(h) for n, h in history.items()} | {program_run.MAPPING_KEY: np.asarray(mapping)}

    def keras_l1(self, task: Task) -> Value:
        return self._regularizer(task, keras.regularizers.L1)

    def keras_l2(self, task: Task) -> Value:
        return self._regularizer(task, keras.regularizers.L2)

    def keras_l1l2(self, task: Task) -> Value:
        return self._regularizer(task, keras.regularizers.L1L2)

    def _regularizer(self, task: Task, cls: type[keras.regularizers.Regularizer]) -> Value:
        regularizer = keras_regularizer(cls, task.native)
        if task.quantity == "update":
            return self.layer_update(task, regularizer)
        return self._measure(task, regularizer)

    # --- the backend's autodiff ------------------------------------------------------------------------------

    def _grad(self, fn: Callable[[list[Tensor]], Tensor], tensors: list[Tensor]) -> list[Tensor]:
        """The gradient of ``fn`` at ``tensors`` (zero for a tensor ``fn`` does not use)."""
        raise NotImplementedError

    def _gradients(self, loss: Callable[[], Tensor], variables: list[keras.Variable]) -> list[Tensor]:
        """The gradient of ``loss()`` (which reads the variables' values) with respect to ``variables``."""
        raise NotImplementedError

    def _measure(self, task: Task, penalty_of: TensorPenalty) -> Value:
        """The penalty summed over the task's tensors (in their dtype), or its gradient per tensor."""
        names = list(task.weights)
        tensors = [ops.convert_to_tensor(np.asarray(task.weights[n])) for n in names]
        for name, t in zip(names, tensors, strict=True):
            if ops.dtype(t) != task.dtype:
                raise TypeError(f"{name} arrived as {ops.dtype(t)}, task says {task.dtype}")

        def penalty(values: list[Tensor]) -> Tensor:
            return total([penalty_of(v) for v in values])

        if task.quantity == "penalty":
            return to_numpy(penalty(tensors))
        if task.quantity != "gradient":
            raise ValueError(f"{task.api} measures a penalty or its gradient, not {task.quantity!r}")
        grads = self._grad(penalty, tensors)
        return {n: to_numpy(g) for n, g in zip(names, grads, strict=True)}

    # --- update: real Keras optimizer steps --------------------------------------------------------------------

    def optimizer_update(self, task: Task) -> Value:
        """``keras.optimizers.X(weight_decay=…).apply_gradients`` with the case's loss gradients, ``steps`` times.

        Keras applies ``weight_decay`` itself, decoupled (``BaseOptimizer._apply_weight_decay``), before each step.
        With a placement (``scope``, ``param``) the weights live in a layer instead, see ``layer_update``.
        """
        if "scope" in task.options or "param" in task.options:
            return self.layer_update(task, None, weight_decay=task.native.get("weight_decay"))
        return self._steps(task, self._optimizer(task, weight_decay=task.native.get("weight_decay")))

    def ftrl_arguments(self, task: Task) -> Value:
        """``keras.optimizers.Ftrl(l1_regularization_strength=…, l2_…, l2_shrinkage_…)``: Ftrl's own regularization
        arguments, applied inside its update (no weight_decay)."""
        if task.quantity != "update":
            raise LookupError(f"{task.api} measures an update, not {task.quantity!r}")
        return self._steps(task, self._optimizer(task, **task.native))

    def _steps(self, task: Task, optimizer: keras.optimizers.Optimizer) -> Value:
        """``steps`` calls of ``optimizer.apply_gradients`` with the case's loss gradients, on plain variables."""
        variables = {n: keras.Variable(np.asarray(w), dtype=task.dtype, name=n) for n, w in task.weights.items()}
        grads = {n: ops.convert_to_tensor(np.asarray(g)) for n, g in task.options["grads"].items()}
        for _ in range(task.options["steps"]):
            with weight_decay_refusal(optimizer):
                optimizer.apply_gradients([(grads[n], v) for n, v in variables.items()])
        return {n: to_numpy(v.value) for n, v in variables.items()}

    def layer_update(self, task: Task, regularizer: TensorPenalty | None, weight_decay: float | None = None) -> Value:
        """Weights of a layer, each with its ``regularizer`` (what ``kernel_regularizer`` does), trained by the
        case's Keras optimizer: loss = Σ g⊙w + Σ layer.losses, gradient by the backend's autodiff.

        ``regularizer`` is the API's own (a layer regularizer API, on the ``scope`` tensors); an optimizer API
        passes its ``weight_decay`` instead, excluded outside ``scope`` by ``exclude_from_weight_decay``. A
        ``param`` placement puts that regularizer on its tensors as well: both apply, as in a user's model.
        """
        layer = keras.layers.Layer(dtype=task.dtype)
        variables = {
            n: layer.add_weight(shape=w.shape, dtype=task.dtype, name=n, regularizer=self._placed(task, n, regularizer),
                                initializer=constant(np.asarray(w)))
            for n, w in task.weights.items()
        }
        optimizer = self._optimizer(task, weight_decay=weight_decay)
        scope = task.options.get("scope")
        if weight_decay is not None and scope is not None:
            if task.options["args"].get("scope_by") == "var_names":
                # Keras matches these as regular expressions searched in each variable's name (re.search)
                optimizer.exclude_from_weight_decay(var_names=[n for n in variables if n not in scope])
            else:
                optimizer.exclude_from_weight_decay(var_list=[v for n, v in variables.items() if n not in scope])
        grads = {n: ops.convert_to_tensor(np.asarray(g)) for n, g in task.options["grads"].items()}
        ordered = list(variables.values())

        def loss() -> Tensor:
            data_loss = total([ops.sum(grads[n] * v.value) for n, v in variables.items()])
            return total([data_loss, *layer.losses])  # the layer's regularization losses, as fit() adds them

        for _ in range(task.options["steps"]):
            gradients = self._gradients(loss, ordered)
            with weight_decay_refusal(optimizer):
                optimizer.apply_gradients(zip(gradients, ordered, strict=True))
        return {n: to_numpy(v.value) for n, v in variables.items()}

    def _placed(self, task: Task, name: str, own: TensorPenalty | None) -> TensorPenalty | None:
        """The regularizer a tensor carries: the API's own within ``scope``, or the ``param`` placement's."""
        scope, param = task.options.get("scope"), task.options.get("param")
        if param is not None and (param["scope"] is None or name in param["scope"]):
            cls = getattr(keras.regularizers, param["api"].removesuffix(self.suffix).rsplit(".", 1)[1])
            return keras_regularizer(cls, param["native"])
        return own if scope is None or name in scope else None

    def _optimizer(self, task: Task, **extra: float | None) -> keras.optimizers.Optimizer:
        cls = getattr(keras.optimizers, task.options["optimizer"].rsplit(".", 1)[1])
        args = {k: v for k, v in tuple_args(task.options["args"]).items() if k != "scope_by"}  # a placement
        kwargs = {**args, **extra}
        holder: list[keras.optimizers.Optimizer] = []
        optimizer = cls(**kwargs | scheduled_kwargs(task, kwargs, holder))
        holder.append(optimizer)
        return optimizer
