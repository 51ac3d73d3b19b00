"""Adadelta (torch/optim/adadelta.py ``_single_tensor_adadelta``; keras/src/optimizers/adadelta.py
``update_step``; paddle/optimizer/adadelta.py, its docstring's formula).

    v ← ρv + (1−ρ)g²;   δ = √(u + ε)/√(v + ε)·g;   u ← ρu + (1−ρ)δ²;   w ← w − lr·δ

Every framework puts ε inside both roots; they differ in defaults only (lr: torch 1.0, Keras and paddle 0.001;
ρ: torch 0.9, Keras and paddle 0.95; ε: torch and paddle 1e-6, Keras 1e-7).

| key | default | meaning |
|---|---|---|
| ``lr`` | 0.1 | learning rate (scales δ) |
| ``rho`` | 0.9 | decay of both running averages |
| ``eps`` | 1e-6 | ε inside both roots |
"""

from __future__ import annotations

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("rho", 0.9, "fraction", "decay of the running averages of g² and δ²"),
    Setting("eps", 1e-6, "positive", "ε inside both roots"),
)


def step(ctx: Step) -> np.ndarray:
    s, g, state = ctx.s, ctx.g, ctx.state
    rho, eps = s["rho"], s["eps"]
    v = rho * state.get("v", 0.0) + (1.0 - rho) * g * g
    delta = np.sqrt(state.get("u", 0.0) + eps) / np.sqrt(v + eps) * g
    state["v"] = v
    state["u"] = rho * state.get("u", 0.0) + (1.0 - rho) * delta * delta
    return -ctx.lr * delta
