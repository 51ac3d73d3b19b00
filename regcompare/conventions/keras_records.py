"""tensorflow / Keras: tf.nn.l2_loss, tf.contrib.layers' regularizers (through tf-slim), the Keras regularizers and
optimizers (checked against the pinned sources:
keras/src/regularizers/regularizers.py; keras/src/optimizers/sgd.py, adam.py, adamw.py; base_optimizer.py
exclude_from_weight_decay, _apply_weight_decay)."""

from __future__ import annotations

from regcompare.conventions import schedule_records
from regcompare.conventions.model import (
    Convention,
    OptimizerCall,
    Placement,
    Special,
    Variant,
    adam_hypers,
    amp_calls,
    arg,
    hyper,
)
from regcompare.conventions.schedule_records import schedule_classes
from regcompare.conventions.texts import (
    DECOUPLED,
    NOT_L2,
    PENALTY_GRAD,
    PENALTY_GRAD_TRAJECTORY,
    PENALTY_UPDATE,
    UPDATE_OF_STEPS,
)

# Keras SGD keeps m ← μm − lr·g, w ← w + m (nesterov: w ← w + μm − lr·g): torch's rule for a constant lr, no dampening.
KERAS_SGD = OptimizerCall("keras.optimizers.SGD", "sgd", (
    hyper("lr", "learning_rate", 0.01), hyper("momentum", "momentum", 0.0), hyper("nesterov", "nesterov", False)),
    fixed=(("dampening", 0.0),))
KERAS_ADAM = OptimizerCall("keras.optimizers.Adam", "adam",
                           (*adam_hypers("learning_rate", "beta_1", "beta_2", "epsilon", 1e-7),
                            hyper("amsgrad", "amsgrad", False)), eps_on="v")
KERAS_ADAMW = OptimizerCall("keras.optimizers.AdamW", "adam",
                            (*adam_hypers("learning_rate", "beta_1", "beta_2", "epsilon", 1e-7),
                            hyper("amsgrad", "amsgrad", False)), eps_on="v")
# --- zoo: lion, lamb, adafactor, ftrl, muon (keras/src/optimizers/lion.py, lamb.py, adafactor.py, ftrl.py, muon.py) ---
KERAS_LION = OptimizerCall("keras.optimizers.Lion", "lion", (
    hyper("lr", "learning_rate", 1e-3), hyper("beta1", "beta_1", 0.9), hyper("beta2", "beta_2", 0.99)))
KERAS_LAMB = OptimizerCall("keras.optimizers.Lamb", "lamb", (
    hyper("lr", "learning_rate", 1e-3), hyper("beta1", "beta_1", 0.9), hyper("beta2", "beta_2", 0.999),
    hyper("eps", "epsilon", 1e-7)), fixed=(("always_adapt", True),),
    options=(("decay_in_ratio", False),),
    why="Keras Lamb: weight_decay is the generic decoupled shrink w ← w − lr·λ·w before update_step "
        "(BaseOptimizer._apply_weight_decay), so λw is not inside the trust ratio as in the paper and paddle; "
        "‖w‖ is taken after the shrink (keras/src/optimizers/lamb.py Lamb.update_step)")
KERAS_ADAFACTOR = OptimizerCall("keras.optimizers.Adafactor", "adafactor", (
    hyper("lr", "learning_rate", 1e-3), hyper("beta2_decay", "beta_2_decay", -0.8), hyper("eps1", "epsilon_1", 1e-30),
    hyper("eps2", "epsilon_2", 1e-3), hyper("d", "clip_threshold", 1.0)),
    options=(("rms_before_decay", False),),
    why="Keras Adafactor: weight_decay shrinks w before update_step (BaseOptimizer._apply_weight_decay), so the "
        "relative step max(epsilon_2, RMS(w))·ρ_t is taken from the decayed weights; torch takes it before its "
        "decay (torch/optim/_adafactor.py)")
