"""jax: the penalties JAX users write with jax.numpy (gradients by jax.grad), optax's weight decay
(``add_decayed_weights`` before or after the scaling transform, ``adamw``, each with its ``mask``) and flax's
kernels-only decay. Checked against the pinned sources: optax 0.2.8 optax/_src/transform.py
(add_decayed_weights, trace, scale_by_adam), optax/_src/alias.py (sgd, adam, adamw); flax 0.12.8 flax/nnx/training/
optimizer.py (nnx.Optimizer)."""

from __future__ import annotations

from regcompare.conventions.model import Convention, OptimizerCall, Placement, Variant, adam_hypers, arg, hyper
from regcompare.conventions.texts import DECOUPLED, NOT_L2, PENALTY_GRAD, UPDATE_OF_STEPS

#: optax's mask as a callable that returns True for every leaf: the mask code path on a case without a scope.
MASK_VARIANT = Variant("mask", (("mask", "callable"),))
# optax.sgd = chain(trace(decay=momentum, nesterov), scale_by_learning_rate(lr)): trace is t ← g + μt (first step
# t = g), nesterov g + μt: torch's rule with no dampening (optax/_src/transform.py trace).
OPTAX_SGD = OptimizerCall("optax.sgd", "sgd", (
    hyper("lr", "learning_rate", 1e-3), hyper("momentum", "momentum", 0.0), hyper("nesterov", "nesterov", False)),
    fixed=(("dampening", 0.0),), variants=(MASK_VARIANT,))
#: optax.adam/adamw have no amsgrad argument (AMSGrad is the separate optax.amsgrad, not mapped here).
_NO_AMSGRAD = (("amsgrad", False),)
# scale_by_adam: m̂/(√v̂ + ε) with eps_root 0: ε outside the root of v̂, as torch.
OPTAX_ADAM = OptimizerCall("optax.adam", "adam", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-8),
                           fixed=_NO_AMSGRAD, variants=(MASK_VARIANT,))
OPTAX_ADAMW = OptimizerCall("optax.adamw", "adam", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-8),
                            fixed=_NO_AMSGRAD, variants=(MASK_VARIANT,))
_MASK = Placement("mask={name: name in scope} (optax's mask argument: decay on the masked-in leaves only)")
_FLAX_MASK = Placement("flax's kernels-only mask, jax.tree.map(lambda p: p.ndim > 1, params): the scope must be "
                       "exactly the tensors of two or more dimensions")
_JNP = "l1 * sum(jnp.sum(jnp.abs(p))) + l2 / 2 * sum(jnp.sum(p ** 2)) over jax.tree_util.tree_leaves(params)"

RECORDS: tuple[Convention, ...] = (
    Convention(
        "jax.handwritten", "jax", "penalty", PENALTY_GRAD,
        (arg("l1", "l1"), arg("l2", "l2")),
        "l1·Σ|w| + l2·½Σw² over the parameter tree (the flax examples' weight_decay * 0.5 * Σ‖p‖²)",
        "penalty", f"{_JNP}; gradient by jax.grad",
    ),
    Convention(
        "optax.tree_utils.tree_norm", "jax", "penalty", PENALTY_GRAD,
        (arg("l2", "l2"),),
        "l2·½·tree_norm(params, squared=True) = l2·½Σw²",
        "penalty", "l2 / 2 * optax.tree_utils.tree_norm(params, squared=True); gradient by jax.grad",
    ),
    Convention(
        "optax.add_decayed_weights", "jax", "update", ("update",),
        (arg("weight_decay", "l2"),),
        "updates += weight_decay·w, chained before the optimizer: the gradient term goes through momentum and "
        "Adam's moments",
        "coupled", "optax.chain(optax.add_decayed_weights(weight_decay, mask), optax.sgd|adam(…)), "
        f"optax.apply_updates: {UPDATE_OF_STEPS}",
        caveats=("Coupled like torch.optim.SGD/Adam(weight_decay): the decay is an L2 gradient term scaled by "
                 "Adam's 1/√v̂.", "No L1: add l1·Σ|w| to the loss by hand."),
        optimizers=(OPTAX_SGD, OPTAX_ADAM), role="chain", placement=_MASK,
        call_args="inside optax.chain(optax.add_decayed_weights(weight_decay, mask), <this>)",
    ),
    Convention(
        "optax.add_decayed_weights.after", "jax", "update", ("update",),
        (arg("weight_decay", "l2"),),
        DECOUPLED.format(wd="weight_decay") + ": chain(<scaling>, add_decayed_weights, scale_by_learning_rate)",
        "decoupled", "optax.chain(optax.trace(momentum)|optax.scale_by_adam(…), optax.add_decayed_weights("
        f"weight_decay, mask), optax.scale_by_learning_rate(lr)): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "With Adam this chain is exactly optax.adamw (optax/_src/alias.py).",
                 "With momentum the decay is applied after the momentum trace: w ← w − lr·(trace + λw)."),
        optimizers=(OPTAX_SGD, OPTAX_ADAM), role="chain", placement=_MASK,
        call_args="split as optax.chain(<this without lr>, optax.add_decayed_weights(weight_decay, mask), "
                  "optax.scale_by_learning_rate(lr))",
    ),
    Convention(
        "optax.adamw", "jax", "update", ("update",),
        (arg("weight_decay", "l2", 1.0, 1e-4),),
        DECOUPLED.format(wd="weight_decay") + " (chain(scale_by_adam, add_decayed_weights, scale_by_learning_rate))",
        "decoupled", f"optax.adamw(learning_rate, b1, b2, eps, weight_decay=…, mask=…): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Default weight_decay=1e-4 (torch AdamW: 0.01, Keras AdamW: 0.004)."),
        optimizers=(OPTAX_ADAMW,), role="optimizer", placement=_MASK,
    ),
    Convention(
        "flax.nnx.Optimizer", "jax", "update", ("update",),
        (arg("weight_decay", "l2", 1.0, 1e-4),),
        DECOUPLED.format(wd="weight_decay") + " on the kernels only (mask: p.ndim > 1) when the case scopes it",
        "decoupled", "an nnx.Module whose nnx.Params are the case's tensors, nnx.Optimizer(model, optax.adamw(…, "
        "weight_decay=…, mask=jax.tree.map(lambda p: p.ndim > 1, params)), wrt=nnx.Param), optimizer.update(model, "
        f"grads): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Flax examples decay only kernels (and so never biases or norm scales) with this mask; "
                 "without a scope in the case every parameter is decayed (mask=None)."),
        optimizers=(OPTAX_ADAMW,), role="optimizer", placement=_FLAX_MASK,
    ),
)
