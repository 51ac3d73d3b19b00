"""jax: the penalties JAX users write with jax.numpy (gradients by jax.grad), optax's weight decay
(``add_decayed_weights`` before or after the scaling transform, ``adamw``, ``adamaxw``, ``nadamw``, ``lion``,
``lamb``, ``adadelta``, each with its ``mask``) and flax's kernels-only decay. Checked against the pinned sources:
optax 0.2.8 optax/_src/transform.py (add_decayed_weights, trace, scale_by_adam, scale_by_amsgrad, scale_by_rss,
scale_by_rms, scale_by_stddev, scale_by_adadelta, scale_by_adamax, scale_by_radam, scale_by_lion,
scale_by_trust_ratio, scale_by_rprop), optax/_src/alias.py (every alias below: its arguments and defaults),
optax/tree_utils/_tree_math.py (tree_update_infinity_moment); flax 0.12.8 flax/nnx/training/optimizer.py
(nnx.Optimizer).

optax's ``learning_rate`` has no default in any alias here but adadelta (None: no scaling, lr 1); 1e-3 stands in
where ``translate`` needs one, as for optax.sgd."""

from __future__ import annotations

import math

from regcompare.conventions.model import Convention, OptimizerCall, Placement, Variant, adam_hypers, arg, hyper
from regcompare.conventions.schedule_records import schedule_classes
from regcompare.conventions.texts import DECOUPLED, NOT_L2, PENALTY_GRAD, UPDATE_OF_STEPS

#: optax's mask as a callable that returns True for every leaf: the mask code path on a case without a scope.
MASK_VARIANT = Variant("mask", (("mask", "callable"),))
_NESTEROV = Variant("nesterov", (("nesterov", True),), (("nesterov", True),),
                    why="Nesterov momentum: trace(nesterov=True) gives g + μt", needs=(("momentum", True),))
# optax.sgd = chain(trace(decay=momentum, nesterov), scale_by_learning_rate(lr)): trace is t ← g + μt (first step
# t = g), nesterov g + μt: torch's rule with no dampening (optax/_src/transform.py trace).
OPTAX_SGD = OptimizerCall("optax.sgd", "sgd", (
    hyper("lr", "learning_rate", 1e-3), hyper("momentum", "momentum", 0.0), hyper("nesterov", "nesterov", False)),
    fixed=(("dampening", 0.0),), variants=(MASK_VARIANT, _NESTEROV))
#: optax.adam/adamw have no amsgrad argument (AMSGrad is the separate optax.amsgrad).
_NO_AMSGRAD = (("amsgrad", False),)
# scale_by_adam: m̂/(√v̂ + ε) with eps_root 0: ε outside the root of v̂, as torch.
OPTAX_ADAM = OptimizerCall("optax.adam", "adam", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-8),
                           fixed=_NO_AMSGRAD, variants=(MASK_VARIANT,))
OPTAX_ADAMW = OptimizerCall("optax.adamw", "adam", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-8),
                            fixed=_NO_AMSGRAD, variants=(MASK_VARIANT,))
OPTAX_AMSGRAD = OptimizerCall(
    "optax.amsgrad", "adam", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-8), fixed=(("amsgrad", True),),
    options=(("amsgrad_max", "v_hat"),),
    why="optax.amsgrad keeps the running maximum of the bias-corrected v̂ = v/(1−β₂ᵗ) and divides by √max + ε "
        "(optax/_src/transform.py scale_by_amsgrad); torch keeps the maximum of the raw v and corrects it after, "
        "max(v)/(1−β₂ᵗ): with a falling v̂ the two maxima differ", variants=(MASK_VARIANT,))

# --- the zoo: optax's aliases of the rules regcompare.rules has (optax/_src/alias.py) --------------------------------
_EPS_SQUARED = (("eps", "square"),)  # √(v + ε²) is the nearest to √v + ε: equal at v = 0 and for v ≫ ε²
OPTAX_ADAGRAD = OptimizerCall("optax.adagrad", "adagrad", (
    hyper("lr", "learning_rate", 1e-3), hyper("initial_accumulator_value", "initial_accumulator_value", 0.1),
    hyper("eps", "eps", 1e-7)), fixed=(("lr_decay", 0.0),), options=(("eps_inside_sqrt", True),),
    why="optax.adagrad: ε inside the root, g·rsqrt(s + ε), and 0 where s = 0 (optax/_src/transform.py "
        "scale_by_rss); torch: g/(√s + ε)", nearest=_EPS_SQUARED, variants=(MASK_VARIANT,))