KERAS_MUON = OptimizerCall("keras.optimizers.Muon", "muon", (
    hyper("lr", "learning_rate", 1e-3), hyper("momentum", "momentum", 0.95), hyper("nesterov", "nesterov", True),
    hyper("ns_a", "muon_a", 3.4445), hyper("ns_b", "muon_b", -4.775), hyper("ns_c", "muon_c", 2.0315),
    hyper("ns_steps", "ns_steps", 5)),
    fixed=(("adjust_lr_fn", "match_rms_adamw"), ("eps", 1e-7)),
    options=(("momentum_form", "sum"), ("norm_eps", "add")),
    why="Keras Muon keeps m ← μm + g (torch: the lerp μ·buf + (1−μ)·g, the same direction ×1/(1−μ)) and divides by "
        "‖x‖ + 1e-7 (torch: max(‖x‖, eps)) (keras/src/optimizers/muon.py _muon_update_step, "
        "zeropower_via_newtonschulz5): they differ only through that 1e-7")
_FTRL_HYPERS = (hyper("lr", "learning_rate", 1e-3), hyper("lr_power", "learning_rate_power", -0.5),
                hyper("initial_accumulator_value", "initial_accumulator_value", 0.1), hyper("beta", "beta", 0.0))
KERAS_FTRL = OptimizerCall("keras.optimizers.Ftrl", "ftrl", _FTRL_HYPERS)
KERAS_FTRL_PROXIMAL = OptimizerCall(
    "keras.optimizers.Ftrl", "ftrl", _FTRL_HYPERS, options=(("reg_form", "proximal"),),
    why="Keras Ftrl's l1/l2_regularization_strength are proximal: w = (clip(z, ±λ₁) − z)/(√n/lr + β/lr + 2λ₂), the "
        "penalty λ₁|w| + λ₂w² solved in closed form on the whole accumulated objective, never added to the gradient "
        "(keras/src/optimizers/ftrl.py Ftrl.update_step); λ₁ = 0 can give exact zeros")
KERAS_FTRL_SHRINKAGE = OptimizerCall(
    "keras.optimizers.Ftrl", "ftrl", _FTRL_HYPERS, options=(("reg_form", "shrinkage"),),
    why="Keras Ftrl's l2_shrinkage_regularization_strength adds 2λs·w to the gradient that enters z but not to the "
        "accumulator n (which sums the loss gradient's squares only) (keras/src/optimizers/ftrl.py "
        "Ftrl.update_step: grad_to_use vs new_accum)")
_KERAS_ZOO_B = (KERAS_LION, KERAS_LAMB, KERAS_ADAFACTOR, KERAS_MUON, KERAS_FTRL)
KERAS_F64 = ("In float64, Adam's bias corrections use float32-rounded betas (ops.cast of a Python float): "
             "about 7e-6 relative per step.")
#: TF 1.x's tf.contrib.layers regularizers, as tf-slim 1.1.0 ships them (tf_slim/layers/regularizers.py, the contrib
#: code moved as it was): name, arguments, formula, the call, caveats.
_CONTRIB = (
    ("l1_regularizer", (arg("scale", "l1", 1.0, 1.0),), "scale·Σ|w|", "scale", ()),
    ("l2_regularizer", (arg("scale", "l2", 1.0, 1.0),), "scale·½Σw² (scale · tf.nn.l2_loss)", "scale",
     ("Half the sum of squares, like tf.nn.l2_loss: canonical l2 = scale.",)),
    ("l1_l2_regularizer", (arg("scale_l1", "l1", 1.0, 1.0), arg("scale_l2", "l2", 1.0, 1.0)),
     "scale_l1·Σ|w| + scale_l2·½Σw²", "scale_l1, scale_l2",
     ("Defaults scale_l1=1.0, scale_l2=1.0; a scale of 0 returns the other regularizer alone.",)),
)
CONTRIB_HOME = ("tf.contrib was removed in TF 2; tf.contrib.layers.{name} lives on as tf_slim.layers.{name} "
                "(pip tf-slim 1.1.0, the same code), which runs on TF 2 eager tensors: executed through it.")
