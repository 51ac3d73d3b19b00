"""paddle: the hand-written penalty idiom, and L1Decay/L2Decay applied by a real ``paddle.optimizer.SGD`` step;
weight normalization (``paddle.nn.utils.weight_norm``, and ``paddle.static.WeightNormParamAttr`` in a static
Program of its own per task, the worker staying in dygraph otherwise).

Paddle has no penalty function: its regularizers (``paddle.regularizer.L1Decay``/``L2Decay``) only exist
inside an optimizer step, where ``Optimizer._create_regularization_of_grad`` adds
``L2Decay(coeff)(param) = coeff * param`` or ``L1Decay(coeff)(param) = coeff * sign(param)`` to the
gradient before the update (``python/paddle/regularizer.py``, ``python/paddle/optimizer/optimizer.py``).
So those APIs are measured like ``torch.optim.SGD``: one real step with a zero loss gradient, the term
recovered as ``(w - w')/lr`` (``regcompare.measure``).

A regularizer reaches a parameter in one of two ways, and paddle 3.3.1's ``_create_regularization_of_grad``
says which wins::

    if hasattr(param, 'regularizer') and param.regularizer is not None:
        regularization_term = param.regularizer(param, grad, grad.block)
    elif regularization is not None:
        regularization_term = regularization(param, grad, grad.block)

i.e. a ``ParamAttr(regularizer=...)`` replaces the optimizer's ``weight_decay`` for that parameter;
they never add up. The ``ParamAttr`` APIs therefore build the optimizer with no ``weight_decay`` at all.
"""

from __future__ import annotations

import functools
import operator
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import ml_dtypes
import numpy as np

from regcompare import measure, program_run, schedules
from regcompare.adapters.base import Adapter, Task, Unsupported, Value, tuple_args
from regcompare.conventions import weight_norm_g_shape, weight_norm_tensors
from regcompare.trajectory import minibatches

with warnings.catch_warnings():
    # paddle.utils.cpp_extension warns on import that ccache is missing; no extension is ever built here.
    warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
    import paddle

paddle.disable_static()  # dygraph: every call below runs eagerly, one real kernel each
paddle.set_device("cpu")

_PADDLE_DTYPES: dict[str, Any] = {
    "float16": paddle.float16,
    "bfloat16": paddle.bfloat16,
    "float32": paddle.float32,
    "float64": paddle.float64,
}

# Paddle says "no kernel for this dtype on this device" with an EnforceNotMet of code NOT_FOUND, which its
# pybind layer (paddle/fluid/pybind/exception.cc) raises as RuntimeError -- the same Python type it uses for
# PRECONDITION_NOT_MET, ALREADY_EXISTS, UNAVAILABLE..., which would be our bugs, not refusals. So RuntimeError
# is not a refusal type; only this message is, and it becomes ``Unsupported`` with paddle's own first sentence
# (the rest of the message is the list of dtypes paddle does have, a hint and a C++ file position).
_MISSING_KERNEL = re.compile(r"\(NotFound\) The kernel with key \(.+?\) of kernel `\w+` is not registered\.")


class MeasurementError(Exception):
    """The adapter could not set up a faithful call (weights changed on entry, no zero gradient): a bug."""


@contextmanager
def kernel_refusals() -> Iterator[None]:
    """Turn paddle's "kernel not registered" RuntimeError into ``Unsupported``; re-raise anything else."""
    try:
        yield
    except RuntimeError as exc:
        found = _MISSING_KERNEL.search(str(exc))
        if found is None:
            raise
        raise Unsupported(found.group(0)) from exc


def to_numpy(tensor: paddle.Tensor) -> np.ndarray:
    """The tensor's values in its own dtype; paddle hands bfloat16 out as its uint16 bit pattern."""
    array = tensor.detach().numpy()
    if tensor.dtype == paddle.bfloat16:
        return array.view(ml_dtypes.bfloat16)
    return array


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal as numbers, NaN matching NaN and the sign of zero kept (NaN payloads may differ)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False
    nan = np.isnan(a)
    return bool(
        np.array_equal(nan, np.isnan(b))
        and np.array_equal(a[~nan], b[~nan])
        and np.array_equal(np.signbit(a[~nan]), np.signbit(b[~nan]))
    )


def to_parameter(array: np.ndarray, dtype: str, attr: paddle.ParamAttr | None = None) -> paddle.Tensor:
    """A trainable paddle parameter holding exactly ``array``.

    ``Assign`` is given the numpy array itself: for float16/bfloat16 parameters it goes through float32
    (``astype('float32')``, exact for both, bfloat16 included via ml_dtypes) and casts back, which is exact.
    Handing it a bfloat16 *tensor* instead would be wrong: ``Assign`` calls ``tensor.numpy()``, which gives
    the uint16 bit pattern, and would then initialise the parameter with those integers as values.
    """
    array = np.asarray(array)
    param = paddle.create_parameter(
        list(array.shape), _PADDLE_DTYPES[dtype], attr=attr, default_initializer=paddle.nn.initializer.Assign(array)
    )
    if not _same_values(to_numpy(param), array):
        raise MeasurementError(f"{dtype} weights of shape {array.shape} changed on the way into paddle")
    return param


