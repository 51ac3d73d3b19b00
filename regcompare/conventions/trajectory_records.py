"""trajectory: d2l's weight-decay experiment (regcompare.trajectory), the APIs that run it and how."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# d2l (chapter "Weight Decay"): from scratch, squared_loss = (ŷ − y)²/2 plus lambd·l2_penalty(w) per example,
# l.sum().backward(), then sgd divides by batch_size; concise (torch), nn.MSELoss(reduction='none') -- no ½ --
# and l.mean().backward(). The two d2l styles thus differ by 2 in the data term; regcompare runs one objective,
# the from-scratch one, and halves the concise MSE to get it.

TRAJECTORY_OBJECTIVE = (
    "J(w, b) = mean over the minibatch of ½(x·w + b − y)² + λ/2·‖w‖² (λ = canonical l2, on w only, never on b); "
    "plain SGD w ← w − lr·∂J/∂w, b ← b − lr·∂J/∂b; reported loss: mean of ½(ŷ − y)² over the whole set, no penalty")

Style = Literal["scratch", "concise"]


@dataclass(frozen=True)
class Training:
    """How an API trains the trajectory model: ``scratch`` (the penalty added to the loss, SGD written by hand
    with the framework's own tensor ops) or ``concise`` (the framework's layer, loss and optimizer)."""

    style: Style
    how: str


_HALF_MSE = "the MSE loss halved to the objective's ½(ŷ − y)²"
TRAJECTORIES: dict[str, Training] = {
    "numpy.handwritten": Training("scratch", "numpy in the dtype: r = X@w + b − y; w -= lr·(X.T@r/n + l2·w); "
                                             "b -= lr·mean(r) (the gradient by hand)"),
    "torch.handwritten": Training("scratch", "d2l: l = (X@w + b − y)²/2 + lambd·torch.sum(w.pow(2))/2; "
                                             "l.sum().backward(); p -= lr·p.grad/batch_size under no_grad"),
    "torch.optim.SGD": Training("concise", "d2l: nn.Linear; SGD([{'params': weight, 'weight_decay': λ}, "
                                           "{'params': bias}], lr); (MSELoss(reduction='none')/2).mean().backward(); "
                                + _HALF_MSE),
    "tf.nn.l2_loss": Training("scratch", "d2l (TF): l = (X@w + b − y)²/2 + scale·tf.nn.l2_loss(w); "
                                         "tape.gradient(l, [w, b]); w.assign_sub(lr·grad/batch_size)"),
    "keras.regularizers.L2": Training("concise", "d2l (TF): Dense(1, kernel_regularizer=L2(λ/2)); loss = "
                                                 "MeanSquaredError()/2 + Σ model.losses; keras.optimizers.SGD(lr)"
                                                 ".apply_gradients; " + _HALF_MSE),
    "keras.optimizers.SGD": Training("concise", "Dense(1); keras.optimizers.SGD(lr, weight_decay=λ) with "
                                                "exclude_from_weight_decay(bias); loss = MeanSquaredError()/2 "
                                                "(decoupled: agrees with coupled L2 for plain SGD)"),
    "paddle.handwritten": Training("scratch", "d2l (paddle): l = (X@w + b − y)²/2 + l2·paddle.sum(w.pow(2))/2; "
                                              "l.sum().backward(); p.set_value(p − lr·p.grad/batch_size)"),
    "paddle.regularizer.L2Decay": Training("concise", "nn.Linear; paddle.optimizer.SGD(parameters=[{'params': "
                                                      "[weight], 'weight_decay': L2Decay(λ)}, {'params': [bias]}]); "
                                                      "nn.MSELoss()/2"),
    "paddle.ParamAttr.L2Decay": Training("concise", "nn.Linear(weight_attr=ParamAttr(regularizer=L2Decay(λ))); "
                                                    "paddle.optimizer.SGD; nn.MSELoss()/2"),
}
"""The APIs that run ``trajectory`` (those with it in ``quantities``), and how."""