CONTRIB_RULES = ("Contrib's argument rules: l1_regularizer and l2_regularizer have no default scale; an integer "
                 "scale raises ValueError; a scale of 0.0 returns no regularizer (lambda _: None; "
                 "'Scale of 0 disables regularizer'): such rows are unsupported, saying so.")

# --- zoo: adagrad, rmsprop, adadelta, adamax, nadam (keras/src/optimizers/<name>.py __init__ and update_step) ---
_EPS_SQUARED = (("eps", "square"),)  # √(v + ε²) is the nearest to √v + ε: equal at v = 0 and for v ≫ ε²
_EPS_IN_ROOT = "Keras: ε inside the root, {d} (keras/src/optimizers/{f}.py update_step); torch: {t}"
KERAS_ADAGRAD = OptimizerCall("keras.optimizers.Adagrad", "adagrad", (
    hyper("lr", "learning_rate", 1e-3), hyper("initial_accumulator_value", "initial_accumulator_value", 0.1),
    hyper("eps", "epsilon", 1e-7)), fixed=(("lr_decay", 0.0),), options=(("eps_inside_sqrt", True),),
    why=_EPS_IN_ROOT.format(d="w ← w − lr·g/√(s + ε)", f="adagrad", t="√s + ε"), nearest=_EPS_SQUARED)
KERAS_RMSPROP = OptimizerCall("keras.optimizers.RMSprop", "rmsprop", (
    hyper("lr", "learning_rate", 1e-3), hyper("alpha", "rho", 0.9), hyper("eps", "epsilon", 1e-7),
    hyper("momentum", "momentum", 0.0), hyper("centered", "centered", False)), options=(("eps_inside_sqrt", True),),
    why=_EPS_IN_ROOT.format(d="√(v + ε), centered √(v − ḡ² + ε)", f="rmsprop", t="√v + ε"), nearest=_EPS_SQUARED)
KERAS_ADADELTA = OptimizerCall("keras.optimizers.Adadelta", "adadelta", (
    hyper("lr", "learning_rate", 1e-3), hyper("rho", "rho", 0.95), hyper("eps", "epsilon", 1e-7)))
KERAS_ADAMAX = OptimizerCall("keras.optimizers.Adamax", "adamax",
                             adam_hypers("learning_rate", "beta_1", "beta_2", "epsilon", 1e-7),
                             options=(("eps_at", "after"),),
                             why="Keras: u ← max(β₂u, |g|), w ← w − lr/(1−β₁ᵗ)·m/(u + ε) (keras/src/optimizers/"
                                 "adamax.py update_step); torch: u ← max(β₂u, |g| + ε), divided by u")
KERAS_NADAM = OptimizerCall("keras.optimizers.Nadam", "nadam",
                            adam_hypers("learning_rate", "beta_1", "beta_2", "epsilon", 1e-7),
                            fixed=(("momentum_decay", 1.0),))