def give_zero_gradient(param: paddle.Tensor) -> None:
    """A real, all-zero loss gradient through autograd.

    It must exist: ``Optimizer.step`` collects only parameters whose gradient is not None, and
    ``_create_regularization_of_grad`` returns early when ``grad is None``, so a parameter without a
    gradient is silently not regularized (checked: the step then leaves it unchanged).
    """
    paddle.sum(param * 0.0).backward()  # d/dw of sum(0*w) is 0 everywhere, even where w is inf or nan
    grad = param.grad
    if grad is None or np.any(to_numpy(grad).astype(np.float64) != 0.0):
        raise MeasurementError("paddle did not produce an all-zero gradient for the decay step")


def _coeff(task: Task) -> float:
    """The decay coefficient, for choosing the probe's learning rate only; absent, paddle's default 0.0."""
    return task.native.get("coeff", 0.0)


def _require(task: Task, *quantities: str) -> None:
    if task.quantity not in quantities:
        raise LookupError(f"{task.api} measures {'/'.join(quantities)}, not {task.quantity!r}")


def _attr_of(task: Task, name: str, own: paddle.ParamAttr | None) -> paddle.ParamAttr | None:
    """A parameter's ParamAttr: the ``param`` placement's regularizer on its tensors, else the API's own
    ParamAttr (a ParamAttr API) within ``scope``."""
    scope, param = task.options.get("scope"), task.options.get("param")
    if param is not None and (param["scope"] is None or name in param["scope"]):
        regularizer = getattr(paddle.regularizer, param["api"].rsplit(".", 1)[1])(**param["native"])
        return paddle.ParamAttr(regularizer=regularizer)
    return own if scope is None or name in scope else None


def lr_scheduler(task: Task, args: dict[str, Any]) -> Any | None:
    """The ``paddle.optimizer.lr`` class of the task's ``schedule`` on the optimizer's ``learning_rate``, passed as
    the optimizer's ``learning_rate`` (None: constant lr)."""
    spec = task.options.get("schedule")
    if spec is None:
        return None
    found = schedules.scheduler("paddle", spec)
    if found is None:
        raise LookupError(f"no paddle scheduler for {spec['name']!r}")
    cls = getattr(paddle.optimizer.lr, found.api.rsplit(".", 1)[1])
    return cls(**found.kwargs(spec, args["learning_rate"]))


