"""torch: the d2l hand-written penalty (autograd for its gradient) and SGD's coupled weight decay."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import torch

from regcompare import measure
from regcompare.adapters.base import Adapter, Task, Value

_TORCH_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


def to_torch(array: np.ndarray, dtype: str) -> torch.Tensor:
    """Exact conversion; bfloat16 goes through its bit pattern (torch cannot read ml_dtypes)."""
    if dtype == "bfloat16":
        bits = np.ascontiguousarray(array).view(np.uint16).astype(np.int16, copy=False)
        return torch.from_numpy(bits.copy()).view(torch.bfloat16)
    return torch.from_numpy(np.array(array, copy=True))


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return tensor.numpy()


class TorchAdapter(Adapter):
    framework = "torch"
    refusals = (RuntimeError, NotImplementedError)

    def __init__(self) -> None:
        super().__init__()
        self.apis = {"torch.handwritten": self.handwritten, "torch.optim.SGD": self.sgd}

    def version(self) -> str:
        return torch.__version__

    def _params(self, task: Task) -> dict[str, torch.Tensor]:
        return {n: to_torch(w, task.dtype).requires_grad_(True) for n, w in task.weights.items()}

    def handwritten(self, task: Task) -> Value:
        """d2l's ``lambd * torch.sum(w.pow(2)) / 2``, plus ``l1 * torch.sum(torch.abs(w))``.

        A term with a zero coefficient is not written, as a user would not write it (and so
        ``0·inf`` never turns an infinite weight's gradient into NaN).
        """
        lambd, l1 = task.native.get("lambd", 0.0), task.native.get("l1", 0.0)
        params = self._params(task)
        penalty = torch.zeros((), dtype=_TORCH_DTYPES[task.dtype])
        for w in params.values():
            if lambd:
                penalty = penalty + lambd * torch.sum(w.pow(2)) / 2
            if l1:
                penalty = penalty + l1 * torch.sum(torch.abs(w))
        if task.quantity == "penalty":
            return to_numpy(penalty)
        if penalty.requires_grad:
            penalty.backward()
        return {n: to_numpy(w.grad if w.grad is not None else torch.zeros_like(w)) for n, w in params.items()}

    def sgd(self, task: Task) -> Value:
        """The weight-decay term of one real ``torch.optim.SGD`` step with a zero loss gradient."""
        weight_decay = task.native.get("weight_decay", 0.0)
        lr = measure.probe_lr(task.weights, 0.0, weight_decay, task.dtype)
        params = self._params(task)
        for w in params.values():
            w.grad = torch.zeros_like(w)
        torch.optim.SGD(list(params.values()), lr=lr, weight_decay=weight_decay).step()
        return {n: measure.term_from_step(task.weights[n], to_numpy(w), lr) for n, w in params.items()}


ADAPTER = TorchAdapter
