"""Mixed precision with loss scaling (docs/case-format.md ``mixed_precision: {loss_scale: S}``): the float64 model.

A mixed-precision step, as torch.amp.GradScaler, Keras' LossScaleOptimizer and paddle.amp.GradScaler run it: the
parameters are float32 *master* weights; the model computes with a copy cast to the case's low precision; the
loss is multiplied by S before backward, and the optimizer divides the gradients by S (in float32) before it
steps the master weights. Rows show both: ``w`` is the low-precision copy after the last step (the final cast),
``w.master`` the float32 master.

With S a power of two and no overflow, S·g is exact in the low precision and so is its unscaling: the oracle's
gradient is the case's (dtype-rounded) g, and the canonical update is the float64 rule on the master weights.
Where the penalty enters is the convention users trip on:

- **inside** the scaled loss (``scale(loss + R(w))``): R is scaled and unscaled with the loss: l2·w, canonical;
- **outside** it (``scale(loss) + R(w)``): only the loss was scaled, but the unscaling divides every gradient by S:
  the decay becomes l2·w/S (measured with torch's GradScaler, S = 1024, lr 0.1, L2 0.5, w = [1, −2], g = 0: inside
  [0.95, −1.9], outside [0.99995, −1.9999]).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from regcompare import oracle
from regcompare.conventions import OptimizerCall, Regularizer
from regcompare.dtypes import cast

if TYPE_CHECKING:
    from regcompare.plan import Item

MASTER = ".master"
"""The row tensor of a weight's float32 master copy: ``w.master``."""
OUTSIDE = "penalty_outside"
"""The variant (and its rule setting) that adds the penalty after the loss was scaled."""
OUTSIDE_WHY = ("penalty outside the scaled loss: scale(loss) + R(w), then the unscaling divides its gradient by the "
               "loss scale too: decay l2·w/S, l1·sign(w)/S")


def master_name(weight: str) -> str:
    return weight + MASTER


def references(
    item: Item, inputs: dict[str, np.ndarray], grads: dict[str, np.ndarray], call: OptimizerCall,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None, str]:
    """The canonical low-precision weights and float32 masters after the steps; with the penalty outside the scaled
    loss, also the update of its documented semantics (the decay divided by S) and why."""
    spec = item.case.spec.mixed_precision
    assert spec is not None
    settings = item.settings()

    def run(reg: Regularizer) -> dict[str, np.ndarray]:
        masters = oracle.update(inputs, grads, reg, call.family, settings, item.case.spec.steps, "coupled",
                                call.rule_options(own=False))
        return final(masters, item.dtype)

    canonical = run(item.regularizer)
    if not settings.get(OUTSIDE):
        return canonical, None, ""
    scale = spec.loss_scale
    return canonical, run(Regularizer(item.regularizer.l1 / scale, item.regularizer.l2 / scale)), OUTSIDE_WHY


def final(masters: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Each weight as the model holds it (the master cast to ``dtype``) and its float32 master, widened to float64."""
    out: dict[str, np.ndarray] = {}
    for name, w in masters.items():
        out[name] = cast(w, dtype).astype(np.float64)
        out[master_name(name)] = cast(w, "float32").astype(np.float64)
    return out