def _groups(
    task: Task, params: dict[str, paddle.Tensor], decay: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """The optimizer's ``parameters`` and its own decay arguments: a plain list and ``decay``, or, with a
    ``scope`` on the optimizer's decay, param groups as a user writes them -- the scoped tensors with that
    weight_decay, the others with 0.0 -- and nothing at the optimizer level. (A ParamAttr API's decay is on the
    parameters, scoped by ``_attr_of``, so it keeps the plain list.)"""
    scope = task.options.get("scope")
    if scope is None or not decay:
        return list(params.values()), decay
    inside = [p for n, p in params.items() if n in scope]
    outside = [p for n, p in params.items() if n not in scope]
    groups = [{"params": inside, **decay}, {"params": outside, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]], {}


def _closure(
    optimizer: paddle.optimizer.Optimizer, params: dict[str, paddle.Tensor], grads: dict[str, paddle.Tensor]
) -> Callable[[], paddle.Tensor]:
    """The closure LBFGS.step calls at each inner iteration: the loss Σ grads⊙w and its gradient."""

    def closure() -> paddle.Tensor:
        optimizer.clear_grad()
        loss = functools.reduce(operator.add, [paddle.sum(p * grads[n]) for n, p in params.items()])
        loss.backward()
        return loss

    return closure


class PaddleAdapter(Adapter):
    framework = "paddle"
    # Paddle's only refusal seen on these APIs is a missing CPU kernel, narrowed to ``Unsupported`` by
    # ``kernel_refusals`` (see ``_MISSING_KERNEL``). ValueError (paddle's INVALID_ARGUMENT, e.g. to_tensor on
    # an ml_dtypes array), TypeError (a wrong argument) and NotImplementedError were not observed as
    # refusals of a valid input; if they occur they are our bugs and must show as ``error`` rows.
    refusals = (Unsupported,)

    def __init__(self) -> None:
        super().__init__()
        self.apis: dict[str, Callable[[Task], Value]] = {
            "paddle.handwritten": self.handwritten,
            "paddle.regularizer.L2Decay": self.l2decay,
            "paddle.regularizer.L1Decay": self.l1decay,
            "paddle.ParamAttr.L2Decay": self.paramattr_l2decay,
            "paddle.ParamAttr.L1Decay": self.paramattr_l1decay,
            "paddle.optimizer.SGD": self.sgd,
            "paddle.optimizer.Momentum": self.optimizer_update,
            "paddle.optimizer.Adam": self.optimizer_update,
            "paddle.optimizer.AdamW": self.optimizer_update,
            "paddle.param_group.int_weight_decay": self.int_group_decay,
            "paddle.optimizer.ASGD.batch_num": self.optimizer_update,
            "paddle.nn.utils.weight_norm": weight_norm,
            "paddle.amp.GradScaler": amp_update,
            "paddle.nn.Embedding.sparse": sparse_update,
            "paddle.optimizer.AdamW.sparse": sparse_update,
            "paddle.static.WeightNormParamAttr": functools.partial(static_weight_norm, old_ir=False),
            "paddle.static.WeightNormParamAttr.old_ir": functools.partial(static_weight_norm, old_ir=True),
        }

    def optimizer(self, task: Task) -> Value:
        return self.optimizer_update(task)

    def version(self) -> str:
        return paddle.__version__

    def run(self, task: Task) -> Value:
        with kernel_refusals():
            if task.quantity == "trajectory":
                return TRAJECTORIES[task.api](task)
            return super().run(task)

    # --- the hand-written idiom --------------------------------------------------------------------

    def handwritten(self, task: Task) -> Value:
        """``l1 * sum(abs(w)) + l2 / 2 * sum(square(w))`` over all tensors; its gradient by ``backward()``."""
        _require(task, "penalty", "gradient")
        l1, l2 = task.native.get("l1", 0.0), task.native.get("l2", 0.0)
        params = {n: to_parameter(w, task.dtype) for n, w in task.weights.items()}
        # A term with a zero coefficient is not written, as a user would not write it (and so 0·inf
        # never turns an infinite weight's gradient into NaN).
        terms = [l1 * paddle.sum(paddle.abs(w)) for w in params.values() if l1]
        terms += [l2 / 2 * paddle.sum(paddle.square(w)) for w in params.values() if l2]
        if task.quantity == "penalty":
            return to_numpy(functools.reduce(operator.add, terms)) if terms else np.zeros(())
        if terms:
            functools.reduce(operator.add, terms).backward()
        # A parameter no written term touches has no gradient: its regularization gradient is zero.
        return {n: np.zeros_like(task.weights[n]) if w.grad is None else to_numpy(w.grad) for n, w in params.items()}

    # --- regularizers applied by one real SGD step ---------------------------------------------------

    def l2decay(self, task: Task) -> Value:
        """``SGD(weight_decay=L2Decay(coeff))``; for ``update``, the case's optimizer with that weight_decay."""
        decay = paddle.regularizer.L2Decay(**task.native)
        if task.quantity == "update":
            return self._update(task, weight_decay=decay)
        return self._step(task, l2=_coeff(task), weight_decay=decay)

    def l1decay(self, task: Task) -> Value:
        """``SGD(weight_decay=L1Decay(coeff))``; with Momentum this is the generic (not fused) decay path."""
        decay = paddle.regularizer.L1Decay(**task.native)
        if task.quantity == "update":
            return self._update(task, weight_decay=decay)
        return self._step(task, l1=_coeff(task), weight_decay=decay)

    def paramattr_l2decay(self, task: Task) -> Value:
        """``ParamAttr(regularizer=L2Decay(coeff))`` on every parameter, the optimizer without weight_decay."""
        attr = paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(**task.native))
        if task.quantity == "update":
            return self._update(task, attr=attr)
        return self._step(task, l2=_coeff(task), attr=attr)

    def paramattr_l1decay(self, task: Task) -> Value:
        """``ParamAttr(regularizer=L1Decay(coeff))`` on every parameter, the optimizer without weight_decay."""
        attr = paddle.ParamAttr(regularizer=paddle.regularizer.L1Decay(**task.native))
        if task.quantity == "update":
            return self._update(task, attr=attr)
        return self._step(task, l1=_coeff(task), attr=attr)

    def optimizer_update(self, task: Task) -> Value:
        """``paddle.optimizer.X(weight_decay=<float>)``: coupled L2Decay for SGD/Momentum/Adam, decoupled for AdamW."""
        return self._update(task, **task.native)

    def _update(self, task: Task, attr: paddle.ParamAttr | None = None, **decay: Any) -> Value:
        """The weights after ``steps`` real steps of the task's optimizer; the loss is Σ g⊙w, so backward()
        leaves exactly the case's gradient g on every parameter."""
        _require(task, "update")
        params = {n: to_parameter(w, task.dtype, _attr_of(task, n, attr)) for n, w in task.weights.items()}
        cls = getattr(paddle.optimizer, task.options["optimizer"].rsplit(".", 1)[1])
        args = tuple_args(task.options["args"])
        if args.pop("scope_by", None) == "apply_decay_param_fun":
            # AdamW decays the parameters whose name the function accepts (adamw.py _append_decoupled_weight_decay)
            names = {params[n].name for n in task.options["scope"]}
            parameters, args["apply_decay_param_fun"] = list(params.values()), lambda name: name in names
        else:
            parameters, decay = _groups(task, params, decay)
        scheduler = lr_scheduler(task, args)
        optimizer = cls(parameters=parameters, **(args | ({} if scheduler is None else {"learning_rate": scheduler})),
                        **decay)
        grads = {n: to_parameter(g, task.dtype).detach() for n, g in task.options["grads"].items()}
        with warnings.catch_warnings():
            # The advice to keep FP16/BF16 moments in float32 is about accuracy, which is what is measured here.
            warnings.filterwarnings("ignore", message="Accumulating with FP16/BF16", category=UserWarning)
            for _ in range(task.options["steps"]):
                if isinstance(optimizer, paddle.optimizer.LBFGS):
                    optimizer.step(_closure(optimizer, params, grads))  # it evaluates the loss again
                    continue
                functools.reduce(operator.add, [paddle.sum(p * grads[n]) for n, p in params.items()]).backward()
                optimizer.step()
                optimizer.clear_grad()
                if scheduler is not None:
                    scheduler.step()  # after optimizer.step(), as paddle's docs order them
        return {n: to_numpy(p) for n, p in params.items()}

    def int_group_decay(self, task: Task) -> Value:
        """One param group ``{"params": all, "weight_decay": <int>}``: an int coefficient, as paddle documents it
        (``weight_decay (int|float|WeightDecayRegularizer|None)``)."""
        _require(task, "update")
        coeff = task.native.get("weight_decay", 0.0)
        if coeff != int(coeff):
            raise Unsupported(f"an int weight_decay needs an integral coefficient, not {coeff:g}")
        params = {n: to_parameter(w, task.dtype) for n, w in task.weights.items()}
        cls = getattr(paddle.optimizer, task.options["optimizer"].rsplit(".", 1)[1])
        group = {"params": list(params.values()), "weight_decay": int(coeff)}
        optimizer = cls(parameters=[group], **tuple_args(task.options["args"]))
        grads = {n: to_parameter(g, task.dtype).detach() for n, g in task.options["grads"].items()}
        for _ in range(task.options["steps"]):
            functools.reduce(operator.add, [paddle.sum(p * grads[n]) for n, p in params.items()]).backward()
            optimizer.step()
            optimizer.clear_grad()
        return {n: to_numpy(p) for n, p in params.items()}

    def sgd(self, task: Task) -> Value:
        """``SGD(weight_decay=<float>)``, which paddle's Optimizer turns into ``L2Decay(weight_decay)``.

        Absent, the argument is not passed at all: paddle's default ``None`` means no regularization.
        """
        if task.quantity == "update":
            return self._update(task, **task.native)
        return self._step(task, l2=task.native.get("weight_decay", 0.0), **task.native)

    def _step(
        self,
        task: Task,
        *,
        l1: float = 0.0,
        l2: float = 0.0,
        attr: paddle.ParamAttr | None = None,
        **optimizer_kwargs: Any,
    ) -> Value:
        """The decay term of one ``paddle.optimizer.SGD`` step with an all-zero loss gradient."""
        _require(task, "gradient")
        lr = measure.probe_lr(task.weights, l1, l2, task.dtype)
        params = {n: to_parameter(w, task.dtype, attr) for n, w in task.weights.items()}
        for param in params.values():
            give_zero_gradient(param)
        optimizer = paddle.optimizer.SGD(learning_rate=lr, parameters=list(params.values()), **optimizer_kwargs)
        with warnings.catch_warnings():
            # SGD keeps no accumulators, so its "Accumulating with FP16/BF16 ..." advice does not apply.
            warnings.filterwarnings("ignore", message="Accumulating with FP16/BF16", category=UserWarning)
            optimizer.step()
        return {n: measure.term_from_step(task.weights[n], to_numpy(p), lr) for n, p in params.items()}

    # --- program cases (regcompare.program_run, docs/programs.md) -------------------------------------------

    def program(self, task: Task) -> Value:
        """The user's snippet run on ``params`` (paddle parameters) or its ``model``, trained ``steps`` steps in
        paddle's idiom: ``loss.backward()`` (the loss Σ g⊙w), ``opt.step()``, ``opt.clear_grad()``, then
        ``scheduler.step()``; the weights after every step, in the case's layout."""
        params = {n: to_parameter(w, task.dtype) for n, w in task.weights.items()}
        previous = paddle.get_default_dtype()
        paddle.set_default_dtype(task.dtype if task.dtype in ("float32", "float64") else previous)
        try:
            names = program_run.run_snippet(task, {"paddle": paddle, "nn": paddle.nn, "params": params})
        finally:
            paddle.set_default_dtype(previous)
        model = names.get("model")
        bound = _bound(task, model, params)
        opt, scheduler, custom = names["opt"], names.get("scheduler"), names.get("step")
        grads = {n: to_parameter(g, task.dtype).detach() for n, g in task.options["grads"].items()}

        def weight(name: str) -> paddle.Tensor:
            entry = bound[name]
            return entry.param.T if entry.transposed else entry.param

        def loss_fn() -> paddle.Tensor:
            return functools.reduce(operator.add, [paddle.sum(grads[n] * weight(n)) for n in bound])

        def step() -> None:
            if custom is not None:
                custom(loss_fn)
                return
            loss_fn().backward()
            opt.step()
            opt.clear_grad()

        def read() -> dict[str, np.ndarray]:
            return {n: to_numpy(weight(n)).copy() for n in bound}

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Accumulating with FP16/BF16", category=UserWarning)
            history = program_run.train(task.options["steps"], step, scheduler and scheduler.step, read)
        mapping = program_run.mapping_text(bound) if model is not None else ""
        return {n: np.stack(h) for n, h in history.items()} | {program_run.MAPPING_KEY: np.asarray(mapping)}


