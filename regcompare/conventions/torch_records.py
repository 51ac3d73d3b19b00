"""torch: the d2l idiom and the torch.optim optimizers (argument names and defaults checked against the pinned
sources: torch/optim/sgd.py, adam.py, adamw.py; scope: torch/optim/optimizer.py add_param_group)."""

from __future__ import annotations

from dataclasses import replace

from regcompare.conventions import schedule_records
from regcompare.conventions.model import (
    Convention,
    OptimizerCall,
    Placement,
    Special,
    Variant,
    WeightNorm,
    adam_hypers,
    amp_calls,
    arg,
    hyper,
)
from regcompare.conventions.schedule_records import schedule_classes
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

# Variants (torch/optim/optimizer.py _default_to_fused_or_foreach: on CPU the default is the for-loop;
# _get_fused_kernels_supported_devices: SGD, Adam, AdamW and Adagrad have fused CPU kernels in every float dtype).
_LOOP = Variant("foreach", (("foreach", True),), why="the multi-tensor (foreach) implementation")
_FUSED = Variant("fused", (("fused", True),), why="the fused CPU kernel")
_MAXIMIZE = Variant("maximize", (("maximize", True),), (("maximize", True),), why="ascends: the loss gradient negated")
TORCH_SGD = OptimizerCall("torch.optim.SGD", "sgd", (
    hyper("lr", "lr", 1e-3), hyper("momentum", "momentum", 0.0), hyper("dampening", "dampening", 0.0),
    hyper("nesterov", "nesterov", False)),
    variants=(_LOOP, _FUSED, _MAXIMIZE,
              Variant("nesterov", (("nesterov", True),), (("nesterov", True),),
                      why="Nesterov momentum (torch needs a momentum and no dampening)",
                      needs=(("momentum", True), ("dampening", False)))))
_ADAM_VARIANTS = (_LOOP, _FUSED, _MAXIMIZE,
                  Variant("amsgrad", (("amsgrad", True),), (("amsgrad", True),), why="AMSGrad: the running max of v"))
TORCH_ADAM = OptimizerCall("torch.optim.Adam", "adam", (
    *adam_hypers("lr", "betas[0]", "betas[1]", "eps", 1e-8), hyper("amsgrad", "amsgrad", False)),
    variants=_ADAM_VARIANTS)
TORCH_ADAMW = OptimizerCall("torch.optim.AdamW", "adam", (
    *adam_hypers("lr", "betas[0]", "betas[1]", "eps", 1e-8), hyper("amsgrad", "amsgrad", False)),
    variants=_ADAM_VARIANTS)
_TORCH_PLACEMENT = Placement(GROUPS)

# --- zoo: adagrad, rmsprop, adadelta, adamax, nadam, radam (torch/optim/<name>.py __init__ and _single_tensor_<name>)
TORCH_ADAGRAD = OptimizerCall("torch.optim.Adagrad", "adagrad", (
    hyper("lr", "lr", 1e-2), hyper("lr_decay", "lr_decay", 0.0),
    hyper("initial_accumulator_value", "initial_accumulator_value", 0.0), hyper("eps", "eps", 1e-10)),
    variants=(_LOOP, _FUSED, _MAXIMIZE))
TORCH_RMSPROP = OptimizerCall("torch.optim.RMSprop", "rmsprop", (
    hyper("lr", "lr", 1e-2), hyper("alpha", "alpha", 0.99), hyper("eps", "eps", 1e-8),
    hyper("momentum", "momentum", 0.0), hyper("centered", "centered", False)),
    variants=(_LOOP, _MAXIMIZE, Variant("centered", (("centered", True),), (("centered", True),),
                                        why="the centered variance v − ḡ²")))
TORCH_ADADELTA = OptimizerCall("torch.optim.Adadelta", "adadelta", (
    hyper("lr", "lr", 1.0), hyper("rho", "rho", 0.9), hyper("eps", "eps", 1e-6)), variants=(_LOOP, _MAXIMIZE))
TORCH_ADAMAX = OptimizerCall("torch.optim.Adamax", "adamax",
                             (hyper("lr", "lr", 2e-3), *adam_hypers("lr", "betas[0]", "betas[1]", "eps", 1e-8)[1:]),
                             variants=(_LOOP, _MAXIMIZE))
