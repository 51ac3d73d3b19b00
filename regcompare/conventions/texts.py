"""Sentences several records share (formulas, caveats, how an API is called)."""

from __future__ import annotations

STEP = "the gradient term of one real SGD step with zero loss gradient, (w - w')/lr"
PENALTY_GRAD = ("penalty", "gradient")
PENALTY_UPDATE = ("penalty", "gradient", "update")
PENALTY_GRAD_TRAJECTORY = ("penalty", "gradient", "trajectory")
DECOUPLED = "w ← w − lr·{wd}·w before each step (decoupled: not through the gradient, momentum or moments)"
NOT_L2 = ("Decoupled weight decay is not an L2 penalty: with momentum or Adam it gives other weights than the "
           "coupled weight_decay of torch/paddle (Loshchilov & Hutter, arXiv:1711.05101); with plain SGD they agree.")
UPDATE_OF_STEPS = "the weights after `steps` real optimizer steps on the case's per-step loss gradients"
GROUPS = "param groups: [{'params': <scope>, 'weight_decay': …}, {'params': <others>, 'weight_decay': 0.0}]"

# --- weight normalization (torch/nn/utils/parametrizations.py _WeightNorm; paddle/nn/utils/weight_norm_hook.py;
# paddle/base/layer_helper_base.py _create_weight_normalize; checked against the installed torch 2.13, paddle 3.3.1) --
WN_FORMULA = ("w = g·v/‖v‖ (one norm per slice along dim; dim=None: of the whole tensor); gradient += {c}·g and "
               "{c}·v: coupled, on g and v, never on w")
WN_HOW = ("g, v and w = g·v/‖v‖ after `steps` real steps on the loss Σ grads⊙w, the gradient reaching g and v "
           "through the framework's own autograd")
WN_NOT_W = ("Not an L2 penalty on w: (l2/2)‖w‖² = (l2/2)Σg², whose gradient is l2·g on g and 0 on v. The decay on v "
             "leaves w unchanged at that step (w does not depend on ‖v‖) but shrinks ‖v‖, which scales every later "
             "direction update by g/‖v‖.")
WN_MINUS_ONE = "dim=None is turned into dim=-1, and -1 means the whole tensor here, not the last axis."
WN_KEEPDIMS = "Rows show g with kept dims ([rows, 1] for dim=0, [1, 1] for dim=None on a matrix)."
WN_STATIC_ATTR = ("The ParamAttr is copied to both parameters <name>_g and <name>_v, regularizer included: "
                   "L2Decay(coeff) decays g and v, never w; it replaces the optimizer's weight_decay there, as any "
                   "ParamAttr regularizer does.")
WN_STATIC_HOW = ("paddle.static.create_parameter(attr=paddle.static.WeightNormParamAttr(dim=…, initializer=Assign(w), "
                  "regularizer=paddle.regularizer.L2Decay(coeff))) in a fresh static Program, {ir}; "
                  "paddle.optimizer.SGD/Momentum(...).minimize(loss), one Executor.run per step: " + WN_HOW)