def _layout(model: paddle.nn.Layer) -> list[program_run.LayoutEntry]:
    """A layer's trainable parameters in the common (Keras) vocabulary: paddle's ``Linear.weight`` is (in, out),
    the kernel's own layout; a BatchNorm's ``weight``/``bias`` are its gamma/beta."""
    entries = []
    seen: set[int] = set()
    for prefix, layer in model.named_sublayers(include_self=True):
        for attr, param in layer.named_parameters(include_sublayers=False):
            if param.stop_gradient or id(param) in seen:
                continue
            seen.add(id(param))
            name = attr
            if isinstance(layer, paddle.nn.Linear) and attr == "weight":
                name = "kernel"
            elif isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
                name = {"weight": "gamma", "bias": "beta"}.get(attr, attr)
            where = f"{prefix + '.' if prefix else ''}{type(layer).__name__}.{attr}"
            entries.append(program_run.LayoutEntry(name, where, param))
    return entries


def _bound(task: Task, model: paddle.nn.Layer | None, params: dict[str, paddle.Tensor]) -> dict[str, Any]:
    """The case's weights as the parameters the program trains: ``params``, or the model's set to the case's values."""
    if model is None:
        return {n: program_run.LayoutEntry(n, n, p) for n, p in params.items()}
    bound = program_run.bind(list(task.weights), _layout(model))
    for name, entry in bound.items():
        if entry.param.dtype != _PADDLE_DTYPES[task.dtype]:
            raise program_run.ProgramError(f"the model's {entry.where} is {entry.param.dtype}, the case's dtype "
                                           f"{task.dtype}: build the layer in that dtype")
        entry.param.set_value(np.asarray(task.weights[name]))
    return bound