TORCH_NADAM = OptimizerCall("torch.optim.NAdam", "nadam", (
    hyper("lr", "lr", 2e-3), *adam_hypers("lr", "betas[0]", "betas[1]", "eps", 1e-8)[1:],
    hyper("momentum_decay", "momentum_decay", 4e-3)), variants=(_LOOP, _MAXIMIZE))
TORCH_RADAM = OptimizerCall("torch.optim.RAdam", "radam", adam_hypers("lr", "betas[0]", "betas[1]", "eps", 1e-8),
                            variants=(_LOOP, _MAXIMIZE))
_ZOO_A_COUPLED = (
    ("torch.optim.Adagrad", TORCH_ADAGRAD, "gradient += weight_decay·w, then s += g², w −= clr·g/(√s + ε)",
     ("Default initial_accumulator_value=0 (Keras: 0.1); eps=1e-10 outside the root (Keras: 1e-7 inside it).",)),
    ("torch.optim.RMSprop", TORCH_RMSPROP, "gradient += weight_decay·w, then v ← αv + (1−α)g², w −= lr·g/(√v + ε)",
     ("ε outside the root: √v + ε (Keras and paddle: √(v + ε)); the decay is spelled alpha (Keras, paddle: rho).",)),
    ("torch.optim.Adadelta", TORCH_ADADELTA, "gradient += weight_decay·w, then Adadelta's two running averages",
     ("Default lr=1.0 and rho=0.9 (Keras, paddle: lr=0.001, rho=0.95).",)),
    ("torch.optim.Adamax", TORCH_ADAMAX, "gradient += weight_decay·w, then u ← max(β₂u, |g| + ε)",
     ("Default lr=2e-3 (Keras, paddle: 1e-3).",)),
    ("torch.optim.NAdam", TORCH_NADAM, "gradient += weight_decay·w, then NAdam's moments (momentum_decay ψ)",
     ("Default lr=2e-3, momentum_decay=0.004 (Keras' Nadam has the schedule 0.96^t, i.e. ψ = 1).",)),
    ("torch.optim.RAdam", TORCH_RADAM, "gradient += weight_decay·w, then RAdam's rectified step (from step 6)",
     ("The first 5 steps are SGD with momentum (ρₜ ≤ 5); the adaptive step starts at step 6.",)),
)
# --- zoo: asgd, rprop, lbfgs, adafactor, muon (torch/optim/asgd.py, rprop.py, lbfgs.py, _adafactor.py, _muon.py) ---
_TORCH_FOREACH = Variant("foreach", native=(("foreach", True),))
_TORCH_MAXIMIZE = Variant("maximize", native=(("maximize", True),), settings=(("maximize", True),))
TORCH_RPROP = OptimizerCall("torch.optim.Rprop", "rprop", (
    hyper("lr", "lr", 0.01), hyper("etaminus", "etas[0]", 0.5), hyper("etaplus", "etas[1]", 1.2),
    hyper("step_size_min", "step_sizes[0]", 1e-6), hyper("step_size_max", "step_sizes[1]", 50.0)),
    variants=(_TORCH_FOREACH, _TORCH_MAXIMIZE))
TORCH_LBFGS = OptimizerCall("torch.optim.LBFGS", "lbfgs", (
    hyper("lr", "lr", 1.0), hyper("max_iter", "max_iter", 20), hyper("max_eval", "max_eval", 25),
    hyper("tolerance_grad", "tolerance_grad", 1e-7), hyper("tolerance_change", "tolerance_change", 1e-9),
    hyper("history_size", "history_size", 100)))
TORCH_ADAFACTOR = OptimizerCall("torch.optim.Adafactor", "adafactor", (
    hyper("lr", "lr", 0.01), hyper("beta2_decay", "beta2_decay", -0.8), hyper("eps1", "eps[0]", 1e-30),
    hyper("eps2", "eps[1]", 1e-3), hyper("d", "d", 1.0)), variants=(_TORCH_FOREACH, _TORCH_MAXIMIZE))
