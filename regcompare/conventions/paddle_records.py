"""paddle: the regularizer objects, ParamAttr, the optimizers and weight normalization (checked against the pinned
sources: paddle/optimizer/sgd.py, momentum.py, adam.py, adamw.py; optimizer.py _create_regularization_of_grad,
append_regularization_ops, _add_param_group; paddle/nn/utils/weight_norm_hook.py;
paddle/base/layer_helper_base.py _create_weight_normalize)."""

from __future__ import annotations

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
    WN_STATIC_ATTR,
    WN_STATIC_HOW,
)

# multi_precision: a float32 master copy of float16/bfloat16 weights (paddle/optimizer/optimizer.py
# _create_master_weight); the kernels take it on CPU too.
# On CPU paddle 3.3.1 registers low-precision kernels for SGD in bfloat16 only (sgd: no float16; momentum, adam,
# adamw: neither), so the variant runs there; a decay (even weight_decay=0.0) also needs a bfloat16 `add` that
# the CPU lacks, so with any decay it is `unsupported`, as the plain call is.
_MULTI_PRECISION = (Variant("multi_precision", (("multi_precision", True),), dtypes=("bfloat16",),
                            why="float32 master weights for bfloat16 parameters"),)
PADDLE_SGD = OptimizerCall("paddle.optimizer.SGD", "sgd", (hyper("lr", "learning_rate", 1e-3),),
                           fixed=(("momentum", 0.0), ("dampening", 0.0), ("nesterov", False)),
                           variants=_MULTI_PRECISION)
PADDLE_MOMENTUM = OptimizerCall("paddle.optimizer.Momentum", "sgd", (
    hyper("lr", "learning_rate", 1e-3), hyper("momentum", "momentum", 0.9), hyper("nesterov", "use_nesterov", False)),
    fixed=(("dampening", 0.0),))
PADDLE_ADAM = OptimizerCall("paddle.optimizer.Adam", "adam",
                            (*adam_hypers("learning_rate", "beta1", "beta2", "epsilon", 1e-8),
                             hyper("amsgrad", "amsgrad", False)))
PADDLE_ADAMW = OptimizerCall("paddle.optimizer.AdamW", "adam",
                             (*adam_hypers("learning_rate", "beta1", "beta2", "epsilon", 1e-8),
                              hyper("amsgrad", "amsgrad", False)))

# --- zoo: adagrad, rmsprop, adadelta, adamax, nadam, radam (paddle/optimizer/<name>.py __init__ and docstring) ---
PADDLE_ADAGRAD = OptimizerCall("paddle.optimizer.Adagrad", "adagrad", (
    hyper("lr", "learning_rate", 1e-3), hyper("eps", "epsilon", 1e-6),
    hyper("initial_accumulator_value", "initial_accumulator_value", 0.0)), fixed=(("lr_decay", 0.0),))
PADDLE_RMSPROP = OptimizerCall("paddle.optimizer.RMSProp", "rmsprop", (
    hyper("lr", "learning_rate", 1e-3), hyper("alpha", "rho", 0.95), hyper("eps", "epsilon", 1e-6),
    hyper("momentum", "momentum", 0.0), hyper("centered", "centered", False)), options=(("eps_inside_sqrt", True),),
    why="paddle: ε inside the root, w ← w − lr·g/√(v + ε), centered √(v − ḡ² + ε) (paddle/optimizer/rmsprop.py "
        "docstring, the rmsprop kernel); torch: √v + ε. No epsilon value makes the two equal: see translate",
    nearest=(("eps", "square"),))  # √(v + ε²) is the nearest to √v + ε: equal at v = 0 and for v ≫ ε²
PADDLE_ADADELTA = OptimizerCall("paddle.optimizer.Adadelta", "adadelta", (
    hyper("lr", "learning_rate", 1e-3), hyper("rho", "rho", 0.95), hyper("eps", "epsilon", 1e-6)))