# --- mixed precision: paddle.amp --------------------------------------------------------------------------------

_AMP_PLACES = re.compile(r"can only be enabled on CUDAPlace.*")


def amp_update(task: Task) -> Value:
    """``paddle.amp.decorate(level='O2', master_weight=True)`` and ``paddle.amp.GradScaler(init_loss_scaling=S)``.

    On a CPU-only build paddle's AMP is a no-op that says so by a warning (the scaler "can only be enabled on
    CUDAPlace, XPUPlace and CustomPlace ... so it makes no effect"; decorate keeps float32 parameters): that is
    paddle refusing the input, an ``unsupported`` row with its message, not a run of plain float32 training."""
    _require(task, "update")
    args = dict(task.options["args"])
    args.pop("penalty_outside", None)
    layer = _Holder(to_parameter(next(iter(task.weights.values())).astype(np.float32), "float32"))
    optimizer = getattr(paddle.optimizer, task.options["optimizer"].rsplit(".", 1)[1])(
        parameters=layer.parameters(), **args)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        layer, optimizer = paddle.amp.decorate(models=layer, optimizers=optimizer, level="O2", dtype=task.dtype,
                                               master_weight=True)
        paddle.amp.GradScaler(init_loss_scaling=task.options["mixed_precision"]["loss_scale"])
    refusal = next((str(w.message) for w in seen if _AMP_PLACES.search(str(w.message))), None)
    if refusal is not None:
        raise Unsupported(f"paddle.amp.GradScaler: {refusal}")
    # The worker pins paddle to the CPU (module top), where AMP always declines; an AMP that engages is news.
    raise RuntimeError(f"paddle.amp engaged on {paddle.device.get_device()}: this adapter expects its CPU refusal")