# optax.rmsprop = chain(scale_by_rms|scale_by_stddev(decay, eps, initial_scale=0, eps_in_sqrt=True),
# scale_by_learning_rate, trace(momentum)): the trace holds lr·g/√v, torch's buffer g/√v times lr (constant lr).
OPTAX_RMSPROP = OptimizerCall("optax.rmsprop", "rmsprop", (
    hyper("lr", "learning_rate", 1e-3), hyper("alpha", "decay", 0.9), hyper("eps", "eps", 1e-8),
    hyper("momentum", "momentum", 0.0), hyper("centered", "centered", False)), options=(("eps_inside_sqrt", True),),
    why="optax.rmsprop: eps_in_sqrt=True by default, ε inside the root, g·rsqrt(v + ε), centered rsqrt(v − ḡ² + ε) "
        "(optax/_src/transform.py scale_by_rms, scale_by_stddev); torch: √v + ε. optax's eps_in_sqrt=False is "
        "torch's placement",
    nearest=_EPS_SQUARED,
    variants=(MASK_VARIANT, Variant("centered", (("centered", True),), (("centered", True),),
                                    why="the centered variance v − ḡ² (scale_by_stddev)")))
OPTAX_ADADELTA = OptimizerCall("optax.adadelta", "adadelta", (
    hyper("lr", "learning_rate", 1.0), hyper("rho", "rho", 0.9), hyper("eps", "eps", 1e-6)),
    variants=(MASK_VARIANT,))
# scale_by_adamax: u ← max(|g| + ε, β₂u) (optax/tree_utils/_tree_math.py tree_update_infinity_moment), m̂/u: torch's.
OPTAX_ADAMAX = OptimizerCall("optax.adamax", "adamax", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-8),
                             variants=(MASK_VARIANT,))
OPTAX_ADAMAXW = OptimizerCall("optax.adamaxw", "adamax", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-8),
                              variants=(MASK_VARIANT,))
_NADAM_WHY = ("optax.{f} is {a}(nesterov=True): m̂ = β₁m/(1−β₁ᵗ⁺¹) + (1−β₁)g/(1−β₁ᵗ) with a constant β₁ "
              "(optax/_src/transform.py scale_by_adam), torch's NAdam with no momentum schedule, i.e. "
              "momentum_decay=∞ (μₜ = β₁(1 − ½·0.96^(tψ)) → β₁); torch's default ψ = 0.004 starts at μ ≈ β₁/2")
OPTAX_NADAM = OptimizerCall("optax.nadam", "nadam", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-8),
                            options=(("momentum_decay", math.inf),), why=_NADAM_WHY.format(f="nadam", a="adam"),
                            variants=(MASK_VARIANT,))
OPTAX_NADAMW = OptimizerCall("optax.nadamw", "nadam", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-8),
                             options=(("momentum_decay", math.inf),), why=_NADAM_WHY.format(f="nadamw", a="adamw"),
                             variants=(MASK_VARIANT,))
OPTAX_RADAM = OptimizerCall(
    "optax.radam", "radam", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-8), options=(("eps_on", "v_hat"),),
    why="optax.radam: r·m̂/(√v̂ + ε), ε added to the bias-corrected √v̂ (optax/_src/transform.py scale_by_radam); "
        "torch: r·m̂·√(1−β₂ᵗ)/(√v + ε), ε on the raw √v. Both rectify from ρₜ ≥ 5 (optax's threshold) / > 5 (torch)",
    variants=(MASK_VARIANT,))
# optax.lamb = chain(scale_by_adam(eps=1e-6), add_decayed_weights, scale_by_trust_ratio, scale_by_learning_rate):
# the decay inside the trust ratio, the ratio ‖w‖/‖u‖ on every tensor (1 where a norm is 0): the canonical Lamb.
OPTAX_LAMB = OptimizerCall("optax.lamb", "lamb", adam_hypers("learning_rate", "b1", "b2", "eps", 1e-6),
                           fixed=(("always_adapt", True),), variants=(MASK_VARIANT,))
# scale_by_lion: sign((1−β₁)g + β₁m), m ← β₂m + (1−β₂)g: the canonical Lion.
OPTAX_LION = OptimizerCall("optax.lion", "lion", (
    hyper("lr", "learning_rate", 1e-3), hyper("beta1", "b1", 0.9), hyper("beta2", "b2", 0.99)),
    variants=(MASK_VARIANT,))
