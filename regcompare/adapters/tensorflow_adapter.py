"""tensorflow: ``tf.nn.l2_loss`` and the Keras 3 weight regularizers, gradients through ``tf.GradientTape``.

Every API is called as a user calls it, on a tensor of the task's dtype, with no cast of ours. What
Keras 3.15 does per dtype (keras/src/regularizers/regularizers.py), and what this adapter preserves:

* ``L1.__call__``/``L2.__call__`` return ``ops.cast(coeff, dtype=x.dtype) * ops.sum(...)`` and
  ``L1L2`` starts from ``ops.convert_to_tensor(0.0, dtype=x.dtype)``: the arithmetic stays in the
  input's dtype (float16 squares and sums overflow at 65504; nothing is widened to floatx).
* The coefficient is a Python float (``L1`` even stores ``ops.convert_to_tensor(l1)``, a float32
  tensor), and ``tf.cast`` of a Python float first makes a float32 tensor: the coefficient is rounded
  to float32 before it reaches float64 (``L2(0.01)`` in float64 multiplies by 0.009999999776…).
* ``L1L2`` skips a term whose coefficient is 0, so ``L1L2()`` returns a constant unconnected to the
  weights (its gradient is "unconnected": zero here, as an optimizer sees it).
"""

from __future__ import annotations

import os
import re

# Quiet TF's C++ start-up chatter; set before the import, because TF reads it once when it loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from regcompare import program_run, schedules
from regcompare.adapters.base import Adapter, Task, Unsupported, Value, tuple_args
from regcompare.trajectory import minibatches

#: A penalty of one tensor, built from the task's native arguments: the framework call under test.
TensorPenalty = Callable[[tf.Variable], tf.Tensor]

_TF_DTYPES: dict[str, tf.DType] = {
    "float16": tf.float16,
    "bfloat16": tf.bfloat16,
    "float32": tf.float32,
    "float64": tf.float64,
}


def to_variable(array: np.ndarray, dtype: str) -> tf.Variable:
    """A weight as a user's model holds it. TF's bfloat16 *is* ``ml_dtypes.bfloat16``, so every dtype
    (bfloat16 included) converts without rounding; the dtype check guards against a silent cast."""
    variable = tf.Variable(np.asarray(array), trainable=True)
    if variable.dtype != _TF_DTYPES[dtype]:
        raise TypeError(f"weights arrived as {variable.dtype.name}, task says {dtype}")
    return variable


def to_numpy(tensor: tf.Tensor) -> np.ndarray:
    """In the tensor's own dtype (bfloat16 comes back as ``ml_dtypes.bfloat16``); the worker widens."""
    return np.asarray(tensor.numpy())


def _keras_regularizer(cls: type[keras.regularizers.Regularizer], native: dict[str, float]) -> TensorPenalty:
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
    as a user writes it (``holder`` receives the optimizer the callable reads its iterations from)."""
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
    (it converts it to a tensor): that refusal is an ``unsupported`` row with Keras' own message."""
    try:
        yield
    except ValueError as exc:
        if not callable(getattr(optimizer, "weight_decay", None)):
            raise
        raise Unsupported(f"{type(optimizer).__name__}(weight_decay=<callable>).apply_gradients: {exc}") from exc


def _constant(array: np.ndarray) -> Callable[..., tf.Tensor]:
    """An initializer holding exactly ``array`` (Keras' Constant takes a scalar only)."""

    def init(shape: tuple[int, ...], dtype: str | None = None) -> tf.Tensor:
        return tf.constant(array)

    return init