# --- sparse gradients: paddle.nn.Embedding(sparse=True) ----------------------------------------------------------

#: paddle's refusal of a decay with a SelectedRows gradient (python/paddle/optimizer/adam.py), raised as RuntimeError.
_SPARSE_DECAY = re.compile(r"Adam don't support weight_decay with sparse parameters[^\n]*")


def sparse_update(task: Task) -> Value:
    """Each ``sparse`` table as ``paddle.nn.Embedding(sparse=True)`` looked up at the rows its gradient touches (a
    SelectedRows gradient), the other weights as plain parameters; the case's optimizer with ``weight_decay``."""
    _require(task, "update")
    tables = set(task.options["sparse"])
    layers: dict[str, paddle.nn.Embedding] = {}
    params: dict[str, paddle.Tensor] = {}
    for name, w in task.weights.items():
        if name in tables:
            attr = paddle.ParamAttr(initializer=paddle.nn.initializer.Assign(np.asarray(w)))
            with default_dtype(task.dtype):
                layers[name] = paddle.nn.Embedding(*w.shape, sparse=True, weight_attr=attr)
            params[name] = layers[name].weight
        else:
            params[name] = to_parameter(w, task.dtype)
    grads = {n: to_parameter(g, task.dtype).detach() for n, g in task.options["grads"].items()}
    ids = {n: paddle.to_tensor(np.flatnonzero(np.any(np.asarray(task.options["grads"][n]) != 0, axis=1)))
           for n in layers}
    optimizer = getattr(paddle.optimizer, task.options["optimizer"].rsplit(".", 1)[1])(
        parameters=list(params.values()), **task.options["args"], **task.native)
    try:
        for _ in range(task.options["steps"]):
            terms = [paddle.sum(layers[n](ids[n]) * paddle.gather(grads[n], ids[n])) if n in layers
                     else paddle.sum(grads[n] * p) for n, p in params.items()]
            functools.reduce(operator.add, terms).backward()
            optimizer.step()
            optimizer.clear_grad()
    except RuntimeError as exc:
        found = _SPARSE_DECAY.search(str(exc))
        if found is None:
            raise
        raise Unsupported(found.group(0)) from exc
    return {n: to_numpy(p) for n, p in params.items()}


# --- weight normalization: w = g·v/‖v‖, the regularizer on g and v -----------------------------------------


class _Holder(paddle.nn.Layer):
    """A layer whose only parameter ``weight`` is the case's tensor (no layer layout in between: ``dim`` is an
    axis of that tensor). Calling it returns ``weight`` as weight_norm's forward pre-hook recomputes it."""

    def __init__(self, weight: paddle.Tensor) -> None:
        super().__init__()
        self.weight = weight

    def forward(self) -> paddle.Tensor:
        return self.weight


def _optimizer_class(task: Task) -> Any:
    return getattr(paddle.optimizer, task.options["optimizer"].rsplit(".", 1)[1])


def weight_norm(task: Task) -> Value:
    """``paddle.nn.utils.weight_norm`` on each weight, ``steps`` real steps of the task's optimizer with
    ``weight_decay=L2Decay(coeff)`` over weight_g and weight_v; loss Σ grads⊙w, w from calling the layer."""
    _require(task, "update")
    dim = task.options["weight_norm"]["dim"]
    layers = {n: paddle.nn.utils.weight_norm(_Holder(to_parameter(w, task.dtype)), name="weight", dim=dim)
              for n, w in task.weights.items()}
    optimizer = _optimizer_class(task)(parameters=[p for layer in layers.values() for p in layer.parameters()],
                                       weight_decay=paddle.regularizer.L2Decay(**task.native), **task.options["args"])
    grads = {n: to_parameter(g, task.dtype).detach() for n, g in task.options["grads"].items()}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Accumulating with FP16/BF16", category=UserWarning)
        for _ in range(task.options["steps"]):
            functools.reduce(operator.add, [paddle.sum(layer() * grads[n]) for n, layer in layers.items()]).backward()
            optimizer.step()
            optimizer.clear_grad()
    # layer.weight is stale after a step until the hook runs again: call the layer for the trained w.
    return _weight_norm_out({n: (layer.weight_g, layer.weight_v, layer()) for n, layer in layers.items()}, dim)