PADDLE_ADAMAX = OptimizerCall("paddle.optimizer.Adamax", "adamax",
                              adam_hypers("learning_rate", "beta1", "beta2", "epsilon", 1e-8),
                              options=(("eps_at", "norm"),),
                              why="paddle: u ← max(β₂u + ε, |g|) (paddle/optimizer/adamax.py docstring, the adamax "
                                  "kernel); torch: u ← max(β₂u, |g| + ε)")
PADDLE_NADAM = OptimizerCall("paddle.optimizer.NAdam", "nadam", (
    hyper("lr", "learning_rate", 2e-3), *adam_hypers("learning_rate", "beta1", "beta2", "epsilon", 1e-8)[1:],
    hyper("momentum_decay", "momentum_decay", 4e-3)))
PADDLE_RADAM = OptimizerCall("paddle.optimizer.RAdam", "radam",
                             adam_hypers("learning_rate", "beta1", "beta2", "epsilon", 1e-8))
_ZOO_A_PADDLE = (
    (PADDLE_ADAGRAD, "s += g², w −= lr·g/(√s + ε)",
     ("learning_rate has no default; epsilon=1e-6 (torch: 1e-10); no lr_decay.",)),
    (PADDLE_RMSPROP, "v ← ρv + (1−ρ)g², w −= lr·g/√(v + ε) (ε inside the root)",
     ("learning_rate has no default; rho=0.95, epsilon=1e-6 inside the root (torch: alpha=0.99, eps=1e-8 "
      "outside).",)),
    (PADDLE_ADADELTA, "Adadelta's two running averages", ("Defaults learning_rate=0.001, rho=0.95, epsilon=1e-6.",)),
    (PADDLE_ADAMAX, "u ← max(β₂u + ε, |g|)", ("Default learning_rate=0.001 (torch: 2e-3).",)),
    (PADDLE_NADAM, "NAdam's moments (momentum_decay ψ)", ("Default learning_rate=0.002, momentum_decay=0.004.",)),
    (PADDLE_RADAM, "RAdam's rectified step (from step 6)", ("Default learning_rate=0.001.",)),
)
_PADDLE_OPTIMIZERS = (PADDLE_SGD, PADDLE_MOMENTUM, PADDLE_ADAM, *(call for call, _, _ in _ZOO_A_PADDLE))

# --- zoo: asgd, lamb, rprop, lbfgs (paddle/optimizer/asgd.py, lamb.py, rprop.py, lbfgs.py; optimizer.py) ---
PADDLE_RPROP = OptimizerCall("paddle.optimizer.Rprop", "rprop", (
    hyper("lr", "learning_rate", 1e-3), hyper("etaminus", "etas[0]", 0.5), hyper("etaplus", "etas[1]", 1.2),
    hyper("step_size_min", "learning_rate_range[0]", 1e-5), hyper("step_size_max", "learning_rate_range[1]", 50.0)))
_RPROP_ZERO_DECAY = (
    "paddle Rprop takes no weight_decay but passes weight_decay=0.0 to Optimizer.__init__, which builds "
    "L2Decay(0.0) (optimizer.py: `if isinstance(weight_decay, float): self.regularization = L2Decay(weight_decay)`): "
    "the gradient gets 0·w added, so an infinite weight becomes NaN (torch Rprop leaves it infinite)")
_ADAMW_SPARSE = (
    "paddle AdamW has no SelectedRows path. AdamW._append_optimize_op (python/paddle/optimizer/adamw.py) "
    "hands the sparse gradient of an Embedding(sparse=True) to _C_ops.adamw_, which reads it as a dense tensor: "
    "uninitialized memory. Measured with paddle 3.3.1 on CPU, lazy_mode or not, any weight_decay: mostly "
    "'Invalid dimension to be accessed' with a different garbage dimension each run, at times 'Tensor not "
    "initialized', once another failure in CI. An outcome that changes from run to run is no verdict, so the "
    "call is not made; paddle Adam takes the sparse gradient")
