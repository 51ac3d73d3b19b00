"""keras-torch: the Keras 3 regularizer and optimizer APIs (``keras_common``) on Keras' torch backend, gradients by
``torch.autograd.grad``. ``KERAS_BACKEND=torch`` is set before Keras is imported and checked after."""

from __future__ import annotations

from regcompare.adapters import keras_backend

keras_backend.pin("torch")

from collections.abc import Callable  # noqa: E402

import keras  # noqa: E402
import torch  # noqa: E402

from regcompare.adapters.base import Unsupported  # noqa: E402
from regcompare.adapters.keras_common import KerasAdapter  # noqa: E402

keras_backend.checked(keras, "torch")


def _grads(value: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """d value / d inputs; zero where ``value`` does not depend on an input (``L1L2()`` is a constant)."""
    if not value.requires_grad:
        return [torch.zeros_like(t) for t in inputs]
    grads = torch.autograd.grad(value, inputs, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, inputs, strict=True)]


class KerasTorchAdapter(KerasAdapter):
    framework = "keras-torch"
    backend = "torch"
    suffix = "@torch"
    # torch's refusal of a dtype (no kernel) is a RuntimeError/NotImplementedError, as in the torch adapter
    refusals = (Unsupported, RuntimeError, NotImplementedError)

    def __init__(self) -> None:
        super().__init__()
        self.apis = self.keras_apis()

    def version(self) -> str:
        return f"keras {keras.__version__}, torch {torch.__version__}"

    def _grad(self, fn: Callable[[list[torch.Tensor]], torch.Tensor], tensors: list[torch.Tensor]) -> list:
        inputs = [t.detach().requires_grad_(True) for t in tensors]
        return _grads(fn(inputs), inputs)

    def _gradients(self, loss: Callable[[], torch.Tensor], variables: list[keras.Variable]) -> list:
        # On torch a trainable keras.Variable's value is a torch.nn.Parameter: autograd sees it directly.
        return _grads(loss(), [v.value for v in variables])


ADAPTER = KerasTorchAdapter
