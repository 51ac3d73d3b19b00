"""torch: the d2l idiom and the torch.optim optimizers (argument names and defaults checked against the pinned
sources: torch/optim/sgd.py, adam.py, adamw.py; scope: torch/optim/optimizer.py add_param_group)."""

from __future__ import annotations

from regcompare.conventions.model import (
    Convention,
    OptimizerCall,
    Placement,
    Special,
    WeightNorm,
    adam_hypers,
    amp_calls,
    arg,
    hyper,
)
from regcompare.conventions.texts import (
    DECOUPLED,
    GROUPS,
    NOT_L2,
    PENALTY_GRAD_TRAJECTORY,
    STEP,
    UPDATE_OF_STEPS,
    WN_FORMULA,
    WN_HOW,
    WN_KEEPDIMS,
    WN_MINUS_ONE,
    WN_NOT_W,
)
from regcompare.schedules import schedule_classes

TORCH_SGD = OptimizerCall("torch.optim.SGD", "sgd", (
    hyper("lr", "lr", 1e-3), hyper("momentum", "momentum", 0.0), hyper("dampening", "dampening", 0.0),
    hyper("nesterov", "nesterov", False)))
TORCH_ADAM = OptimizerCall("torch.optim.Adam", "adam", adam_hypers("lr", "betas[0]", "betas[1]", "eps", 1e-8))
TORCH_ADAMW = OptimizerCall("torch.optim.AdamW", "adam", adam_hypers("lr", "betas[0]", "betas[1]", "eps", 1e-8))
_TORCH_PLACEMENT = Placement(GROUPS)

