"""keras-jax: the Keras 3 regularizer and optimizer APIs (``keras_common``) on Keras' jax backend, gradients by
``jax.grad`` through Keras' stateless API (``keras.StatelessScope`` maps each variable to the traced value).

``KERAS_BACKEND=jax`` is set before Keras is imported and checked after; 64-bit floats are enabled first, as a
Keras-on-jax user must do for float64 (else Keras' jax backend truncates float64 to float32, with a warning).
"""

from __future__ import annotations

import jax

from regcompare.adapters import keras_backend

jax.config.update("jax_enable_x64", True)
keras_backend.pin("jax")

from collections.abc import Callable  # noqa: E402

import keras  # noqa: E402

from regcompare.adapters.base import Unsupported  # noqa: E402
from regcompare.adapters.keras_common import KerasAdapter  # noqa: E402

keras_backend.checked(keras, "jax")


class KerasJaxAdapter(KerasAdapter):
    framework = "keras-jax"
    backend = "jax"
    suffix = "@jax"
    refusals = (Unsupported,)

    def __init__(self) -> None:
        super().__init__()
        self.apis = self.keras_apis()

    def version(self) -> str:
        return f"keras {keras.__version__}, jax {jax.__version__}"

    def _grad(self, fn: Callable[[list[jax.Array]], jax.Array], tensors: list[jax.Array]) -> list[jax.Array]:
        return jax.grad(fn)(tensors)

    def _gradients(self, loss: Callable[[], jax.Array], variables: list[keras.Variable]) -> list[jax.Array]:
        def stateless(values: list[jax.Array]) -> jax.Array:
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return loss()

        return jax.grad(stateless)([v.value for v in variables])


ADAPTER = KerasJaxAdapter