def _weight_norm_out(parts: dict[str, tuple[Any, Any, Any]], dim: int | None) -> dict[str, np.ndarray]:
    """Rows' tensors: g (with kept dims), v and w of each weight, from paddle tensors or numpy arrays."""
    out: dict[str, np.ndarray] = {}
    for name, values in parts.items():
        g, v, w = (to_numpy(x) if isinstance(x, paddle.Tensor) else np.asarray(x) for x in values)
        out |= dict(zip(weight_norm_tensors(name), (g.reshape(weight_norm_g_shape(v.shape, dim)), v, w), strict=True))
    return out


@contextmanager
def _static_program(old_ir: bool) -> Iterator[tuple[Any, Any]]:
    """Static mode for one task only: fresh programs and names (and the old IR if asked), then dygraph again
    for every other task of this worker, whatever happened. Also forgets the parameters this task added to
    WeightNormParamAttr's class-level list, which would otherwise keep every task's program alive."""
    registered = len(paddle.static.WeightNormParamAttr.params_with_weight_norm)
    paddle.enable_static()
    try:
        with ExitStack() as stack:
            if old_ir:
                stack.enter_context(paddle.pir_utils.OldIrGuard())
            else:
                # Under PIR, LayerHelper still writes WeightNormParamAttr's parameters into the old-IR global
                # programs, which paddle.static.program_guard does not switch: without fresh ones here, a failed
                # task's parameters stay there and the next task finds them "created before".
                from paddle.base import framework

                stack.enter_context(framework.program_guard(framework.Program(), framework.Program()))
            stack.enter_context(paddle.utils.unique_name.guard())
            main, startup = paddle.static.Program(), paddle.static.Program()
            stack.enter_context(paddle.static.program_guard(main, startup))
            yield main, startup
    finally:
        paddle.disable_static()
        del paddle.static.WeightNormParamAttr.params_with_weight_norm[registered:]


def _old_ir_sum(x: Any) -> Any:
    """Σx as an old-IR ``reduce_sum`` op: paddle.sum takes PIR values only (under OldIrGuard it says
    ``sum(): argument (position 1) must be Value, but got Variable``)."""
    from paddle.base.layer_helper import LayerHelper

    helper = LayerHelper("reduce_sum")
    out = helper.create_variable_for_type_inference(x.dtype)
    helper.append_op(type="reduce_sum", inputs={"X": x}, outputs={"Out": out},
                     attrs={"dim": [], "keep_dim": False, "reduce_all": True})
    return out


def static_weight_norm(task: Task, old_ir: bool) -> Value:
    """``paddle.static.WeightNormParamAttr(dim, initializer=Assign(w), regularizer=L2Decay(coeff))`` on each
    weight of a fresh static Program; ``optimizer.minimize(Σ grads⊙w)``, one ``Executor.run`` per step; g and v
    read from the scope, w fetched from the program's for_test clone after the last step."""
    _require(task, "update")
    dim = task.options["weight_norm"]["dim"]
    names = {n: f"weightnorm{i}" for i, n in enumerate(task.weights)}  # any case weight name, a valid var name
    with _static_program(old_ir) as (main, startup):
        regularizer = paddle.regularizer.L2Decay(**task.native)
        ws = {n: paddle.static.create_parameter(list(w.shape), task.dtype, attr=paddle.static.WeightNormParamAttr(
            dim=dim, name=names[n], initializer=paddle.nn.initializer.Assign(np.asarray(w)), regularizer=regularizer))
              for n, w in task.weights.items()}
        feed = {f"{names[n]}_dL_dw": np.asarray(g) for n, g in task.options["grads"].items()}
        total = _old_ir_sum if old_ir else paddle.sum
        terms = [total(ws[n] * paddle.static.data(f"{names[n]}_dL_dw", list(w.shape), task.dtype))
                 for n, w in task.weights.items()]
        loss = functools.reduce(operator.add, terms)
        test = main.clone(for_test=True)
        _optimizer_class(task)(**task.options["args"]).minimize(loss)
        executor, scope = paddle.static.Executor(paddle.CPUPlace()), paddle.static.Scope()
        with paddle.static.scope_guard(scope):
            executor.run(startup)
            for _ in range(task.options["steps"]):
                executor.run(main, feed=feed)
            trained = executor.run(test, feed=feed, fetch_list=[ws[n].name for n in ws])

            def read(var: str) -> np.ndarray:
                return np.array(scope.find_var(var).get_tensor())

            parts = {n: (read(f"{names[n]}_g"), read(f"{names[n]}_v"), w) for n, w in zip(ws, trained, strict=True)}
    return _weight_norm_out(parts, dim)


# --- trajectory: d2l's weight-decay experiment (d2l's paddle code) -------------------------------------------------

Step = Callable[[paddle.Tensor, paddle.Tensor], None]
"""One SGD step on a minibatch (x, y)."""


def _sets(task: Task) -> dict[str, paddle.Tensor]:
    return {k: to_parameter(task.options[k], task.dtype).detach() for k in ("x_train", "y_train", "x_test", "y_test")}