TORCH_MUON = OptimizerCall("torch.optim.Muon", "muon", (
    hyper("lr", "lr", 1e-3), hyper("momentum", "momentum", 0.95), hyper("nesterov", "nesterov", True),
    hyper("ns_a", "ns_coefficients[0]", 3.4445), hyper("ns_b", "ns_coefficients[1]", -4.775),
    hyper("ns_c", "ns_coefficients[2]", 2.0315), hyper("eps", "eps", 1e-7), hyper("ns_steps", "ns_steps", 5),
    hyper("adjust_lr_fn", "adjust_lr_fn", "original")))
TORCH_ASGD = OptimizerCall("torch.optim.ASGD", "asgd", (
    hyper("lr", "lr", 0.01), hyper("lambd", "lambd", 1e-4), hyper("alpha", "alpha", 0.75), hyper("t0", "t0", 1e6)),
    variants=(_TORCH_FOREACH, _TORCH_MAXIMIZE))

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
    ),
    Convention(
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
    # --- zoo: adagrad, rmsprop, adadelta, adamax, nadam, radam ---
    *(Convention(
        api, "torch", "update", ("update",), (arg("weight_decay", "l2"),), formula, "coupled",
        f"{api}(weight_decay=…): {UPDATE_OF_STEPS}", caveats=caveats, optimizers=(call,), role="optimizer",
        placement=_TORCH_PLACEMENT)
      for api, call, formula, caveats in _ZOO_A_COUPLED),
    *(Convention(
        f"{call.api}.decoupled", "torch", "update", ("update",), (arg("weight_decay", "l2"),),
        DECOUPLED.format(wd="weight_decay") + f" — {call.api}(decoupled_weight_decay=True)", "decoupled",
        f"{call.api}(weight_decay=…, decoupled_weight_decay=True): {UPDATE_OF_STEPS}", caveats=(NOT_L2,),
        optimizers=(call,), role="optimizer", call_args="decoupled_weight_decay=True", placement=_TORCH_PLACEMENT)
      for call in (TORCH_NADAM, TORCH_RADAM)),
    Convention(
        "torch.handwritten.update", "torch", "update", ("update",),
        (arg("l1", "l1"), arg("lambd", "l2")),
        "loss += l1·Σ|w| + lambd·Σw²/2, then a torch.optim optimizer without weight_decay: coupled, L1 included",
        "penalty", f"the d2l penalty added to the loss Σ grads⊙w, backward(), a torch.optim step: {UPDATE_OF_STEPS}",
        caveats=("torch's only L1 for optimizers: no torch.optim class takes an L1 decay.",
                 "Same update as weight_decay=lambd in every coupled torch optimizer (the gradient of lambd·Σw²/2 "
                 "is lambd·w)."),
        optimizers=tuple(replace(c, variants=()) for c in (
            TORCH_SGD, TORCH_ADAM, TORCH_ADAGRAD, TORCH_RMSPROP, TORCH_ADADELTA, TORCH_ADAMAX, TORCH_NADAM,
            TORCH_RADAM)),
        role="loss"),
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
                 "weight_decay has no scheduler: lr_scheduler classes change param_group['lr'] only.",
                 *schedule_records.caveats("torch")),
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
        role="optimizer", special=Special("sparse", (TORCH_SGD, TORCH_ADAM, TORCH_ADAGRAD)),
    ),
    Convention(
        "torch.nn.Embedding.sparse.penalty", "torch", "update", ("update",),
        (arg("l1", "l1"), arg("lambd", "l2")),
        "loss += lambd·Σw²/2 + l1·Σ|w| by hand: the penalty's gradient is dense, so the table's gradient is dense "
        "(is_sparse False) and every row decays, coupled, with any optimizer",
        "coupled", "torch.nn.Embedding(sparse=True) per table, loss Σ g⊙E[rows] plus the d2l penalty on every "
        "weight, the case's optimizer without weight_decay: " + UPDATE_OF_STEPS,
        caveats=("The workaround for the refusals of weight_decay with sparse gradients: the sparse gradient is "
                 "gone (autograd adds the dense penalty gradient), and with it SGD's and Adagrad's sparse paths.",),
        role="loss", special=Special("sparse", tuple(replace(c, variants=()) for c in (
            TORCH_SGD, TORCH_ADAM, TORCH_ADAGRAD))),
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
    # --- zoo: asgd, rprop, lbfgs, adafactor, muon ---
    Convention(
        "torch.optim.Rprop", "torch", "update", ("update",), (),
        "no weight decay: torch.optim.Rprop has no weight_decay argument",
        "coupled", f"torch.optim.Rprop(lr, etas, step_sizes): {UPDATE_OF_STEPS}",
        caveats=("No decay at all: an L2 penalty must go into the loss (paddle Rprop: a ParamAttr regularizer).",),
        optimizers=(TORCH_RPROP,), role="optimizer",
    ),
    Convention(
        "torch.optim.ASGD", "torch", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "gradient += weight_decay·w (coupled), and w ← w·(1 − lambd·η_t) − η_t·g: lambd is a decay of its own",
        "coupled", f"torch.optim.ASGD(weight_decay=…, lambd, alpha, t0): {UPDATE_OF_STEPS}",
        caveats=("lambd (default 1e-4) decays the weights even with weight_decay=0: a decoupled-style shrink by "
                 "lambd·η_t with the decaying step size η_t = lr/(1 + lambd·lr·(t−1))^alpha.",
                 "η is kept as a float32 tensor even for float64 parameters (_get_scalar_dtype): in float64 each "
                 "step is off by lr's float32 rounding, ~1e-8 relative.",
                 "t0 only starts the averaged iterate ax (state['ax']), which is never written to the weights."),
        optimizers=(TORCH_ASGD,), role="optimizer",
        placement=_TORCH_PLACEMENT,
    ),
    Convention(
        "torch.optim.LBFGS", "torch", "update", ("update",), (),
        "no weight decay: torch.optim.LBFGS has no weight_decay argument",
        "coupled", f"torch.optim.LBFGS(lr, max_iter, …).step(closure), the closure's loss Σ grads⊙w: {UPDATE_OF_STEPS}",
        caveats=("No decay and one param group only: regularize it by a penalty in the closure's loss "
                 "(torch.optim.LBFGS.penalty).", "Default lr=1; each step() runs up to max_iter inner iterations.",
                 "All parameters are one flat vector: the curvature pairs mix every tensor."),
        optimizers=(TORCH_LBFGS,), role="optimizer",
    ),
    Convention(
        "torch.optim.LBFGS.penalty", "torch", "update", ("update",),
        (arg("l1", "l1"), arg("lambd", "l2")),
        "l1·Σ|w| + lambd·Σw²/2 added to the closure's loss (the d2l idiom): LBFGS sees the penalty's curvature too",
        "penalty", f"torch.optim.LBFGS(…).step(closure), loss Σ grads⊙w + the penalty: {UPDATE_OF_STEPS}",
        caveats=("The only way to regularize torch's LBFGS: the penalty is re-evaluated at every inner iteration.",),
        optimizers=(TORCH_LBFGS,), role="loss",
    ),
    Convention(
        "torch.optim.Adafactor", "torch", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "w ← w·(1 − lr·weight_decay) (decoupled), after the relative step α_t = max(eps2, RMS(w))·ρ_t is taken "
        "from the undecayed w",
        "decoupled", f"torch.optim.Adafactor(weight_decay=…): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Relative step: the update scales with RMS(w) and ρ_t = min(lr, 1/√t), not with lr alone.",
                 "eps=(None, 1e-3) by default: None is the dtype's machine ε (passed explicitly here).",
                 "Default lr=0.01 (Keras Adafactor: 0.001)."),
        optimizers=(TORCH_ADAFACTOR,), role="optimizer",
        placement=_TORCH_PLACEMENT,
    ),
    Convention(
        "torch.optim.Muon", "torch", "update", ("update",),
        (arg("weight_decay", "l2", 1.0, 0.1),),
        "w ← w·(1 − lr·weight_decay) before the step (decoupled, the unadjusted lr)",
        "decoupled", f"torch.optim.Muon(weight_decay=…): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "2-D parameters only (ValueError otherwise). Default weight_decay=0.1 (Keras Muon: 0.004).",
                 "The Newton–Schulz iteration runs in bfloat16 (_zeropower_via_newtonschulz: grad.bfloat16()), "
                 "about 1% off the float64 iteration whatever the parameters' dtype.",
                 "adjust_lr_fn=None ('original') scales lr by √max(1, rows/cols); 'match_rms_adamw' by "
                 "0.2·√max(rows, cols), Keras' only choice."),
        optimizers=(TORCH_MUON,), role="optimizer",
        placement=_TORCH_PLACEMENT,
    ),
)
