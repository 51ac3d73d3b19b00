"""tensorflow: ``tf.nn.l2_loss``, TF 1.x's ``tf.contrib.layers`` regularizers (through tf-slim) and the Keras 3 weight
regularizers and optimizers (``keras_common``, on Keras' tensorflow backend), gradients through ``tf.GradientTape``;
Keras' mixed precision and embeddings, program cases and d2l's training runs, which are TensorFlow code.

Every API is called as a user calls it, on a tensor of the task's dtype, with no cast of ours; what Keras does per
dtype is in ``keras_common``'s docstring.
"""

from __future__ import annotations

import os

# Quiet TF's C++ start-up chatter; set before the import, because TF reads it once when it loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from regcompare.adapters import keras_backend

# Keras reads KERAS_BACKEND once, at its first import: pinned here, before that import, and checked after it,
# so that a user's `export KERAS_BACKEND=torch` cannot move this worker's Keras calls off TensorFlow.
keras_backend.pin("tensorflow")

from collections.abc import Callable  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from regcompare import program_run  # noqa: E402
from regcompare.adapters.base import Task, Unsupported, Value  # noqa: E402
from regcompare.adapters.keras_common import (  # noqa: E402
    KerasAdapter,
    TensorPenalty,
    bound_program_weights,
    constant,
    keras_regularizer,
    run_keras_snippet,
)
from regcompare.trajectory import minibatches  # noqa: E402

keras_backend.checked(keras, "tensorflow")

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


#: tf.contrib.layers regularizers that tf-slim 1.1.0 ships (tf_slim/layers/regularizers.py).
CONTRIB = ("l1_regularizer", "l2_regularizer", "l1_l2_regularizer")


def _contrib_regularizer(name: str, native: dict[str, float]) -> TensorPenalty:
    """``tf_slim.layers.<name>(**native)`` with contrib's own argument rules: a missing ``scale`` (no default) or an
    integer one raises and a scale of 0.0 returns no regularizer at all; each is the API refusing the input."""
    try:
        from tf_slim.layers import regularizers  # optional: only these APIs need it
    except ModuleNotFoundError as exc:
        raise Unsupported(f"{exc}; install with: pip install 'regcompare[tensorflow]' (tf-slim==1.1.0)") from exc
    try:
        penalty = getattr(regularizers, name)(**native)
    except (TypeError, ValueError) as exc:
        raise Unsupported(f"tf_slim.layers.{name}({native}): {exc}") from exc
    probe = penalty(tf.zeros((), tf.float32))
    if probe is None:
        # contrib: "Scale of 0 disables regularizer" (lambda _: None); a layer then adds no loss at all
        raise Unsupported(f"tf_slim.layers.{name}({native}) returns no regularizer (scale 0 disables it): "
                          "the call gives None, not a penalty")
    return penalty


class TensorflowAdapter(KerasAdapter):
    framework = "tensorflow"
    backend = "tensorflow"
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
            **{f"tf.contrib.layers.{name}": self._contrib(name) for name in CONTRIB},
            **self.keras_apis(),
            "keras.optimizers.LossScaleOptimizer": self.loss_scale_update,
            "keras.layers.Embedding": self.embedding_update,
            "keras.layers.Embedding.embeddings_regularizer": self.embedding_update,
        }

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

    def _contrib(self, name: str) -> Callable[[Task], Value]:
        """``tf.contrib.layers.<name>``, run as ``tf_slim.layers.<name>``: where the TF 1.x code lives now."""

        def run(task: Task) -> Value:
            return self._measure(task, _contrib_regularizer(name, task.native))

        return run

    def _gradients(self, loss: Callable[[], tf.Tensor], variables: list[keras.Variable]) -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            value = loss()
        return tape.gradient(value, variables)

    def loss_scale_update(self, task: Task) -> Value:
        """Mixed precision: a Layer with the ``mixed_<dtype>`` policy (float32 variables, low-precision compute),
        each weight with ``kernel_regularizer=L1L2(l1, l2)``; ``LossScaleOptimizer(inner, initial_scale=S)``;
        ``scaled = optimizer.scale_loss(loss + Σ layer.losses)`` (variant penalty_outside: ``scale_loss(loss) +
        Σ layer.losses``), the tape's gradient, ``apply_gradients`` (which unscales)."""
        args = dict(task.options["args"])
        outside = bool(args.pop("penalty_outside", False))
        layer = keras.layers.Layer(dtype=f"mixed_{task.dtype}")
        regularizer = keras_regularizer(keras.regularizers.L1L2, task.native)
        variables = {n: layer.add_weight(shape=w.shape, name=n, regularizer=regularizer,
                                         initializer=constant(np.asarray(w).astype(np.float32)))
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
        regularizer = keras_regularizer(keras.regularizers.L2, task.native) if regularized else None
        layers: dict[str, keras.layers.Embedding] = {}
        variables = {}
        for name, w in task.weights.items():
            if name in tables:
                layer = keras.layers.Embedding(*w.shape, dtype=task.dtype, embeddings_regularizer=regularizer,
                                               embeddings_initializer=constant(np.asarray(w)))
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
        params, names = run_keras_snippet(task, {"tf": tf})
        if "scheduler" in names:
            raise program_run.ProgramError("Keras takes a schedule as the optimizer's learning_rate, not `scheduler`")
        model = names.get("model")
        bound = bound_program_weights(task, model, params)
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
                               kernel_initializer=constant(np.asarray(task.weights["w"])),
                               bias_initializer=constant(np.asarray(task.weights["b"])))
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
    layer = _dense(task, keras_regularizer(keras.regularizers.L2, task.native))
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