PADDLE_ASGD = OptimizerCall("paddle.optimizer.ASGD", "asgd", (hyper("lr", "learning_rate", 1e-3),),
                            fixed=(("lambd", 0.0),))
PADDLE_ASGD_SAG = OptimizerCall(
    "paddle.optimizer.ASGD", "asgd", (hyper("lr", "learning_rate", 1e-3), hyper("sag batches", "batch_num", 3)),
    fixed=(("lambd", 0.0),), options=(("sag_batches", 3),),
    why="paddle.optimizer.ASGD(batch_num=3) is SAG: each step moves by lr times the average of the last 3 gradients "
        "(the weight decay inside each), not by the current one (paddle/optimizer/asgd.py docstring and "
        "_append_optimize_op: d ← d − y_i + g, x ← x − lr·d/min(m+1, batch_num))")
_ASGD_IS_SAG = (
    "paddle.optimizer.ASGD is SAG (stochastic average gradient, Schmidt et al.), not torch's averaged SGD: "
    "x ← x − lr·(d/min(m+1, batch_num) + λx), d the sum of the last batch_num gradients (asgd.py docstring and "
    "_append_optimize_op); with the default batch_num=1 it is SGD, i.e. torch's ASGD with lambd=0 only")
_LAMB_HYPERS = (hyper("lr", "learning_rate", 1e-3), hyper("beta1", "beta1", 0.9), hyper("beta2", "beta2", 0.999),
                hyper("eps", "epsilon", 1e-6), hyper("always_adapt", "always_adapt", False))
PADDLE_LAMB = OptimizerCall("paddle.optimizer.Lamb", "lamb", _LAMB_HYPERS)
# With a ParamAttr regularizer Lamb's own decay is off: lamb_weight_decay defaults to 0.01, so it is passed as 0.0
# (the key is no case setting: the hyper always passes its default).
PADDLE_LAMB_NO_OWN_DECAY = OptimizerCall("paddle.optimizer.Lamb", "lamb",
                                         (*_LAMB_HYPERS, hyper("no own decay", "lamb_weight_decay", 0.0)))
_PADDLE_F64_BETAS = (
    "paddle's lamb kernel keeps β₁, β₂ as float32 attributes: in float64 the moments use the float32-rounded betas "
    "and the powers βᵗ start at the float64 β and are multiplied by the float32 one each step (this reproduces "
    "paddle to 5e-15); ~1e-6 relative off the float64 reference where λ ≠ 0 (else the ratio cancels it)")
PADDLE_LBFGS = OptimizerCall("paddle.optimizer.LBFGS", "lbfgs", (
    hyper("lr", "learning_rate", 1.0), hyper("max_iter", "max_iter", 20), hyper("max_eval", "max_eval", 25),
    hyper("tolerance_grad", "tolerance_grad", 1e-7), hyper("tolerance_change", "tolerance_change", 1e-9),
    hyper("history_size", "history_size", 100)))
_LBFGS_IGNORES = (
    "paddle LBFGS accepts weight_decay (documented: 'the strategy of regularization') and ignores it: LBFGS.step "
    "reads p.grad as the closure left it (_gather_flat_grad) and never calls the regularization "
    "(Optimizer._create_regularization_of_grad), so the weights are those of no decay at all")
_INT_GROUP = (
    "Optimizer.__init__ turns an int weight_decay into L2Decay(float(…)), but Optimizer._add_param_group turns only "
    "a float into L2Decay and keeps an int as the parameter's regularizer, which step() then calls: "
    "TypeError: 'int' object is not callable (paddle/optimizer/optimizer.py _add_param_group)")
#: Optimizers an optimizer-level regularizer object (weight_decay=L2Decay(…)) runs with.
_PADDLE_REG_OPTIMIZERS = (*_PADDLE_OPTIMIZERS, PADDLE_ASGD)
#: Optimizers a ParamAttr regularizer runs with: those taking an optimizer-level regularizer too, and those that
#: take none of their own (Rprop), where a ParamAttr is the only way to regularize.
_PADDLE_PARAM_OPTIMIZERS = (*_PADDLE_REG_OPTIMIZERS, PADDLE_RPROP, PADDLE_LAMB_NO_OWN_DECAY)

