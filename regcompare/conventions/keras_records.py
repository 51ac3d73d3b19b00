"""tensorflow / Keras: tf.nn.l2_loss, tf.contrib.layers' regularizers (through tf-slim), the Keras regularizers and
optimizers (checked against the pinned sources:
keras/src/regularizers/regularizers.py; keras/src/optimizers/sgd.py, adam.py, adamw.py; base_optimizer.py
exclude_from_weight_decay, _apply_weight_decay)."""

from __future__ import annotations

from regcompare.conventions.model import Convention, OptimizerCall, Placement, adam_hypers, arg, hyper
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
                           adam_hypers("learning_rate", "beta_1", "beta_2", "epsilon", 1e-7), eps_on="v")
KERAS_ADAMW = OptimizerCall("keras.optimizers.AdamW", "adam",
                            adam_hypers("learning_rate", "beta_1", "beta_2", "epsilon", 1e-7), eps_on="v")
_KERAS_OPTIMIZERS = (KERAS_SGD, KERAS_ADAM)
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
_KERAS_LAYER_PLACEMENT = Placement("the regularizer on the scoped weights only (each layer's kernel_regularizer)")
_KERAS_PLACEMENT = Placement(
    "optimizer.exclude_from_weight_decay(var_list=<others>)",
    param_apis=("keras.regularizers.L1", "keras.regularizers.L2", "keras.regularizers.L1L2"),
    why="Keras: a kernel_regularizer adds its penalty to the loss and the optimizer's weight_decay decays the "
        "weights on top of it (BaseOptimizer._apply_weight_decay): both apply",
    why_groups="Keras: a kernel_regularizer and the optimizer's weight_decay both apply")

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
        (arg("weight_decay", "l2"),),
        DECOUPLED.format(wd="weight_decay") + " (BaseOptimizer._apply_weight_decay)",
        "decoupled", f"keras.optimizers.SGD(weight_decay=…).apply_gradients: {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Every Keras optimizer's weight_decay is decoupled; for an L2 penalty use a layer's "
                 "kernel_regularizer=keras.regularizers.L2(l2/2)."),
        optimizers=(KERAS_SGD,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.Adam", "tensorflow", "update", ("update",),
        (arg("weight_decay", "l2"),),
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
)