OPTAX_RPROP = OptimizerCall(
    "optax.rprop", "rprop", (
        hyper("lr", "learning_rate", 1e-3), hyper("etaminus", "eta_minus", 0.5), hyper("etaplus", "eta_plus", 1.2),
        hyper("step_size_min", "min_step_size", 1e-6), hyper("step_size_max", "max_step_size", 50.0)),
    options=(("lagged", True),),
    why="optax.rprop returns the step it stored at the previous call: 0 at the first step, then sign(gₜ₋₁)·ηₜ₋₁ "
        "(optax/_src/transform.py scale_by_rprop: the update is jnp.where(s < 0, 0, state.prev_updates)); torch "
        "steps by sign(gₜ)·ηₜ at once. Measured: rprop(0.1) on a constant gradient moves 0, 0.1, 0.12 (torch: "
        "0.1, 0.12, 0.144). Reported upstream as a bug: google-deepmind/optax pull request 1725 (open)",
    variants=(MASK_VARIANT,))
#: The scaling transform of each alias (optax/_src/alias.py), for the decoupled chain split off its learning rate.
SCALING = {"optax.adam": "optax.scale_by_adam", "optax.amsgrad": "optax.scale_by_amsgrad",
           "optax.adagrad": "optax.scale_by_rss", "optax.adadelta": "optax.scale_by_adadelta",
           "optax.adamax": "optax.scale_by_adamax", "optax.radam": "optax.scale_by_radam",
           "optax.lion": "optax.scale_by_lion"}


def _code(value: float | bool | str) -> str:
    return str(value) if isinstance(value, bool | str) else repr(float(value))


def _kwargs(args: dict[str, float | bool | str], drop: tuple[str, ...] = ()) -> str:
    return ", ".join(f"{k}={_code(v)}" for k, v in args.items() if k not in drop)


def scaling_text(api: str, args: dict[str, float | bool | str]) -> str:
    """The scaling transform of ``api`` with its arguments, as optax/_src/alias.py builds the alias."""
    if api == "optax.sgd":
        momentum = args.get("momentum") or 0.0
        return (f"optax.trace(decay={_code(momentum)}, nesterov={args.get('nesterov', False)})" if momentum
                else "optax.identity()")
    if api == "optax.rmsprop":
        rms = "optax.scale_by_stddev" if args.get("centered") else "optax.scale_by_rms"
        text = f"{rms}({_kwargs(args, ('learning_rate', 'momentum', 'centered'))})"
        momentum = args.get("momentum") or 0.0
        return f"optax.chain({text}, optax.trace(decay={_code(momentum)}))" if momentum else text
    if api == "optax.nadam":
        return f"optax.scale_by_adam({_kwargs(args, ('learning_rate',))}, nesterov=True)"
    return f"{SCALING[api]}({_kwargs(args, ('learning_rate',))})"


def setting_text(conv: Convention, call: OptimizerCall, decay: dict[str, float],
                 args: dict[str, float | bool | str]) -> str:
    """How a JAX user writes a chain or flax record (``regcompare translate``): real optax code."""
    wd = _code(decay.get("weight_decay", 0.0))
    if conv.api == "optax.add_decayed_weights":
        return f"optax.chain(optax.add_decayed_weights(weight_decay={wd}), {call.api}({_kwargs(args)}))"
    if conv.api == "optax.add_decayed_weights.after":
        return (f"optax.chain({scaling_text(call.api, args)}, optax.add_decayed_weights(weight_decay={wd}), "
                f"optax.scale_by_learning_rate({_code(args.get('learning_rate', 1e-3))}))")
    return (f"flax.nnx.Optimizer(model, {call.api}({_kwargs(args)}, weight_decay={wd}, "
            "mask=jax.tree.map(lambda p: p.ndim > 1, params)), wrt=nnx.Param)")


#: The optax aliases optax.chain(add_decayed_weights(…), <alias>) runs with: the coupled decay goes through each.
COUPLED_CALLS = (OPTAX_SGD, OPTAX_ADAM, OPTAX_AMSGRAD, OPTAX_ADAGRAD, OPTAX_RMSPROP, OPTAX_ADADELTA, OPTAX_ADAMAX,
                 OPTAX_NADAM, OPTAX_RADAM, OPTAX_LAMB, OPTAX_LION, OPTAX_RPROP)