_ZOO_A_KERAS = (
    ("keras.optimizers.Adagrad", KERAS_ADAGRAD, "; ε inside the root: g/√(s + ε)",
     ("Default initial_accumulator_value=0.1 (torch, paddle: 0) and epsilon=1e-7 inside the root.",
      "No lr_decay argument.")),
    ("keras.optimizers.RMSprop", KERAS_RMSPROP, "; ε inside the root: g/√(v + ε)",
     ("The decay is spelled rho (torch: alpha); defaults rho=0.9, epsilon=1e-7 (torch: 0.99, 1e-8).",)),
    ("keras.optimizers.Adadelta", KERAS_ADADELTA, "",
     ("Defaults learning_rate=0.001, rho=0.95, epsilon=1e-7 (torch: 1.0, 0.9, 1e-6).",)),
    ("keras.optimizers.Adamax", KERAS_ADAMAX, "; ε added after the max: m/(u + ε)",
     ("Default epsilon=1e-7 (torch, paddle: 1e-8).",)),
    ("keras.optimizers.Nadam", KERAS_NADAM, "; momentum schedule β₁(1 − ½·0.96^t)",
     ("No momentum_decay argument: the schedule is 0.96^t, torch's momentum_decay=1 — not torch's default 0.004. "
      "A case with another momentum_decay does not run it.", KERAS_F64)),
)
_KERAS_OPTIMIZERS = (KERAS_SGD, KERAS_ADAM, *_KERAS_ZOO_B, *(call for _, call, _, _ in _ZOO_A_KERAS))
_KERAS_LAYER_PLACEMENT = Placement("the regularizer on the scoped weights only (each layer's kernel_regularizer)")
_KERAS_PLACEMENT = Placement(
    "optimizer.exclude_from_weight_decay(var_list=<others>)",
    param_apis=("keras.regularizers.L1", "keras.regularizers.L2", "keras.regularizers.L1L2"),
    why="Keras: a kernel_regularizer adds its penalty to the loss and the optimizer's weight_decay decays the "
        "weights on top of it (BaseOptimizer._apply_weight_decay): both apply",
    why_groups="Keras: a kernel_regularizer and the optimizer's weight_decay both apply",
    variants=(Variant("var_names", (("scope_by", "var_names"),),
                      why="exclude_from_weight_decay(var_names=<the other tensors' names>): regular expressions "
                          "searched in each variable's name (BaseOptimizer._use_weight_decay: re.search)"),))