def _squared_loss(y_hat: paddle.Tensor, y: paddle.Tensor) -> paddle.Tensor:
    """d2l's ``squared_loss``: (ŷ − y)²/2 per example."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def _train(task: Task, step: Step, predict: Callable[[paddle.Tensor], paddle.Tensor], w: paddle.Tensor) -> Value:
    """The epochs in the harness's minibatch order; after each, the mean ½(ŷ − y)² over each whole set."""
    o, sets = task.options, _sets(task)
    train, test = [], []
    for epoch in o["order"]:
        for index in minibatches(epoch, o["batch"]):
            rows = paddle.to_tensor(index)
            step(paddle.gather(sets["x_train"], rows), paddle.gather(sets["y_train"], rows))
        with paddle.no_grad():
            train.append(to_numpy(_squared_loss(predict(sets["x_train"]), sets["y_train"]).mean()))
            test.append(to_numpy(_squared_loss(predict(sets["x_test"]), sets["y_test"]).mean()))
    return {"train_loss": np.stack(train), "test_loss": np.stack(test), "w_norm": to_numpy(paddle.linalg.norm(w))}


def trajectory_scratch(task: Task) -> Value:
    """d2l's paddle ``train(lambd)``: ``l = squared_loss(net(X), y) + lambd * l2_penalty(w)``,
    ``l.sum().backward()``, then d2l's ``sgd``: ``param.set_value(param - lr * param.grad / batch_size)``."""
    l2, lr = task.native.get("l2", 0.0), task.options["lr"]
    w, b = to_parameter(task.weights["w"], task.dtype), to_parameter(task.weights["b"], task.dtype)

    def net(x: paddle.Tensor) -> paddle.Tensor:
        return paddle.matmul(x, w) + b

    def step(x: paddle.Tensor, y: paddle.Tensor) -> None:
        loss = _squared_loss(net(x), y) + l2 * paddle.sum(w.pow(2)) / 2
        loss.sum().backward()
        with paddle.no_grad():
            for param in (w, b):
                param.set_value(param - lr * param.grad / x.shape[0])
                param.clear_gradient()

    return _train(task, step, net, w)


@contextmanager
def default_dtype(dtype: str) -> Iterator[None]:
    """``paddle.nn.Linear`` has no dtype argument: it creates its parameters in paddle's default dtype."""
    before = paddle.get_default_dtype()
    paddle.set_default_dtype(dtype)
    try:
        yield
    finally:
        paddle.set_default_dtype(before)


def _linear(task: Task, regularizer: Any = None) -> paddle.nn.Linear:
    """``nn.Linear(features, 1)`` holding the harness's initial w and b, ``regularizer`` in the weight's ParamAttr."""
    init = paddle.nn.initializer.Assign
    weight = paddle.ParamAttr(initializer=init(np.asarray(task.weights["w"])), regularizer=regularizer)
    with default_dtype(task.dtype):
        return paddle.nn.Linear(task.weights["w"].shape[0], 1, weight_attr=weight,
                                bias_attr=paddle.ParamAttr(initializer=init(np.asarray(task.weights["b"]))))


def _concise(task: Task, linear: paddle.nn.Linear, optimizer: paddle.optimizer.Optimizer) -> Value:
    """``loss = nn.MSELoss()(net(X), y) / 2`` (halved to the common objective), ``backward``, ``step``."""
    mse = paddle.nn.MSELoss()

    def step(x: paddle.Tensor, y: paddle.Tensor) -> None:
        (mse(linear(x), y) / 2).backward()
        optimizer.step()
        optimizer.clear_grad()

    return _train(task, step, linear, linear.weight)


def trajectory_l2decay(task: Task) -> Value:
    """``paddle.optimizer.SGD`` with param groups: ``L2Decay(coeff)`` on the weight, none on the bias."""
    linear = _linear(task)
    groups = [{"params": [linear.weight], "weight_decay": paddle.regularizer.L2Decay(**task.native)},
              {"params": [linear.bias]}]
    return _concise(task, linear, paddle.optimizer.SGD(learning_rate=task.options["lr"], parameters=groups))


def trajectory_paramattr(task: Task) -> Value:
    """``nn.Linear(weight_attr=ParamAttr(regularizer=L2Decay(coeff)))`` and a plain ``paddle.optimizer.SGD``."""
    linear = _linear(task, paddle.regularizer.L2Decay(**task.native))
    return _concise(task, linear, paddle.optimizer.SGD(learning_rate=task.options["lr"],
                                                       parameters=linear.parameters()))


TRAJECTORIES = {"paddle.handwritten": trajectory_scratch, "paddle.regularizer.L2Decay": trajectory_l2decay,
                "paddle.ParamAttr.L2Decay": trajectory_paramattr}


ADAPTER = PaddleAdapter