_PADDLE_PARAM_PLACEMENT = Placement("ParamAttr(regularizer=…) on the scoped parameters only")
_PADDLE_REGULARIZER_PLACEMENT = Placement(GROUPS)
_PADDLE_OVERRIDE = (
    "paddle: a ParamAttr regularizer replaces the optimizer's weight_decay on that parameter, they do not add up "
    "(Optimizer._create_regularization_of_grad: `if param.regularizer is not None … elif regularization …`; "
    "Momentum's fused kernel takes the ParamAttr L2Decay's coeff); paddle says so only in a logging.info "
    "message of the static graph, and in dygraph not at all")
_PADDLE_ERASE = (
    "paddle: param groups erase a ParamAttr regularizer: Optimizer._add_param_group sets every grouped "
    "parameter's param.regularizer to its group's weight_decay (Momentum: None, the group's coeff fused), so "
    "only the group's decay applies")
_PADDLE_PLACEMENT = Placement(
    GROUPS, param_apis=("paddle.ParamAttr.L2Decay", "paddle.ParamAttr.L1Decay"),
    over_list="param", over_groups="optimizer", why=_PADDLE_OVERRIDE, why_groups=_PADDLE_ERASE)
_PADDLE_ADAMW_PLACEMENT = Placement(
    GROUPS, param_apis=("paddle.ParamAttr.L2Decay", "paddle.ParamAttr.L1Decay"),
    why="paddle AdamW: its own regularization is None, so a ParamAttr regularizer is added to the gradient "
        "(coupled) on top of the decoupled weight_decay (adamw.py)",
    why_groups="paddle AdamW: AdamW._add_param_group keeps param.regularizer, so a ParamAttr regularizer "
               "(coupled) and the group's decoupled weight_decay both apply",
    variants=(Variant("apply_decay_param_fun", (("scope_by", "apply_decay_param_fun"),),
                      why="AdamW(apply_decay_param_fun=lambda name: name in <the scoped parameters' names>) on one "
                          "parameter list (adamw.py: decay skipped where the function returns False)"),))

_WN_STATIC = WeightNorm("<name>_g", "<name>_v", (PADDLE_SGD, PADDLE_MOMENTUM))
_WEIGHT_NORM_APIS: tuple[Convention, ...] = (
    Convention(
        "paddle.nn.utils.weight_norm", "paddle", "update", ("update",),
        (arg("coeff", "l2"),),
        WN_FORMULA.format(c="coeff"), "coupled",
        "paddle.nn.utils.weight_norm(layer, 'weight', dim) on a Layer holding the weight, paddle.optimizer.SGD/"
        "Momentum(parameters=layer.parameters(), weight_decay=paddle.regularizer.L2Decay(coeff)): " + WN_HOW,
        caveats=("g and v are layer.weight_g and layer.weight_v; the optimizer's L2Decay decays both, never w.",
                 "weight_g is squeezed: shape [size of dim], 0-d for dim=None. " + WN_KEEPDIMS,
                 "layer.weight is recomputed by a forward pre-hook only: after a step it is stale until the layer "
                 "is called.",
                 "The whole-tensor norm is √(Σv²)+1e-12 in w (√(Σv²+1e-12) in g's initial value); per-slice norms "
                 "are clamped at 1e-12 (F.normalize).",
                 WN_MINUS_ONE, WN_NOT_W),
        role="optimizer regularizer",
        weight_norm=WeightNorm("weight_g", "weight_v", (PADDLE_SGD, PADDLE_MOMENTUM)),
    ),
    Convention(
        "paddle.static.WeightNormParamAttr", "paddle", "update", ("update",),
        (arg("coeff", "l2"),),
        WN_FORMULA.format(c="coeff"), "coupled",
        WN_STATIC_HOW.format(ir="under paddle 3's default static IR (PIR)"),
        caveats=(WN_STATIC_ATTR,
                 "Fails under PIR, paddle 3's default static IR: LayerHelper builds old-IR Parameters that PIR ops "
                 "reject (`divide(): argument (position 1) must be Value, but got Parameter` with an Assign "
                 "initializer; the documented example's Constant(1.0) fails earlier, in `full`). See "
                 "paddle.static.WeightNormParamAttr.old_ir.",
                 "Default dim=None (torch and paddle.nn.utils.weight_norm: 0).", WN_NOT_W),
        role="param", weight_norm=_WN_STATIC,
    ),
    Convention(
        "paddle.static.WeightNormParamAttr.old_ir", "paddle", "update", ("update",),
        (arg("coeff", "l2"),),
        WN_FORMULA.format(c="coeff"), "coupled",
        WN_STATIC_HOW.format(ir="under paddle.pir_utils.OldIrGuard() (the loss an old-IR reduce_sum op: "
                                 "paddle.sum rejects old-IR Variables)"),
        caveats=(WN_STATIC_ATTR,
                 "With dim=0 or 1 the program's backward fails at run time, with or without a regularizer: a sum op "
                 "(AddNOp) gets a [rows, cols] and a [size of dim] input (`The input tensor X of AddNOp must have "
                 "same shape`). dim=None works.",
                 "Default dim=None (torch and paddle.nn.utils.weight_norm: 0).", WN_NOT_W),
        role="param", weight_norm=_WN_STATIC,
    ),
)

