"""Adagrad (torch/optim/adagrad.py ``_single_tensor_adagrad``; keras/src/optimizers/adagrad.py ``update_step``;
paddle/optimizer/adagrad.py, the ``adagrad`` kernel as its docstring states it).

    s ← s + g²   (s starts at initial_accumulator_value);   clr = lr/(1 + (t−1)·lr_decay)
    ε outside the root (torch, paddle):  w ← w − clr·g/(√s + ε)
    ε inside the root (Keras):           w ← w − lr·g/√(s + ε)

| key | default | meaning |
|---|---|---|
| ``lr`` | 0.1 | learning rate |
| ``lr_decay`` | 0 | torch's lr decay per step (Keras and paddle have none) |
| ``initial_accumulator_value`` | 0 | the starting value of s (Keras' default: 0.1; torch, paddle: 0) |
| ``eps`` | 1e-10 | ε (torch 1e-10, Keras 1e-7, paddle 1e-6) |
"""

from __future__ import annotations

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("lr_decay", 0.0, "nonnegative", "torch's lr decay: lr/(1 + (t−1)·lr_decay)"),
    Setting("initial_accumulator_value", 0.0, "nonnegative", "starting value of the sum of squared gradients"),
    Setting("eps", 1e-10, "positive", "ε, added to the root of the accumulator"),
)
OPTIONS = {"eps_inside_sqrt": False}


def step(ctx: Step) -> np.ndarray:
    s, g = ctx.s, ctx.g
    acc = ctx.state.get("sum", s["initial_accumulator_value"]) + g * g
    ctx.state["sum"] = acc
    clr = ctx.lr / (1.0 + (ctx.t - 1) * s["lr_decay"])
    denom = np.sqrt(acc + s["eps"]) if s["eps_inside_sqrt"] else np.sqrt(acc) + s["eps"]
    return -clr * g / denom
