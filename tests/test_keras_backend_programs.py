"""Keras program snippets on the torch and jax backends (regcompare.adapters.keras_common.KerasAdapter.program),
against one SGD step written out by hand: the layer's kernel_regularizer reaches the gradient through each
backend's own autodiff, or the kernel would move by the data gradient alone."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from regcompare.adapters.base import Task
from regcompare.workers import evaluate

KERNEL = np.array([[1.0, -2.0, 0.5], [-3.0, 4.0, 0.25]], np.float32)
BIAS = np.array([0.5, -0.25, 1.0], np.float32)
G_KERNEL = np.array([[1.0, 0.5, -1.0], [-0.25, 2.0, 0.0]], np.float32)
G_BIAS = np.ones(3, np.float32)
DENSE = """model = keras.layers.Dense(3, kernel_regularizer=keras.regularizers.L2(0.05))
model.build((None, 2))
"""


def _task(framework: str, source: str) -> Task:
    options = {"source": source, "side": framework, "file": "test", "steps": 1,
               "grads": {"kernel": G_KERNEL, "bias": G_BIAS}}
    return Task("program", "program", "float32", {}, {"kernel": KERNEL, "bias": BIAS}, options)


@pytest.mark.parametrize("framework, package", [("keras-torch", "torch"), ("keras-jax", "jax")])
def test_a_keras_program_runs_on_the_backend_with_its_layer_losses(framework: str, package: str) -> None:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"needs {package}")
    plain, custom = evaluate(framework, [
        _task(framework, DENSE + "opt = keras.optimizers.SGD(learning_rate=0.1)"),
        _task(framework, DENSE + "opt = keras.optimizers.SGD(learning_rate=0.1)\ndef step(loss_fn):\n    pass"),
    ])
    assert plain.status == "ok", plain.detail
    # L2(0.05) adds 0.05·Σk², gradient 0.1·k: k ← k − 0.1·(g + 0.1·k); the bias has no regularizer
    np.testing.assert_allclose(np.asarray(plain.value["kernel"])[-1], KERNEL - 0.1 * (G_KERNEL + 0.1 * KERNEL),
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(plain.value["bias"])[-1], BIAS - 0.1 * G_BIAS, rtol=1e-6)
    assert str(plain.value["__mapping__"]) == "kernel = dense/kernel, bias = dense/bias"
    assert custom.status == "error" and "tensorflow worker only" in custom.detail
