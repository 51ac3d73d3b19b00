"""Keras 3 picks its backend once, when it is first imported, from ``KERAS_BACKEND`` (then ~/.keras/keras.json).

A worker that runs Keras on one backend must therefore set the variable before anything imports Keras, and
check afterwards that Keras really runs there: a user's ``export KERAS_BACKEND=torch`` is inherited by every
worker, and without the pin the tensorflow worker's Keras regularizers run on torch tensors that its
``tf.GradientTape`` does not see (gradients silently 0). This module imports no framework.
"""

from __future__ import annotations

import os
from types import ModuleType


class BackendMismatch(RuntimeError):
    """Keras was imported on another backend than the worker's: the worker cannot run (its import fails)."""


def pin(backend: str) -> None:
    """Make the next ``import keras`` load ``backend``, whatever the user's environment says."""
    os.environ["KERAS_BACKEND"] = backend


def checked(keras: ModuleType, backend: str) -> ModuleType:
    """``keras`` itself if it runs on ``backend``; else the worker's import fails with the reason."""
    found = keras.backend.backend()
    if found != backend:
        raise BackendMismatch(
            f"Keras runs on the {found!r} backend, this worker needs {backend!r}: Keras was imported before "
            f"KERAS_BACKEND={backend} was set (KERAS_BACKEND is read once, at the first import of keras)"
        )
    return keras
