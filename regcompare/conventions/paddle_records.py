"""paddle: the regularizer objects, ParamAttr, the optimizers and weight normalization (checked against the pinned
sources: paddle/optimizer/sgd.py, momentum.py, adam.py, adamw.py; optimizer.py _create_regularization_of_grad,
append_regularization_ops, _add_param_group; paddle/nn/utils/weight_norm_hook.py;
paddle/base/layer_helper_base.py _create_weight_normalize)."""

from __future__ import annotations

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
from regcompare.schedules import schedule_classes

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
        optimizers=_PADDLE_OPTIMIZERS, role="optimizer regularizer",
        placement=_PADDLE_REGULARIZER_PLACEMENT,
    ),
    Convention(
        "paddle.regularizer.L1Decay", "paddle", "gradient", ("gradient", "update"),
        (arg("coeff", "l1"),),
        "gradient += coeff·sign(w)",
        "coupled", f"paddle.optimizer.SGD(weight_decay=paddle.regularizer.L1Decay(coeff)): {STEP}",
        optimizers=_PADDLE_OPTIMIZERS, role="optimizer regularizer",
        placement=_PADDLE_REGULARIZER_PLACEMENT,
    ),
    Convention(
        "paddle.ParamAttr.L2Decay", "paddle", "gradient", ("gradient", "update", "trajectory"),
        (arg("coeff", "l2"),),
        "gradient += coeff·w, on this parameter only",
        "coupled", f"paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(coeff)) on the parameter: {STEP}",
        caveats=("A ParamAttr regularizer overrides the optimizer's weight_decay for that parameter.",),
        optimizers=_PADDLE_OPTIMIZERS, role="param",
        placement=_PADDLE_PARAM_PLACEMENT,
    ),
    Convention(
        "paddle.ParamAttr.L1Decay", "paddle", "gradient", ("gradient", "update"),
        (arg("coeff", "l1"),),
        "gradient += coeff·sign(w), on this parameter only",
        "coupled", f"paddle.ParamAttr(regularizer=paddle.regularizer.L1Decay(coeff)) on the parameter: {STEP}",
        caveats=("A ParamAttr regularizer overrides the optimizer's weight_decay for that parameter.",),
        optimizers=_PADDLE_OPTIMIZERS, role="param",
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
                 "weight_decay is a float, a Tensor or a regularizer: no scheduler steps it."),
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
        "Momentum); Adam refuses weight_decay with sparse parameters, lazy_mode or not",
        "coupled", "paddle.nn.Embedding(sparse=True) per table, looked up at the rows its grads touch; the case's "
        "optimizer with weight_decay=<float> (variant lazy_mode for Adam): " + UPDATE_OF_STEPS,
        caveats=("Adam(lazy_mode=True) updates only the rows in the gradient, moments included; with weight_decay it "
                 "raises 'Adam don't support weight_decay with sparse parameters'.",),
        role="optimizer", special=Special("sparse", (PADDLE_SGD, PADDLE_MOMENTUM, OptimizerCall(
            PADDLE_ADAM.api, "adam", PADDLE_ADAM.hypers,
            variants=(Variant("lazy_mode", native=(("lazy_mode", True),)),)))),
    ),
)
