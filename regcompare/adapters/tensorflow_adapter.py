"""tensorflow: ``tf.nn.l2_loss``, TF 1.x's ``tf.contrib.layers`` regularizers (through tf-slim) and the Keras 3 weight
regularizers and optimizers (``keras_common``, on Keras' tensorflow backend), gradients through ``tf.GradientTape``.

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

from regcompare.adapters.base import Task, Unsupported, Value  # noqa: E402
from regcompare.adapters.keras_common import KerasAdapter, TensorPenalty, constant, keras_regularizer  # noqa: E402
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