#: The aliases whose scaling transform the decoupled chain splits off (optax.lamb and optax.lion are chained this
#: way by optax itself: their records are their own weight_decay; Rprop's lr is inside its scaling).
DECOUPLED_CALLS = (OPTAX_SGD, OPTAX_ADAM, OPTAX_AMSGRAD, OPTAX_ADAGRAD, OPTAX_RMSPROP, OPTAX_ADADELTA, OPTAX_ADAMAX,
                   OPTAX_NADAM, OPTAX_RADAM)
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
        optimizers=COUPLED_CALLS, role="chain", placement=_MASK,
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
        optimizers=DECOUPLED_CALLS, role="chain", placement=_MASK,
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
    *(Convention(
        api, "jax", "update", ("update",), (arg("weight_decay", "l2", 1.0, default),),
        DECOUPLED.format(wd="weight_decay") + f" ({chain})", "decoupled",
        f"{api}(learning_rate, …, weight_decay=…, mask=…): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, f"Default weight_decay={default:g} (optax/_src/alias.py {api.removeprefix('optax.')}).",
                 *caveats),
        optimizers=(call,), role="optimizer", placement=_MASK)
      for api, call, default, chain, caveats in (
          ("optax.adamaxw", OPTAX_ADAMAXW, 1e-4, "chain(scale_by_adamax, add_decayed_weights, scale_by_learning_rate)",
           ()),
          ("optax.nadamw", OPTAX_NADAMW, 1e-4, "adamw(nesterov=True)",
           ("No momentum schedule: torch NAdam's momentum_decay=∞, not its 0.004.",)),
          ("optax.lion", OPTAX_LION, 1e-3, "chain(scale_by_lion, add_decayed_weights, scale_by_learning_rate)",
           ("A decay is on by default: weight_decay=1e-3 (torch has no Lion; Keras Lion: None).",)))),
    Convention(
        "optax.lamb", "jax", "update", ("update",), (arg("weight_decay", "l2"),),
        "u = m̂/(√v̂ + ε) + weight_decay·w, w ← w − lr·(‖w‖/‖u‖)·u: the decay inside the trust ratio "
        "(chain(scale_by_adam, add_decayed_weights, scale_by_trust_ratio, scale_by_learning_rate))",
        "decoupled", f"optax.lamb(learning_rate, b1, b2, eps, weight_decay=…, mask=…): {UPDATE_OF_STEPS}",
        caveats=(NOT_L2, "Default eps=1e-6 and weight_decay=0.0; the trust ratio is 1 where ‖w‖ or ‖u‖ is 0.",),
        optimizers=(OPTAX_LAMB,), role="optimizer", placement=_MASK,
    ),
    Convention(
        "optax.adadelta", "jax", "update", ("update",), (arg("weight_decay", "l2"),),
        "gradient += weight_decay·w, then Adadelta's two running averages (chain(add_decayed_weights, "
        "scale_by_adadelta, scale_by_learning_rate))",
        "coupled", f"optax.adadelta(learning_rate, rho, eps, weight_decay=…, weight_decay_mask=…): {UPDATE_OF_STEPS}",
        caveats=("Coupled, unlike optax's other weight_decay arguments: add_decayed_weights comes before the "
                 "scaling (optax/_src/alias.py adadelta), as torch.optim.Adadelta(weight_decay).",
                 "The mask is spelled weight_decay_mask; learning_rate defaults to None (no scaling: lr 1)."),
        optimizers=(OPTAX_ADADELTA,), role="optimizer", placement=_MASK,
    ),
    Convention(
        "optax.schedules", "jax", "update", (), (),
        "step k runs at lr(k) = schedule(count), count 0 at the first update (optax/_src/transform.py "
        "scale_by_schedule); scale_by_learning_rate comes after add_decayed_weights in adamw and the decoupled "
        "chains, so the decoupled decay is scaled by the scheduled lr: w ← w − lr(k)·(u + weight_decay·w)",
        "decoupled", "the case's optimizer.schedule as " + schedule_classes("jax") + " as learning_rate",
        caveats=("piecewise_constant_schedule takes scales, not values: boundaries_and_scales={b: values[i+1]/"
                 "values[i]}, switching once count >= b (as paddle PiecewiseDecay; Keras switches one step later).",
                 "A weight-decay schedule is a schedule passed as add_decayed_weights' weight_decay, called with that "
                 "transform's own count (optax/transforms/_adding.py): weight_decay·lr(k)/lr₀.",
                 "exponential_decay and linear_schedule compute in float32 even with x64 enabled (the int32 count "
                 "divided): float64 runs see float32-rounded learning rates (measured: exponential_decay(0.1, 1, 0.5, "
                 "staircase=True)(1) = 0.05000000074505806); cosine_decay_schedule stays float64.",
                 "optax.rmsprop scales by the lr before its momentum trace (lr inside the momentum, as Keras SGD): "
                 "under a schedule its momentum keeps past steps' lr; no schedule case runs it."),
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
        optimizers=(OPTAX_ADAMW,), role="flax", placement=_FLAX_MASK,
    ),
)