RECORDS: tuple[Convention, ...] = (
    Convention(
        "torch.handwritten", "torch", "penalty", PENALTY_GRAD_TRAJECTORY,
        (arg("l1", "l1"), arg("lambd", "l2")),
        "l1·Σ|w| + lambd·Σw²/2 (the d2l idiom)",
        "penalty", "lambd * torch.sum(w.pow(2)) / 2 + l1 * torch.sum(torch.abs(w)); gradient by backward()",
    ),
    Convention(
        "torch.optim.SGD", "torch", "gradient", ("gradient", "update", "trajectory"),
        (arg("weight_decay", "l2"),),
        "gradient += weight_decay·w (before momentum)",
        "coupled", f"torch.optim.SGD(weight_decay=…): {STEP}; update: {UPDATE_OF_STEPS}",
        caveats=("No L1: torch has no built-in L1 decay; add l1·Σ|w| to the loss by hand.",
                 "The first momentum step stores the gradient itself (no dampening on step 1)."),
        optimizers=(TORCH_SGD,), role="optimizer",
        placement=_TORCH_PLACEMENT,
    ),
    Convention(
        "torch.optim.Adam", "torch", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "gradient += weight_decay·w, then Adam's moments (L2 scaled by 1/√v̂)",
        "coupled", f"torch.optim.Adam(weight_decay=…): {UPDATE_OF_STEPS}",
        caveats=("Coupled: the decay goes through m and v, so weights with large gradients are decayed less.",),
        optimizers=(TORCH_ADAM,), role="optimizer",
        placement=_TORCH_PLACEMENT,
    ),
    Convention(
        "torch.optim.Adam.decoupled", "torch", "update", ("update",),
        (arg("weight_decay", "l2"),),
        DECOUPLED.format(wd="weight_decay") + " — torch.optim.Adam(decoupled_weight_decay=True), i.e. AdamW",
        "decoupled", f"torch.optim.Adam(weight_decay=…, decoupled_weight_decay=True): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2,), optimizers=(TORCH_ADAM,), role="optimizer", call_args="decoupled_weight_decay=True",
        placement=_TORCH_PLACEMENT,
    ),
    Convention(
        "torch.optim.AdamW", "torch", "update", ("update",),
        (arg("weight_decay", "l2", 1.0, 0.01),),
        DECOUPLED.format(wd="weight_decay") + " (param.mul_(1 − lr·weight_decay))",
        "decoupled", f"torch.optim.AdamW(weight_decay=…): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Default weight_decay=0.01 (torch.optim.Adam: 0)."),
        optimizers=(TORCH_ADAMW,), role="optimizer",
        placement=_TORCH_PLACEMENT,
    ),    Convention(
        "torch.nn.utils.parametrizations.weight_norm", "torch", "update", ("update",),
        (arg("weight_decay", "l2"),),
        WN_FORMULA.format(c="weight_decay"), "coupled",
        "torch.nn.utils.parametrizations.weight_norm(module, 'weight', dim) on a module holding the weight, "
        "torch.optim.SGD(module.parameters(), weight_decay=…): " + WN_HOW,
        caveats=("g and v are module.parametrizations.weight.original0 and original1; weight_decay on "
                 "module.parameters() decays them, never w.",
                 "g keeps the normed dims ([rows, 1] for dim=0) and is 0-d for dim=None. " + WN_KEEPDIMS,
                 WN_MINUS_ONE, WN_NOT_W),
        role="optimizer",
        weight_norm=WeightNorm("parametrizations.weight.original0", "parametrizations.weight.original1", (TORCH_SGD,)),
    ),
    # --- schedules/mixed precision/sparse ---
    Convention(
        "torch.optim.lr_scheduler", "torch", "update", (), (),
        "step k runs at lr(k): scheduler.step() after optimizer.step(); AdamW's decoupled decay uses it, "
        "w ← w − lr(k)·weight_decay·w (measured: w = 1, lr 1.0 then 0.5, decay 0.1, zero gradients → 0.855)",
        "decoupled", "the case's optimizer.schedule as " + schedule_classes("torch") + " on the optimizer",
        caveats=("CosineAnnealingLR is computed recursively and rises again past T_max (SGDR without restarts); "
                 "cases keep steps ≤ t_max + 1.",
                 "No piecewise-constant class: LambdaLR with values[bisect_right(boundaries, k)]/lr, as users write "
                 "it (MultiStepLR covers geometric values only).",
                 "weight_decay has no scheduler: lr_scheduler classes change param_group['lr'] only."),
    ),
    Convention(
        "torch.amp.GradScaler", "torch", "update", ("update",),
        (arg("l1", "l1"), arg("lambd", "l2")),
        "scaler.scale(loss + lambd·Σw²/2 + l1·Σ|w|).backward(); scaler.step(opt): the penalty is scaled and "
        "unscaled with the loss (variant penalty_outside: scaler.scale(loss) + penalty, the decay divided by S)",
        "coupled", "float32 master parameters, the model's copy w.to(low) (what autocast casts to), the d2l penalty "
        "on that copy, torch.amp.GradScaler('cpu', init_scale=S), the case's optimizer on the masters: "
        + UPDATE_OF_STEPS,
        caveats=("Outside the scaled loss the penalty's gradient is unscaled too: divided by init_scale (measured: "
                 "S = 1024, lr 0.1, L2 0.5 → [0.95, −1.9] inside, [0.99995, −1.9999] outside).",
                 "Rows show each weight as the model holds it (the master cast to the case's dtype) and w.master.",
                 "An optimizer's own weight_decay acts after unscaling: it needs no care."),
        role="layer", special=Special("mixed_precision", amp_calls(TORCH_SGD, TORCH_ADAM)),
    ),
    Convention(
        "torch.nn.Embedding.sparse", "torch", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "gradient += weight_decay·w on a sparse gradient: refused (SGD: add(sparse, dense); Adam: no sparse "
        "gradients; Adagrad: weight_decay not compatible with sparse gradients)",
        "coupled", "torch.nn.Embedding(sparse=True) per table, looked up at the rows its grads touch; the case's "
        "optimizer with weight_decay: " + UPDATE_OF_STEPS,
        caveats=("torch answers 'does decay touch absent rows?' by refusing decay with sparse gradients; a penalty "
                 "in the loss makes the gradient dense (every row decays).",),
        role="optimizer", special=Special("sparse", (TORCH_SGD, TORCH_ADAM)),
    ),
    Convention(
        "torch.optim.SparseAdam", "torch", "update", ("update",),
        (arg("lambd", "l2"),),
        "lazy Adam (rows absent from the gradient untouched, moments included), no weight_decay argument: the "
        "decay only as a penalty lambd·Σw²/2 in the loss, whose gradient is dense, which SparseAdam refuses",
        "coupled", "torch.nn.Embedding(sparse=True) per table, loss Σ g⊙E[rows] + lambd·ΣE²/2, "
        "torch.optim.SparseAdam: " + UPDATE_OF_STEPS,
        caveats=("SparseAdam takes sparse gradients only ('SparseAdam does not support dense gradients').",),
        role="layer", special=Special("sparse", (OptimizerCall(
            "torch.optim.SparseAdam", "adam", adam_hypers("lr", "betas[0]", "betas[1]", "eps", 1e-8)),)),
    ),
)