RECORDS: tuple[Convention, ...] = (
    Convention(
        "paddle.handwritten", "paddle", "penalty", PENALTY_GRAD_TRAJECTORY,
        (arg("l1", "l1"), arg("l2", "l2")),
        "l1·Σ|w| + l2/2·Σw² (paddle has no penalty function)",
        "penalty", "l1 * paddle.sum(paddle.abs(w)) + l2 / 2 * paddle.sum(paddle.square(w)); gradient by backward()",
    ),
    Convention(
        "paddle.regularizer.L2Decay", "paddle", "gradient", ("gradient", "update", "trajectory"),
        (arg("coeff", "l2"),),
        "gradient += coeff·w",
        "coupled", f"paddle.optimizer.SGD(weight_decay=paddle.regularizer.L2Decay(coeff)): {STEP}",
        optimizers=_PADDLE_REG_OPTIMIZERS, role="optimizer regularizer",
        placement=_PADDLE_REGULARIZER_PLACEMENT,
    ),
    Convention(
        "paddle.regularizer.L1Decay", "paddle", "gradient", ("gradient", "update"),
        (arg("coeff", "l1"),),
        "gradient += coeff·sign(w)",
        "coupled", f"paddle.optimizer.SGD(weight_decay=paddle.regularizer.L1Decay(coeff)): {STEP}",
        optimizers=_PADDLE_REG_OPTIMIZERS, role="optimizer regularizer",
        placement=_PADDLE_REGULARIZER_PLACEMENT,
    ),
    Convention(
        "paddle.ParamAttr.L2Decay", "paddle", "gradient", ("gradient", "update", "trajectory"),
        (arg("coeff", "l2"),),
        "gradient += coeff·w, on this parameter only",
        "coupled", f"paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(coeff)) on the parameter: {STEP}",
        caveats=("A ParamAttr regularizer overrides the optimizer's weight_decay for that parameter.",),
        optimizers=_PADDLE_PARAM_OPTIMIZERS, role="param",
        placement=_PADDLE_PARAM_PLACEMENT,
    ),
    Convention(
        "paddle.ParamAttr.L1Decay", "paddle", "gradient", ("gradient", "update"),
        (arg("coeff", "l1"),),
        "gradient += coeff·sign(w), on this parameter only",
        "coupled", f"paddle.ParamAttr(regularizer=paddle.regularizer.L1Decay(coeff)) on the parameter: {STEP}",
        caveats=("A ParamAttr regularizer overrides the optimizer's weight_decay for that parameter.",),
        optimizers=_PADDLE_PARAM_OPTIMIZERS, role="param",
        placement=_PADDLE_PARAM_PLACEMENT,
    ),
    Convention(
        "paddle.optimizer.SGD", "paddle", "gradient", ("gradient", "update"),
        (arg("weight_decay", "l2", 1.0, None),),
        "gradient += weight_decay·w (a float weight_decay becomes L2Decay)",
        "coupled", f"paddle.optimizer.SGD(weight_decay=<float>): {STEP}",
        optimizers=(PADDLE_SGD,), role="optimizer",
        placement=_PADDLE_PLACEMENT,
    ),
    Convention(
        "paddle.optimizer.Momentum", "paddle", "update", ("update",),
        (arg("weight_decay", "l2", 1.0, None),),
        "fused: the momentum kernel adds weight_decay·w to the gradient (regularization_method='l2_decay')",
        "coupled", f"paddle.optimizer.Momentum(weight_decay=<float>): {UPDATE_OF_STEPS}",
        caveats=("A float or L2Decay weight_decay is fused into the momentum kernel; L1Decay (and a ParamAttr "
                 "L1Decay) goes through the generic gradient path instead.", "Default momentum=0.9."),
        optimizers=(PADDLE_MOMENTUM,), role="optimizer",
        placement=_PADDLE_PLACEMENT,
    ),
    Convention(
        "paddle.optimizer.Adam", "paddle", "update", ("update",),
        (arg("weight_decay", "l2", 1.0, None),),
        "gradient += weight_decay·w (a float becomes L2Decay), then Adam's moments",
        "coupled", f"paddle.optimizer.Adam(weight_decay=<float>): {UPDATE_OF_STEPS}",
        caveats=("Coupled, unlike paddle.optimizer.AdamW: the same float means a different thing in the two.",),
        optimizers=(PADDLE_ADAM,), role="optimizer",
        placement=_PADDLE_PLACEMENT,
    ),
    Convention(
        "paddle.optimizer.AdamW", "paddle", "update", ("update",),
        (arg("weight_decay", "l2", 1.0, 0.01),),
        DECOUPLED.format(wd="weight_decay") + " (adamw kernel: p − lr·lr_ratio·coeff·p, lr not bias-corrected)",
        "decoupled", f"paddle.optimizer.AdamW(weight_decay=<float>): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "lr_ratio (default None = 1) scales the decay per parameter; apply_decay_param_fun can "
                 "exempt parameters. Default weight_decay=0.01.",
                 "A ParamAttr regularizer is applied to the gradient on top of the decoupled decay."),
        optimizers=(PADDLE_ADAMW,), role="optimizer",
        placement=_PADDLE_ADAMW_PLACEMENT,
    ),
    *_WEIGHT_NORM_APIS,  # g and v regularized, not w: cases with `weight_norm` only
    Convention(
        "paddle.fluid.regularizer.L2Decay", "paddle", "gradient", ("gradient",),
        (arg("regularization_coeff", "l2"),),
        "gradient += regularization_coeff·w",
        "coupled", "Paddle 1.x only; not installable with Python 3.11", executed=False,
        caveats=("Documented convention only: paddle.fluid was removed in Paddle 2.5.",),
    ),
    Convention(
        "paddle.fluid.regularizer.L1Decay", "paddle", "gradient", ("gradient",),
        (arg("regularization_coeff", "l1"),),
        "gradient += regularization_coeff·sign(w)",
        "coupled", "Paddle 1.x only; not installable with Python 3.11", executed=False,
        caveats=("Documented convention only: paddle.fluid was removed in Paddle 2.5.",),
    ),
    # --- zoo: adagrad, rmsprop, adadelta, adamax, nadam, radam ---
    *(Convention(
        call.api, "paddle", "update", ("update",), (arg("weight_decay", "l2", 1.0, None),),
        f"gradient += weight_decay·w (a float becomes L2Decay), then {formula}", "coupled",
        f"{call.api}(weight_decay=<float>): {UPDATE_OF_STEPS}", caveats=caveats, optimizers=(call,),
        role="optimizer", placement=_PADDLE_PLACEMENT)
      for call, formula, caveats in _ZOO_A_PADDLE),
    # --- schedules/mixed precision/sparse ---
    Convention(
        "paddle.optimizer.lr", "paddle", "update", (), (),
        "step k runs at lr(k): the LRScheduler is the optimizer's learning_rate, scheduler.step() after "
        "optimizer.step(); AdamW's decoupled decay uses it, w ← w − lr(k)·coeff·w (measured: 0.855 as torch)",
        "decoupled", "the case's optimizer.schedule as " + schedule_classes("paddle") + " passed as learning_rate",
        caveats=("PiecewiseDecay switches at step >= boundary (as the canonical schedule); Keras one step later.",
                 "CosineAnnealingDecay is recursive like torch's and rises again past T_max.",
                 "weight_decay is a float, a Tensor or a regularizer: no scheduler steps it.",
                 *schedule_records.caveats("paddle")),
    ),
    Convention(
        "paddle.amp.GradScaler", "paddle", "update", ("update",),
        (arg("l1", "l1"), arg("l2", "l2")),
        "scaler.scale(loss + l1·Σ|w| + l2/2·Σw²).backward(); scaler.step(opt): the penalty scaled and unscaled with "
        "the loss (variant penalty_outside: scaler.scale(loss) + penalty, the decay divided by S)",
        "coupled", "paddle.amp.decorate(models, optimizers, level='O2', dtype=<dtype>, master_weight=True), "
        "paddle.amp.GradScaler(init_loss_scaling=S), the case's optimizer: " + UPDATE_OF_STEPS,
        caveats=("On CPU paddle.amp does nothing: GradScaler and auto_cast warn that they are enabled on CUDA, XPU "
                 "and custom places only, and decorate keeps float32 parameters (checked with paddle 3.3.1): "
                 "an unsupported row with paddle's message.",),
        role="layer", special=Special("mixed_precision", amp_calls(PADDLE_SGD, PADDLE_MOMENTUM, PADDLE_ADAM)),
    ),
    Convention(
        "paddle.nn.Embedding.sparse", "paddle", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "gradient += weight_decay·w on every row, also those absent from the SelectedRows gradient (SGD, "
        "Momentum, Adagrad); Adam refuses weight_decay with sparse parameters, lazy_mode or not",
        "coupled", "paddle.nn.Embedding(sparse=True) per table, looked up at the rows its grads touch; the case's "
        "optimizer with weight_decay=<float> (variant lazy_mode for Adam): " + UPDATE_OF_STEPS,
        caveats=("Adam(lazy_mode=True) updates only the rows in the gradient, moments included; with weight_decay it "
                 "raises 'Adam don't support weight_decay with sparse parameters'.",),
        role="optimizer", special=Special("sparse", (PADDLE_SGD, PADDLE_MOMENTUM, PADDLE_ADAGRAD, OptimizerCall(
            PADDLE_ADAM.api, "adam", PADDLE_ADAM.hypers,
            variants=(Variant("lazy_mode", native=(("lazy_mode", True),)),)))),
    ),
    Convention(
        "paddle.optimizer.AdamW.sparse", "paddle", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "w ← w − lr·coeff·w (decoupled) with a SelectedRows gradient: in fact no defined step, the adamw_ kernel "
        "reads the sparse gradient as a dense one",
        "decoupled", "paddle.nn.Embedding(sparse=True) per table, looked up at the rows its grads touch; "
        "paddle.optimizer.AdamW(weight_decay=<float>) (variant lazy_mode): " + UPDATE_OF_STEPS,
        caveats=(_ADAMW_SPARSE, "Adam takes the sparse gradient."),
        role="optimizer", special=Special("sparse", (OptimizerCall(
            PADDLE_ADAMW.api, "adam", PADDLE_ADAMW.hypers,
            variants=(Variant("lazy_mode", native=(("lazy_mode", True),)),), not_run=_ADAMW_SPARSE),)),
    ),
    # --- zoo: asgd, lamb, rprop, lbfgs ---
    Convention(
        "paddle.optimizer.Rprop", "paddle", "update", ("update",), (),
        "no weight decay argument, yet gradient += 0.0·w (an L2Decay(0.0) built by Optimizer.__init__)",
        "coupled", f"paddle.optimizer.Rprop(learning_rate, learning_rate_range, etas): {UPDATE_OF_STEPS}",
        caveats=(_RPROP_ZERO_DECAY, "A ParamAttr regularizer on the parameter is applied (coupled).",
                 "learning_rate must lie inside learning_rate_range (default (1e-5, 50); torch step_sizes: "
                 "(1e-6, 50))."),
        optimizers=(PADDLE_RPROP,), role="optimizer",
    ),
    Convention(
        "paddle.optimizer.ASGD", "paddle", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "gradient += weight_decay·w (a float becomes L2Decay); SAG over batch_num gradients, no lambd",
        "coupled", f"paddle.optimizer.ASGD(weight_decay=<float>, batch_num=1): {UPDATE_OF_STEPS}",
        caveats=(_ASGD_IS_SAG, "No lambd: torch's ASGD(lambd=…) has no paddle equivalent (the converter drops it)."),
        optimizers=(PADDLE_ASGD,), role="optimizer",
        placement=_PADDLE_PLACEMENT,
    ),
    Convention(
        "paddle.optimizer.Lamb", "paddle", "update", ("update",),
        (arg("lamb_weight_decay", "l2", 1.0, 0.01),),
        "r = m̂/(√v̂+ε) + lamb_weight_decay·w; w ← w − lr·(‖w‖/‖r‖)·r: decoupled, inside the trust ratio",
        "decoupled", f"paddle.optimizer.Lamb(lamb_weight_decay=…): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Default lamb_weight_decay=0.01; it takes no weight_decay (a ParamAttr regularizer is "
                 "applied, coupled).",
                 "With lamb_weight_decay=0 (or exclude_from_weight_decay_fn) the trust ratio is skipped: Adam without "
                 "layer-wise adaptation, unless always_adapt=True.", _PADDLE_F64_BETAS),
        optimizers=(PADDLE_LAMB,), role="optimizer",
    ),
    Convention(
        "paddle.optimizer.LBFGS", "paddle", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "documented gradient += weight_decay·w; in fact no decay at all (LBFGS.step never applies it)",
        "coupled", f"paddle.optimizer.LBFGS(weight_decay=<float>, …).step(closure): {UPDATE_OF_STEPS}",
        caveats=(_LBFGS_IGNORES, "Default learning_rate=1; the same algorithm as torch's LBFGS."),
        optimizers=(PADDLE_LBFGS,), role="optimizer",
    ),
    Convention(
        "paddle.param_group.int_weight_decay", "paddle", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "a param group {'params': …, 'weight_decay': <int>}: documented as L2Decay(coeff), in fact a crash at step()",
        "coupled", f"paddle.optimizer.X(parameters=[{{'params': all, 'weight_decay': int(coeff)}}]): {UPDATE_OF_STEPS}",
        caveats=(_INT_GROUP, "Run with paddle ASGD (SGD for batch_num=1) only: the crash is in the Optimizer base "
                 "class."),
        optimizers=(PADDLE_ASGD,), role="optimizer",
    ),
    Convention(
        "paddle.optimizer.ASGD.batch_num", "paddle", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "gradient += weight_decay·w, then SAG: the step is lr times the average of the last batch_num = 3 gradients",
        "coupled", f"paddle.optimizer.ASGD(weight_decay=<float>, batch_num=3): {UPDATE_OF_STEPS}",
        caveats=(_ASGD_IS_SAG, "Not torch's ASGD for any lambd once batch_num > 1."),
        optimizers=(PADDLE_ASGD_SAG,), role="optimizer",
    ),
)