RECORDS: tuple[Convention, ...] = (
    Convention(
        "tf.nn.l2_loss", "tensorflow", "penalty", PENALTY_GRAD_TRAJECTORY,
        (arg("scale", "l2", 1.0, 1.0),),
        "scale·½Σw² (the ½ is inside l2_loss)",
        "penalty", "scale * tf.nn.l2_loss(w), summed over tensors; gradient through tf.GradientTape",
        caveats=("Half the sum of squares: keras.regularizers.L2(c) equals tf.nn.l2_loss scaled by 2c.",),
    ),
    Convention(
        "keras.regularizers.L1", "tensorflow", "penalty", PENALTY_UPDATE,
        (arg("l1", "l1", 1.0, 0.01),),
        "l1·Σ|w|",
        "penalty", "keras.regularizers.L1(l1)(w); gradient through tf.GradientTape",
        caveats=("Default l1=0.01.",),
        optimizers=_KERAS_OPTIMIZERS, role="layer",
        placement=_KERAS_LAYER_PLACEMENT,
    ),
    Convention(
        "keras.regularizers.L2", "tensorflow", "penalty", (*PENALTY_UPDATE, "trajectory"),
        (arg("l2", "l2", 0.5, 0.01),),
        "l2·Σw² (no ½)",
        "penalty", "keras.regularizers.L2(l2)(w); gradient through tf.GradientTape",
        caveats=(
            "No ½: L2(c) is canonical l2 = 2c, and its gradient is 2c·w.",
            "Default l2=0.01.",
        ),
        optimizers=_KERAS_OPTIMIZERS, role="layer",
        placement=_KERAS_LAYER_PLACEMENT,
    ),
    Convention(
        "keras.regularizers.L1L2", "tensorflow", "penalty", PENALTY_UPDATE,
        (arg("l1", "l1", 1.0, 0.0), arg("l2", "l2", 0.5, 0.0)),
        "l1·Σ|w| + l2·Σw² (no ½)",
        "penalty", "keras.regularizers.L1L2(l1, l2)(w); gradient through tf.GradientTape",
        caveats=("Defaults l1=0, l2=0 (unlike L1 and L2, whose default is 0.01).",),
        optimizers=_KERAS_OPTIMIZERS, role="layer",
        placement=_KERAS_LAYER_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.SGD", "tensorflow", "update", ("update", "trajectory"),
        (arg("weight_decay", "l2", 1.0, None),),
        DECOUPLED.format(wd="weight_decay") + " (BaseOptimizer._apply_weight_decay)",
        "decoupled", f"keras.optimizers.SGD(weight_decay=…).apply_gradients: {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Every Keras optimizer's weight_decay is decoupled; for an L2 penalty use a layer's "
                 "kernel_regularizer=keras.regularizers.L2(l2/2)."),
        optimizers=(KERAS_SGD,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.Adam", "tensorflow", "update", ("update",),
        (arg("weight_decay", "l2", 1.0, None),),
        DECOUPLED.format(wd="weight_decay") + "; ε added to √v, not √v̂",
        "decoupled", f"keras.optimizers.Adam(weight_decay=…).apply_gradients: {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Default epsilon=1e-7 (torch, paddle: 1e-8), and added to √v rather than √v̂.", KERAS_F64),
        optimizers=(KERAS_ADAM,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.AdamW", "tensorflow", "update", ("update",),
        (arg("weight_decay", "l2", 1.0, 0.004),),
        DECOUPLED.format(wd="weight_decay") + "; ε added to √v, not √v̂",
        "decoupled", f"keras.optimizers.AdamW(weight_decay=…).apply_gradients: {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Default weight_decay=0.004 (torch, paddle AdamW: 0.01); default epsilon=1e-7.", KERAS_F64),
        optimizers=(KERAS_ADAMW,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    *(
        Convention(
            f"tf.contrib.layers.{name}", "tensorflow", "penalty", PENALTY_GRAD, params, formula, "penalty",
            f"tf_slim.layers.{name}({args})(w), summed over tensors; gradient through tf.GradientTape",
            caveats=(CONTRIB_HOME.format(name=name), *caveats, CONTRIB_RULES),
        )
        for name, params, formula, args, caveats in _CONTRIB
    ),
    # --- zoo: adagrad, rmsprop, adadelta, adamax, nadam ---
    *(Convention(
        api, "tensorflow", "update", ("update",), (arg("weight_decay", "l2", 1.0, None),),
        DECOUPLED.format(wd="weight_decay") + own, "decoupled",
        f"{api}(weight_decay=…).apply_gradients: {UPDATE_OF_STEPS}", caveats=(NOT_L2, *caveats),
        optimizers=(call,), role="optimizer", placement=_KERAS_PLACEMENT)
      for api, call, own, caveats in _ZOO_A_KERAS),
    # --- schedules/mixed precision/sparse ---
    Convention(
        "keras.optimizers.schedules", "tensorflow", "update", (), (),
        "step k runs at lr(k) = schedule(optimizer.iterations); weight_decay is decoupled and uses it, "
        "w ← w − lr(k)·weight_decay·w (measured: 0.855 as torch); SGD keeps lr inside its momentum",
        "decoupled", "the case's optimizer.schedule as " + schedule_classes("tensorflow") + " as learning_rate",
        caveats=(schedule_records.KERAS_PIECEWISE_WHY + ".",
                 schedule_records.KERAS_MOMENTUM_WHY + ".",
                 "A callable weight_decay is accepted by the constructor and refused at the first apply_gradients "
                 "(converted to a tensor): no weight-decay schedule.",
                 "Schedules compute in float32 (convert_to_tensor of the Python float lr): float64 runs see "
                 "float32-rounded learning rates.",
                 *schedule_records.caveats("tensorflow")),
    ),
    Convention(
        "tfa.optimizers.AdamW", "tensorflow", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "w ← w − weight_decay·w before each step (DecoupledWeightDecayExtension: var − wd·var, not multiplied by "
        "the scheduled lr: canonically wd = lr₀·λ, and a schedule leaves the decay where it was)",
        "decoupled", "TF add-ons (tensorflow_addons, end of life, Keras 2 only): not installable here",
        executed=False, decay_follows_lr=False,
        caveats=("Documented convention only. Its docs tell users to schedule weight_decay by hand with the lr; ONNX's "
                 "training Adam (norm_coefficient_post) likewise decays by a fixed factor after the step.",
                 "Against AdamW of torch/Keras/paddle (decay scaled by lr(k)) the same case is divergent: w ← w − "
                 "lr₀·λ·w versus w ← w − lr(k)·λ·w."),
    ),
    Convention(
        "keras.optimizers.LossScaleOptimizer", "tensorflow", "update", ("update",),
        (arg("l1", "l1", 1.0, 0.0), arg("l2", "l2", 0.5, 0.0)),
        "optimizer.scale_loss(loss + Σ layer.losses), apply_gradients unscales: a kernel_regularizer L1L2(l1, l2) "
        "is scaled with the loss (variant penalty_outside: scale_loss(loss) + Σ layer.losses, decay divided by S)",
        "coupled", "a Layer with dtype policy mixed_<dtype> (float32 variables, low-precision compute), "
        "kernel_regularizer=keras.regularizers.L1L2, LossScaleOptimizer(inner, initial_scale=S): " + UPDATE_OF_STEPS,
        caveats=("Keras computes layer.losses on the float32 variables, not on the low-precision copy.",
                 "fit() puts the regularization losses inside the scaled loss; a custom loop may not."),
        role="layer", special=Special("mixed_precision", amp_calls(KERAS_SGD, KERAS_ADAM)),
    ),
    Convention(
        "keras.layers.Embedding", "tensorflow", "update", ("update",),
        (arg("weight_decay", "l2"),),
        DECOUPLED.format(wd="weight_decay") + " on every row, also those absent from the IndexedSlices gradient",
        "decoupled", "keras.layers.Embedding per table, looked up at the rows its grads touch (the tape's gradient "
        "is tf.IndexedSlices), the case's optimizer with weight_decay: " + UPDATE_OF_STEPS,
        caveats=(NOT_L2, "BaseOptimizer._apply_weight_decay decays the whole variable; the step itself scatters "
                 "the IndexedSlices rows (Adam's moments are dense: absent rows' moments decay too)."),
        role="optimizer", special=Special("sparse", (KERAS_SGD, KERAS_ADAM, KERAS_ADAGRAD)),
    ),
    Convention(
        "keras.layers.Embedding.embeddings_regularizer", "tensorflow", "update", ("update",),
        (arg("l2", "l2", 0.5, 0.01),),
        "l2·ΣE² (no ½) in the loss: its gradient is dense, so every row decays (coupled)",
        "coupled", "keras.layers.Embedding(embeddings_regularizer=keras.regularizers.L2(l2)) per table, loss "
        "Σ g⊙E[rows] + Σ layer.losses, the case's optimizer: " + UPDATE_OF_STEPS,
        caveats=("The regularizer's dense gradient turns the IndexedSlices into a dense tensor.",),
        role="layer", special=Special("sparse", (KERAS_SGD, KERAS_ADAM, KERAS_ADAGRAD)),
    ),
    # --- zoo: lion, lamb, adafactor, ftrl, muon ---
    Convention(
        "keras.optimizers.Lion", "tensorflow", "update", ("update",),
        (arg("weight_decay", "l2"),),
        DECOUPLED.format(wd="weight_decay") + ": a direct shrink, then w ← w − lr·sign(β₁m + (1−β₁)g)",
        "decoupled", f"keras.optimizers.Lion(weight_decay=…).apply_gradients: {UPDATE_OF_STEPS}",
        caveats=("The decay is a direct shrink (the paper's decoupled decay), not L2: an L2 penalty in the loss goes "
                 "through the sign and moves each weight by lr at most, whatever its size.",
                 "Default beta_2=0.99 (Adam's 0.999); torch and paddle have no Lion."),
        optimizers=(KERAS_LION,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.Lamb", "tensorflow", "update", ("update",),
        (arg("weight_decay", "l2"),),
        DECOUPLED.format(wd="weight_decay") + ", before the trust ratio (paddle and the paper: λw inside it)",
        "decoupled", f"keras.optimizers.Lamb(weight_decay=…).apply_gradients: {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Default epsilon=1e-7 (paddle Lamb: 1e-6), added to √v̂.",
                 "Always applies the trust ratio ‖w‖/‖r‖ (paddle: only where its lamb_weight_decay is nonzero, "
                 "unless always_adapt=True)."),
        optimizers=(KERAS_LAMB,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.Adafactor", "tensorflow", "update", ("update",),
        (arg("weight_decay", "l2"),),
        DECOUPLED.format(wd="weight_decay") + "; the relative step then uses RMS of the decayed w",
        "decoupled", f"keras.optimizers.Adafactor(weight_decay=…).apply_gradients: {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "relative_step changes nothing for a constant learning rate: ρ_t = min(lr, 1/√t) is taken "
                 "either way (Adafactor.update_step).", "epsilon_1 is added to g² (torch clamps the estimate with "
                 "it).", "Default learning_rate=0.001 (torch: 0.01)."),
        optimizers=(KERAS_ADAFACTOR,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.Muon", "tensorflow", "update", ("update",),
        (arg("weight_decay", "l2", 1.0, 0.004),),
        DECOUPLED.format(wd="weight_decay") + " (2-D variables; adam_weight_decay for the others)",
        "decoupled", f"keras.optimizers.Muon(weight_decay=…).apply_gradients: {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Only 2-D variables whose path has no 'embedding' (exclude_embeddings=True) and matches no "
                 "exclude_layers get Muon; every other variable gets AdamW with adam_weight_decay.",
                 "lr is scaled by rms_rate·√max(rows, cols) (rms_rate=0.2): torch's adjust_lr_fn='match_rms_adamw'.",
                 "Default weight_decay=0.004 (torch Muon: 0.1)."),
        optimizers=(KERAS_MUON,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.Ftrl", "tensorflow", "update", ("update",),
        (arg("weight_decay", "l2"),),
        DECOUPLED.format(wd="weight_decay") + ", then FTRL's closed-form step",
        "decoupled", f"keras.optimizers.Ftrl(weight_decay=…).apply_gradients: {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Ftrl has three regularization arguments of its own besides weight_decay: see "
                 "keras.optimizers.Ftrl.proximal and keras.optimizers.Ftrl.shrinkage.",
                 "Default initial_accumulator_value=0.1."),
        optimizers=(KERAS_FTRL,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.Ftrl.proximal", "tensorflow", "update", ("update",),
        (arg("l1_regularization_strength", "l1"), arg("l2_regularization_strength", "l2", 0.5)),
        "proximal: λ₁|w| + λ₂w² in FTRL's closed form w = (clip(z, ±λ₁) − z)/(√n/lr + β/lr + 2λ₂), not in the "
        "gradient (canonical l1 = λ₁, l2 = 2λ₂)",
        "coupled", f"keras.optimizers.Ftrl(l1_regularization_strength=…, l2_regularization_strength=…): "
                   f"{UPDATE_OF_STEPS}",
        caveats=("Not the L1/L2 penalty's gradient: the proximal step sets a weight to exactly 0 while |z| ≤ λ₁, and "
                 "λ₂ acts on the accumulated objective (McMahan et al. 2013).", "No ½: λ₂w², canonical l2 = 2λ₂."),
        optimizers=(KERAS_FTRL_PROXIMAL,), role="optimizer",
    ),
    Convention(
        "keras.optimizers.Ftrl.shrinkage", "tensorflow", "update", ("update",),
        (arg("l2_shrinkage_regularization_strength", "l2", 0.5),),
        "shrinkage: 2λs·w added to the gradient of z only; the accumulator n sums the loss gradient's squares "
        "(canonical l2 = 2λs)",
        "coupled", f"keras.optimizers.Ftrl(l2_shrinkage_regularization_strength=…): {UPDATE_OF_STEPS}",
        caveats=("Documented as 'an L2 penalty added to the loss', which it is for z but not for n: the "
                 "per-coordinate step sizes ignore the penalty's gradient.",),
        optimizers=(KERAS_FTRL_SHRINKAGE,), role="optimizer",
    ),
)