class TensorflowAdapter(Adapter):
    framework = "tensorflow"
    refusals = (
        Unsupported,
        # Observed: an op whose type list excludes the dtype refuses it in eager mode with
        # "Value for attr 'T' of float8_e4m3fn is not in the list of allowed values" (L2Loss, Square, Sum).
        tf.errors.InvalidArgumentError,
        # TF's eager "Could not find device for node …": the dtype is allowed but no CPU kernel is
        # registered for it. Not raised for the four dtypes here; kept because it is TF's refusal too.
        tf.errors.NotFoundError,
    )

    def __init__(self) -> None:
        super().__init__()
        self.apis = {
            "tf.nn.l2_loss": self.l2_loss,
            "keras.regularizers.L1": self.keras_l1,
            "keras.regularizers.L2": self.keras_l2,
            "keras.regularizers.L1L2": self.keras_l1l2,
            "keras.optimizers.SGD": self.optimizer_update,
            "keras.optimizers.Adam": self.optimizer_update,
            "keras.optimizers.AdamW": self.optimizer_update,
            "keras.optimizers.LossScaleOptimizer": self.loss_scale_update,
            "keras.layers.Embedding": self.embedding_update,
            "keras.layers.Embedding.embeddings_regularizer": self.embedding_update,
            "keras.optimizers.Ftrl.proximal": self.ftrl_arguments,
            "keras.optimizers.Ftrl.shrinkage": self.ftrl_arguments,
        }

    def optimizer(self, task: Task) -> Value:
        return self.optimizer_update(task)

    def version(self) -> str:
        return f"tf {tf.__version__}, keras {keras.__version__}"

    def run(self, task: Task) -> Value:
        if task.quantity == "trajectory":
            return TRAJECTORIES[task.api](task)
        return super().run(task)

    def l2_loss(self, task: Task) -> Value:
        scale = task.native.get("scale", 1.0)
        # A Python float times a tensor is converted straight to the tensor's dtype (not via float32).
        return self._measure(task, lambda w: scale * tf.nn.l2_loss(w))

    def keras_l1(self, task: Task) -> Value:
        return self._regularizer(task, keras.regularizers.L1)

    def keras_l2(self, task: Task) -> Value:
        return self._regularizer(task, keras.regularizers.L2)

    def keras_l1l2(self, task: Task) -> Value:
        return self._regularizer(task, keras.regularizers.L1L2)

    def _regularizer(self, task: Task, cls: type[keras.regularizers.Regularizer]) -> Value:
        regularizer = _keras_regularizer(cls, task.native)
        if task.quantity == "update":
            return self.layer_update(task, regularizer)
        return self._measure(task, regularizer)

    # --- update: real Keras optimizer steps --------------------------------------------------------------

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
        grads = {n: tf.constant(np.asarray(g)) for n, g in task.options["grads"].items()}
        for _ in range(task.options["steps"]):
            with weight_decay_refusal(optimizer):
                optimizer.apply_gradients([(grads[n], v) for n, v in variables.items()])
        return {n: to_numpy(v.value) for n, v in variables.items()}

    def layer_update(self, task: Task, regularizer: TensorPenalty | None, weight_decay: float | None = None) -> Value:
        """Weights of a layer, each with its ``regularizer`` (what ``kernel_regularizer`` does), trained by the
        case's Keras optimizer: loss = Σ g⊙w + Σ layer.losses, gradient by the tape.

        ``regularizer`` is the API's own (a layer regularizer API, on the ``scope`` tensors); an optimizer API
        passes its ``weight_decay`` instead, excluded outside ``scope`` by ``exclude_from_weight_decay``. A
        ``param`` placement puts that regularizer on its tensors as well: both apply, as in a user's model.
        """
        layer = keras.layers.Layer(dtype=task.dtype)
        variables = {
            n: layer.add_weight(shape=w.shape, dtype=task.dtype, name=n, regularizer=self._placed(task, n, regularizer),
                                initializer=_constant(np.asarray(w)))
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
        grads = {n: tf.constant(np.asarray(g)) for n, g in task.options["grads"].items()}
        names = list(variables)
        for _ in range(task.options["steps"]):
            with tf.GradientTape() as tape:
                data_loss = tf.add_n([tf.reduce_sum(grads[n] * v.value) for n, v in variables.items()])
                # the layer's regularization losses, as fit() adds them
                loss = tf.add_n([data_loss, *layer.losses])
            gradients = tape.gradient(loss, [variables[n] for n in names])
            with weight_decay_refusal(optimizer):
                optimizer.apply_gradients(zip(gradients, [variables[n] for n in names], strict=True))
        return {n: to_numpy(v.value) for n, v in variables.items()}

    def loss_scale_update(self, task: Task) -> Value:
        """Mixed precision: a Layer with the ``mixed_<dtype>`` policy (float32 variables, low-precision compute),
        each weight with ``kernel_regularizer=L1L2(l1, l2)``; ``LossScaleOptimizer(inner, initial_scale=S)``;
        ``scaled = optimizer.scale_loss(loss + Σ layer.losses)`` (variant penalty_outside: ``scale_loss(loss) +
        Σ layer.losses``), the tape's gradient, ``apply_gradients`` (which unscales)."""
        args = dict(task.options["args"])
        outside = bool(args.pop("penalty_outside", False))
        layer = keras.layers.Layer(dtype=f"mixed_{task.dtype}")
        regularizer = _keras_regularizer(keras.regularizers.L1L2, task.native)
        variables = {n: layer.add_weight(shape=w.shape, name=n, regularizer=regularizer,
                                         initializer=_constant(np.asarray(w).astype(np.float32)))
                     for n, w in task.weights.items()}
        inner = getattr(keras.optimizers, task.options["optimizer"].rsplit(".", 1)[1])(**args)
        scale = task.options["mixed_precision"]["loss_scale"]
        optimizer = keras.optimizers.LossScaleOptimizer(inner, initial_scale=scale)
        grads = {n: tf.constant(np.asarray(g)) for n, g in task.options["grads"].items()}
        names = list(variables)
        for _ in range(task.options["steps"]):
            with tf.GradientTape() as tape:
                # the model's compute: the variables cast to the policy's compute dtype, as a layer call autocasts
                data = tf.add_n([tf.reduce_sum(grads[n] * tf.cast(variables[n].value, task.dtype)) for n in names])
                data = tf.cast(data, "float32")
                penalty = tf.add_n(layer.losses)
                scaled = optimizer.scale_loss(data) + penalty if outside else optimizer.scale_loss(data + penalty)
            gradients = tape.gradient(scaled, [variables[n] for n in names])
            optimizer.apply_gradients(zip(gradients, [variables[n] for n in names], strict=True))
        out: dict[str, np.ndarray] = {}
        for name, v in variables.items():
            out[name] = to_numpy(tf.cast(v.value, task.dtype))
            out[f"{name}.master"] = to_numpy(v.value)
        return out

    def embedding_update(self, task: Task) -> Value:
        """Each ``sparse`` table as a ``keras.layers.Embedding`` called on the rows its gradient touches (the tape's
        gradient is ``tf.IndexedSlices``), the other weights as plain variables; the optimizer API passes its
        ``weight_decay``, the regularizer API ``embeddings_regularizer=L2(l2)`` (its loss added to the data loss)."""
        tables = set(task.options["sparse"])
        regularized = task.api.endswith("embeddings_regularizer")
        regularizer = _keras_regularizer(keras.regularizers.L2, task.native) if regularized else None
        layers: dict[str, keras.layers.Embedding] = {}
        variables = {}
        for name, w in task.weights.items():
            if name in tables:
                layer = keras.layers.Embedding(*w.shape, dtype=task.dtype, embeddings_regularizer=regularizer,
                                               embeddings_initializer=_constant(np.asarray(w)))
                layer.build((None,))
                layers[name], variables[name] = layer, layer.embeddings
            else:
                variables[name] = keras.Variable(np.asarray(w), dtype=task.dtype, name=name)
        grads = {n: tf.constant(np.asarray(g)) for n, g in task.options["grads"].items()}
        ids = {n: tf.constant(np.flatnonzero(np.any(np.asarray(task.options["grads"][n]) != 0, axis=1)))
               for n in layers}
        optimizer = self._optimizer(task, **({} if regularized else {"weight_decay": task.native.get("weight_decay")}))
        names = list(variables)
        for _ in range(task.options["steps"]):
            with tf.GradientTape() as tape:
                terms = [tf.reduce_sum(layers[n](ids[n]) * tf.gather(grads[n], ids[n])) if n in layers
                         else tf.reduce_sum(grads[n] * variables[n].value) for n in names]
                loss = tf.add_n(terms + [p for layer in layers.values() for p in layer.losses])
            gradients = tape.gradient(loss, [variables[n] for n in names])
            optimizer.apply_gradients(zip(gradients, [variables[n] for n in names], strict=True))
        return {n: to_numpy(v.value) for n, v in variables.items()}

    def _placed(self, task: Task, name: str, own: TensorPenalty | None) -> TensorPenalty | None:
        """The regularizer a tensor carries: the API's own within ``scope``, or the ``param`` placement's."""
        scope, param = task.options.get("scope"), task.options.get("param")
        if param is not None and (param["scope"] is None or name in param["scope"]):
            cls = getattr(keras.regularizers, param["api"].rsplit(".", 1)[1])
            return _keras_regularizer(cls, param["native"])
        return own if scope is None or name in scope else None

    def _optimizer(self, task: Task, **extra: float | None) -> keras.optimizers.Optimizer:
        cls = getattr(keras.optimizers, task.options["optimizer"].rsplit(".", 1)[1])
        args = {k: v for k, v in tuple_args(task.options["args"]).items() if k != "scope_by"}  # a placement
        kwargs = {**args, **extra}
        holder: list[keras.optimizers.Optimizer] = []
        optimizer = cls(**kwargs | scheduled_kwargs(task, kwargs, holder))
        holder.append(optimizer)
        return optimizer

    def _measure(self, task: Task, penalty_of: TensorPenalty) -> Value:
        """The penalty summed over the task's tensors (in their dtype), or its gradient per tensor."""
        variables = {name: to_variable(w, task.dtype) for name, w in task.weights.items()}
        with tf.GradientTape() as tape:
            # add_n keeps the dtype, as Keras does when it adds up a model's regularization losses.
            penalty = tf.add_n([penalty_of(v) for v in variables.values()])
        if task.quantity == "penalty":
            return to_numpy(penalty)
        if task.quantity != "gradient":
            raise ValueError(f"{task.api} measures a penalty or its gradient, not {task.quantity!r}")
        names = list(variables)
        # ZERO, not None, for a penalty that ignores a tensor (L1L2 with both coefficients 0).
        grads = tape.gradient(
            penalty, [variables[n] for n in names], unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        return {name: to_numpy(g) for name, g in zip(names, grads, strict=True)}

    # --- program cases (regcompare.program_run, docs/programs.md) -------------------------------------------

    def program(self, task: Task) -> Value:
        """The user's snippet run on ``params`` (``keras.Variable``s) or its ``model``, trained ``steps`` steps
        in Keras' idiom: loss Σ g⊙w plus ``model.losses`` (the regularization losses, as ``fit()`` adds them),
        gradient by ``tf.GradientTape``, ``opt.apply_gradients``. A snippet's own ``step(loss_fn)`` replaces
        this loop (a custom training loop, which may forget ``model.losses``)."""
        params = {n: keras.Variable(np.asarray(w), dtype=task.dtype, name=n) for n, w in task.weights.items()}
        previous = keras.config.floatx()
        keras.config.set_floatx(task.dtype if task.dtype != "bfloat16" else previous)
        try:
            names = program_run.run_snippet(task, {"tf": tf, "keras": keras, "params": params})
        finally:
            keras.config.set_floatx(previous)
        if "scheduler" in names:
            raise program_run.ProgramError("Keras takes a schedule as the optimizer's learning_rate, not `scheduler`")
        model = names.get("model")
        bound = _bound(task, model, params)
        opt, custom = names["opt"], names.get("step")
        grads = {n: tf.constant(np.asarray(g)) for n, g in task.options["grads"].items()}
        variables = [e.param for e in bound.values()]

        def weight(name: str) -> tf.Tensor:
            entry = bound[name]
            return tf.transpose(entry.param) if entry.transposed else tf.convert_to_tensor(entry.param)

        def loss_fn() -> tf.Tensor:
            return tf.add_n([tf.reduce_sum(grads[n] * weight(n)) for n in bound])

        def step() -> None:
            if custom is not None:
                custom(loss_fn)
                return
            with tf.GradientTape() as tape:
                loss = tf.add_n([loss_fn(), *(model.losses if model is not None else [])])
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

        def read() -> dict[str, np.ndarray]:
            return {n: to_numpy(weight(n)).copy() for n in bound}

        history = program_run.train(task.options["steps"], step, None, read)
        mapping = program_run.mapping_text(bound) if model is not None else ""
        return {n: np.stack(h) for n, h in history.items()} | {program_run.MAPPING_KEY: np.asarray(mapping)}


def _layout(model: keras.layers.Layer) -> list[program_run.LayoutEntry]:
    """A layer's trainable variables by their own Keras names (``kernel``, ``bias``, ``gamma``, ``beta``): the
    common vocabulary, in the layout the case's weights are given in."""
    # Keras numbers layer names per process (dense_3/kernel): the number is dropped, so the text is reproducible.
    return [program_run.LayoutEntry(v.name, re.sub(r"_\d+(?=/|$)", "", v.path), v) for v in model.trainable_weights]


def _bound(task: Task, model: keras.layers.Layer | None, params: dict[str, keras.Variable]) -> dict[str, Any]:
    """The case's weights as the variables the program trains: ``params``, or the model's variables (which must
    be built: call ``model.build(shape)`` in the snippet) set to the case's values."""
    if model is None:
        return {n: program_run.LayoutEntry(n, n, v) for n, v in params.items()}
    if not model.built:
        raise program_run.ProgramError("the snippet's model is not built: call model.build(input_shape)")
    bound = program_run.bind(list(task.weights), _layout(model))
    for name, entry in bound.items():
        if entry.param.dtype != task.dtype:
            raise program_run.ProgramError(f"the model's {entry.where} is {entry.param.dtype}, the case's dtype "
                                           f"{task.dtype}: build the layer with dtype={task.dtype!r}")
        entry.param.assign(np.asarray(task.weights[name]))
    return bound


# --- trajectory: d2l's weight-decay experiment (d2l's TensorFlow code, Keras 3) -----------------------------------

Step = Callable[[tf.Tensor, tf.Tensor], None]
"""One SGD step on a minibatch (x, y)."""
Predict = Callable[[tf.Tensor], tf.Tensor]


def _sets(task: Task) -> dict[str, tf.Tensor]:
    return {k: tf.constant(np.asarray(task.options[k])) for k in ("x_train", "y_train", "x_test", "y_test")}


def _squared_loss(y_hat: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """d2l's ``squared_loss``: (ŷ − y)²/2 per example."""
    return (y_hat - tf.reshape(y, y_hat.shape)) ** 2 / 2


def _train(task: Task, step: Step, predict: Predict, w: tf.Variable) -> Value:
    """The epochs in the harness's minibatch order; after each, the mean ½(ŷ − y)² over each whole set."""
    o, sets = task.options, _sets(task)
    # One graph per minibatch size, as Keras' fit() runs its train step: eager steps are ~10x slower here.
    step = tf.function(step, reduce_retracing=True)
    train, test = [], []
    for epoch in o["order"]:
        for index in minibatches(epoch, o["batch"]):
            step(tf.gather(sets["x_train"], index), tf.gather(sets["y_train"], index))
        train.append(to_numpy(tf.reduce_mean(_squared_loss(predict(sets["x_train"]), sets["y_train"]))))
        test.append(to_numpy(tf.reduce_mean(_squared_loss(predict(sets["x_test"]), sets["y_test"]))))
    return {"train_loss": np.stack(train), "test_loss": np.stack(test), "w_norm": to_numpy(tf.norm(w))}


def trajectory_scratch(task: Task) -> Value:
    """d2l's TF ``train(lambd)`` with ``tf.nn.l2_loss`` as the penalty: ``l = squared_loss(net(X), y) +
    scale * tf.nn.l2_loss(w)``, ``tape.gradient(l, [w, b])`` (of the sum), ``param.assign_sub(lr*grad/batch_size)``."""
    scale, lr = task.native.get("scale", 1.0), task.options["lr"]
    w, b = to_variable(task.weights["w"], task.dtype), to_variable(task.weights["b"], task.dtype)

    def net(x: tf.Tensor) -> tf.Tensor:
        return tf.matmul(x, w) + b

    def step(x: tf.Tensor, y: tf.Tensor) -> None:
        with tf.GradientTape() as tape:
            loss = _squared_loss(net(x), y) + scale * tf.nn.l2_loss(w)
        for param, grad in zip((w, b), tape.gradient(loss, [w, b]), strict=True):
            param.assign_sub(lr * grad / x.shape[0])

    return _train(task, step, net, w)


def _dense(task: Task, regularizer: TensorPenalty | None) -> keras.layers.Dense:
    """``Dense(1, kernel_regularizer=…)`` in the task's dtype, holding the harness's initial w and b."""
    layer = keras.layers.Dense(1, kernel_regularizer=regularizer, dtype=task.dtype,
                               kernel_initializer=_constant(np.asarray(task.weights["w"])),
                               bias_initializer=_constant(np.asarray(task.weights["b"])))
    layer.build((None, task.weights["w"].shape[0]))
    return layer


def _keras_run(task: Task, layer: keras.layers.Dense, optimizer: keras.optimizers.Optimizer) -> Value:
    """d2l's TF ``train_concise``: ``l = loss(net(X), y) + net.losses`` (the layer's regularization losses),
    ``optimizer.apply_gradients``. ``MeanSquaredError`` has no ½: halved to the common objective. Its ``dtype``
    is the task's (by default a Keras loss computes in floatx, float32)."""
    mse = keras.losses.MeanSquaredError(dtype=task.dtype)
    optimizer.build(layer.trainable_variables)  # its variables exist before the step is traced

    def step(x: tf.Tensor, y: tf.Tensor) -> None:
        with tf.GradientTape() as tape:
            loss = tf.add_n([mse(y, layer(x)) / 2, *layer.losses])
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply_gradients(zip(grads, layer.trainable_variables, strict=True))

    return _train(task, step, layer, layer.kernel)


def trajectory_regularizer(task: Task) -> Value:
    """``Dense(1, kernel_regularizer=keras.regularizers.L2(l2))`` trained by ``keras.optimizers.SGD(lr)``."""
    layer = _dense(task, _keras_regularizer(keras.regularizers.L2, task.native))
    return _keras_run(task, layer, keras.optimizers.SGD(learning_rate=task.options["lr"]))


def trajectory_weight_decay(task: Task) -> Value:
    """``keras.optimizers.SGD(lr, weight_decay=wd)`` (decoupled) on a plain ``Dense(1)``, the bias excluded with
    ``exclude_from_weight_decay``, as d2l's concise style decays the weight only."""
    layer = _dense(task, None)
    optimizer = keras.optimizers.SGD(learning_rate=task.options["lr"], **task.native)
    optimizer.exclude_from_weight_decay(var_list=[layer.bias])
    return _keras_run(task, layer, optimizer)


TRAJECTORIES = {"tf.nn.l2_loss": trajectory_scratch, "keras.regularizers.L2": trajectory_regularizer,
                "keras.optimizers.SGD": trajectory_weight_decay}


ADAPTER = TensorflowAdapter
