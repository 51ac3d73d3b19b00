"""``regcompare translate API name=value ...``: the setting of every other framework that reproduces an API's update.

Everything comes from the registry: the source's record maps its native arguments to canonical
coefficients, its optimizer hyper-parameters and its coupling; a target reproduces it when it can express
the same coefficients and hyper-parameters with the same coupling. Coupled and decoupled decay are the
same update only for plain SGD (``w − lr·λ·w − lr·g`` either way), so only there does one translate into
the other.

Not every mapping is a rename. Hyper-parameters are passed explicitly (Keras Adagrad's initial accumulator
defaults to 0.1, torch's to 0). Where a target class implements the rule its own documented way (``options``:
paddle RMSProp's ε inside the root) or cannot express a setting at all (``fixed``: Keras Nadam's momentum
schedule), there is *no equivalent*: translate says why, gives the nearest setting (the record's ``nearest``
transforms, or the class's only value) and how close it gets, measured by the float64 oracle on a fine-tuning
probe (w ~ N(0, 0.02), gradients ~ N(0, 1e-3)). A framework with no class of the rule says so too. Round-trip tests
(tests/test_translate.py) run every translation through the real frameworks.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from regcompare import adapters, oracle, rules, schedules
from regcompare.conventions import Convention, OptimizerCall, Regularizer, schedule_records
from regcompare.schema import ScheduleSpec

Settings = dict[str, float | bool]
#: The case format's defaults for keys an optimizer class does not take (beta1 for SGD, ...).
_NEUTRAL: Settings = {s.key: s.default for name in rules.NAMES for s in rules.settings_of(name)}

#: Transforms an ``OptimizerCall.nearest`` names, with their inverses (a source with the option, a target without):
#: ε inside the root, √(v + ε′), is nearest to √v + ε with ε′ = ε²: equal at v = 0 and for v ≫ ε², and within a
#: factor √2 in between (at v = ε²).
NEAREST: dict[str, tuple[Callable[[float], float], Callable[[float], float]]] = {
    "square": (lambda x: x * x, math.sqrt),
}
_RULE_WORDS = {"sgd": "momentum", "adam": "Adam"}
#: The probe on which "how close" is measured: the issue's fine-tuning scale.
PROBE_SHAPE, PROBE_W, PROBE_G = (8, 8), 0.02, 1e-3  # a matrix: Muon updates 2-D weights only


class TranslateError(ValueError):
    """The source cannot be translated (unknown API or argument); the message says what is known."""


@dataclass(frozen=True)
class Source:
    conv: Convention
    call: OptimizerCall
    reg: Regularizer
    settings: Settings

    @property
    def semantics(self) -> str:
        return "decoupled" if self.conv.coupling == "decoupled" else "coupled"


@dataclass(frozen=True)
class Translation:
    """One target API with the arguments that reproduce the source (or, if not ``equivalent``, why not)."""

    conv: Convention
    call: OptimizerCall
    native: dict[str, float]
    args: Settings
    equivalent: bool
    why: str = ""
    caveats: tuple[str, ...] = field(default=())
    nearest: str = ""
    """Set where no setting of this class reproduces the source: what the nearest setting changes and how close it
    gets (``args`` are that nearest setting)."""
    deviation: float | None = None
    """‖Δ − Δsource‖/‖Δsource‖ of the update on the probe, by the float64 oracle (for ``nearest`` settings)."""
    schedule: dict[str, Any] | None = None
    """The lr schedule as this target's scheduler class takes it (``--scheduler``; regcompare.schedules), or None."""

    @property
    def framework(self) -> str:
        return self.conv.framework

    def text(self) -> str:
        return setting_text(self.conv, self.call, self.native, self.args)

    def options(self, grads: dict[str, Any], steps: int) -> dict[str, Any]:
        """``Task.options`` for running this translation as an ``update`` task."""
        options = {"optimizer": self.call.api, "args": dict(self.args), "grads": grads, "steps": steps}
        return options | ({"schedule": self.schedule} if self.schedule is not None else {})


def _value(text: str) -> float | bool | tuple[float, ...]:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        parts = tuple(float(p) for p in text.strip("()[] ").split(",") if p.strip())
    except ValueError:
        raise TranslateError(f"{text!r} is not a number, a tuple of numbers, true or false") from None
    if not parts:
        raise TranslateError(f"{text!r} is not a number, a tuple of numbers, true or false")
    bad = [p for p in parts if not math.isfinite(p)]
    if bad:
        raise TranslateError(f"{text!r}: {bad[0]} is not a finite number; no optimizer steps with it")
    return parts[0] if len(parts) == 1 else parts


def split_call(text: str) -> tuple[str, list[str]]:
    """``torch.optim.AdamW(lr=1e-3, betas=(0.9, 0.999))`` as the API and its ``name=value`` pairs (a tuple value
    joined by commas, as the command line writes it); a bare API name has no pairs."""
    api, paren, rest = text.strip().partition("(")
    if not paren:
        return api, []
    if not rest.rstrip().endswith(")"):
        raise TranslateError(f"{text!r}: a call ends with ')'")
    pairs, depth, current = [], 0, ""
    for ch in rest.rstrip()[:-1]:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            pairs.append(current)
            current = ""
        else:
            current += ch
    pairs.append(current)
    return api.strip(), ["".join(p.split()) for p in pairs if p.strip()]


def parse_args(pairs: list[str]) -> dict[str, float | bool]:
    """``name=value`` pairs; a tuple value ``betas=0.9,0.999`` becomes ``betas[0]``, ``betas[1]``."""
    out: dict[str, float | bool] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise TranslateError(f"expected name=value, got {pair!r}")
        value = _value(text)
        if isinstance(value, tuple):
            out |= {f"{name}[{i}]": v for i, v in enumerate(value)}
        else:
            out[name] = value
    return out


#: Keywords of the real calls that name another registry API (``torch.optim.Adam(decoupled_weight_decay=True)`` is
#: ``torch.optim.Adam.decoupled``) or that ``translate`` carries at their default only.
_SWITCHES = {"decoupled_weight_decay": ".decoupled"}
_DEFAULT_ONLY = {"amsgrad": False}


def real_keywords(api: str, native: dict[str, float | bool]) -> tuple[str, dict[str, float | bool]]:
    """The registry API and arguments of a call written with the real keywords: ``decoupled_weight_decay=True``
    picks the decoupled record, a keyword at its default (``amsgrad=False``, ``decoupled_weight_decay=False``) is
    dropped, ``amsgrad=True`` is refused unless the API's record takes it."""
    table = adapters.conventions()
    out = dict(native)
    for key, suffix in _SWITCHES.items():
        if key in out:
            on = out.pop(key)
            if on and api + suffix not in table:
                raise TranslateError(f"{api} with {key}=True is not in the registry; translate knows "
                                     f"{', '.join(a for a in table if a.endswith(suffix))}")
            api = api + suffix if on else api
    conv = table.get(api)
    hypers = {h.name for c in (conv.optimizers if conv else ()) for h in c.hypers}
    for key, default in _DEFAULT_ONLY.items():
        if key in out and key not in hypers:
            if out[key] != default:
                raise TranslateError(f"{key}={out[key]} is not modelled for {api} yet: translate carries {key} "
                                     f"at its default ({default}) only")
            del out[key]
    return api, out


def validate(src: Source) -> None:
    """Refuse what no optimizer runs with: a negative decay coefficient, and settings outside their rule's range
    (the case format's own checks, regcompare.rules: momentum and the betas in [0, 1), lr and eps > 0)."""
    if src.reg.l1 < 0 or src.reg.l2 < 0:
        raise TranslateError(f"negative decay (canonical l1={src.reg.l1:g}, l2={src.reg.l2:g}): a decay coefficient "
                             f"is >= 0")
    for setting in rules.settings_of(src.call.family):
        value = src.settings.get(setting.key)
        if value is None or isinstance(value, bool | str):  # a choice (Muon's adjust_lr_fn) has no bounds
            continue
        bounds = {"positive": (value > 0, "> 0"), "nonnegative": (value >= 0, ">= 0"),
                  "fraction": (0 <= value < 1, "in [0, 1)"), "unit": (0 <= value <= 1, "in [0, 1]")}
        ok, rule = bounds.get(setting.kind, (True, ""))
        if not ok:
            names = [h.name for h in src.call.hypers if h.key == setting.key]
            raise TranslateError(f"{names[0] if names else setting.key}={value:g}: {setting.key} must be {rule}")


def source(api: str, native: dict[str, float | bool], family: str | None = None) -> Source:
    """The canonical meaning of ``api(**native)``: coefficients, optimizer settings and coupling."""
    table = adapters.conventions()
    conv = table.get(api)
    able = [c.api for c in table.values() if c.optimizers and c.executed]
    if conv is None or not conv.optimizers:
        raise TranslateError(f"cannot translate {api!r}: translate knows the update APIs {', '.join(able)}")
    decay_names = {p.name for p in conv.params}
    hyper = {k: v for k, v in native.items() if k not in decay_names}
    calls = [c for c in conv.optimizers if family in (None, c.family) and set(hyper) <= {h.name for h in c.hypers}]
    if not calls:
        known = sorted(decay_names | {h.name for c in conv.optimizers for h in c.hypers})
        raise TranslateError(f"{api} takes no argument {sorted(set(hyper))}; it knows {', '.join(known)}")
    call = calls[0]
    decay = {k: float(v) for k, v in native.items() if k in decay_names}
    settings = _NEUTRAL | dict(call.fixed) | call.settings(hyper)
    return Source(conv, call, conv.to_canonical(decay), settings)


def _equivalent(src: Source, target: Convention) -> tuple[bool, str]:
    same = target.coupling == src.conv.coupling or {target.coupling, src.conv.coupling} <= {"coupled", "penalty"}
    if same:
        return True, ""
    if src.call.family == "sgd" and not src.settings["momentum"] and not src.reg.l1:
        return True, "coupled and decoupled decay are the same update for plain SGD (no momentum)"
    decoupled = target.coupling == "decoupled"
    kind = "decoupled (w ← w − lr·λ·w before the step)" if decoupled else "coupled (λ·w in the gradient)"
    return False, f"{kind}: a different update with {_RULE_WORDS.get(src.call.family, src.call.family)}"


def translations(src: Source) -> list[Translation]:
    """Every other update API of the registry: the equivalent ones first, then the nearest settings of classes that
    cannot reproduce the source, then same-family ones that are not equivalent."""
    out = []
    for conv in adapters.conventions().values():
        if (conv.api == src.conv.api or not conv.executed or not conv.applies_to(src.reg) or conv.weight_norm
                or conv.special):  # decay on g and v, or a model of training of its own: never a plain setting
            continue
        call = conv.optimizer_for(src.call.family, src.settings)
        refused = conv.refused(src.call.family, src.settings) if call is None else None
        if call is None and refused is None:
            continue
        equivalent, why = _equivalent(src, conv)
        if refused is not None:
            if equivalent:
                out.append(_nearest(src, conv, refused[0], f"no equivalent: {refused[1]}", dict(refused[0].fixed)))
            else:
                settings = src.settings | dict(refused[0].fixed)
                out.append(Translation(conv, refused[0], conv.to_native(src.reg), refused[0].native(settings), False,
                                       f"{why}; and {refused[1]}"))
            continue
        assert call is not None
        if equivalent and dict(call.options) != dict(src.call.options):
            why = f"no equivalent: {_option_why(src.call, call)}"
            # the record's transform or the plain rename, whichever the probe finds closer
            candidates = [_nearest(src, conv, call, why, changed)
                          for changed in (_carried(src.call, call, src.settings), {})]
            out.append(min(candidates, key=lambda t: t.deviation or 0.0))
            continue
        caveats = tuple(c for c in conv.caveats if equivalent)
        if equivalent and call.eps_on != src.call.eps_on and src.call.family == "adam":
            caveats += (f"{call.api} adds epsilon to {'√v' if call.eps_on == 'v' else '√v̂'}, the source to "
                        f"{'√v' if src.call.eps_on == 'v' else '√v̂'}: equal only up to ε·(1−√(1−β₂ᵗ)).",)
        native = conv.to_native(src.reg)
        out.append(Translation(conv, call, native, call.native(src.settings), equivalent, why, caveats))
    out = [scheduled(src, t) for t in out]
    return sorted(out, key=lambda t: (not t.equivalent, not t.nearest))


def _option_why(source: OptimizerCall, target: OptimizerCall) -> str:
    """The documented difference, from whichever side implements the rule its own way."""
    return " / ".join(filter(None, (target.why, source.why))) or "the classes implement the rule differently"


def _carried(source: OptimizerCall, target: OptimizerCall, settings: Settings) -> Settings:
    """The settings changed for the nearest target: the target's ``nearest`` transforms, or the inverse of the
    source's (a paddle RMSProp source → torch: ε = √ε_paddle)."""
    changed: Settings = {}
    for key, name in target.nearest:
        changed[key] = NEAREST[name][0](float(settings[key]))
    if not target.options:
        for key, name in source.nearest:
            changed[key] = NEAREST[name][1](float(settings[key]))
    return changed


def _nearest(src: Source, conv: Convention, call: OptimizerCall, why: str, changed: Settings) -> Translation:
    """The nearest setting of a class that cannot reproduce the source, with its deviation on the probe."""
    settings = src.settings | changed
    deviation = probe_deviation(src, conv, call, settings)
    what = ", ".join(f"{k}={_text(v)} (source: {_text(src.settings[k])})" for k, v in changed.items()
                     if k in src.settings) or "the plain rename of every value"
    renamed = ""
    if any(src.settings.get(k) != v for k, v in changed.items()) and not call.fixed:
        renamed = f"; the plain rename: {probe_deviation(src, conv, call, src.settings):.3g}"
    nearest = (f"nearest: {what}; its update differs from the source's by {deviation:.3g} of the source's size on a "
               f"fine-tuning probe (w ~ N(0, {PROBE_W}), gradients ~ N(0, {PROBE_G}), {_probe_steps(src)} steps)"
               f"{renamed}")
    return Translation(conv, call, conv.to_native(src.reg), call.native(settings), False, why, conv.caveats,
                       nearest=nearest, deviation=deviation)


def _probe_steps(src: Source) -> int:
    return 7 if src.call.family == "radam" else 3  # RAdam's rectified step starts at step 6


def probe_deviation(src: Source, conv: Convention, call: OptimizerCall, settings: Settings) -> float:
    """‖Δtarget − Δsource‖/‖Δsource‖ after a few steps on the probe, both by the float64 oracle with each side's
    documented semantics (coupling and own rule options)."""
    rng = np.random.default_rng(0)
    w = {"w": rng.normal(0.0, PROBE_W, PROBE_SHAPE)}
    g = {"w": rng.normal(0.0, PROBE_G, PROBE_SHAPE)}
    steps = _probe_steps(src)

    def delta(c: Convention, oc: OptimizerCall, s: Settings) -> np.ndarray:
        semantics = "decoupled" if c.coupling == "decoupled" and not src.reg.l1 else "coupled"
        return oracle.update(w, g, src.reg, oc.family, s, steps, semantics, oc.rule_options(own=True))["w"] - w["w"]

    source = delta(src.conv, src.call, src.settings)
    return float(np.linalg.norm(delta(conv, call, settings) - source) / np.linalg.norm(source))


def _text(value: float | bool | str) -> str:
    return str(value) if isinstance(value, bool | str) else f"{value:g}"


def setting_text(conv: Convention, call: OptimizerCall, native: dict[str, float], args: Settings) -> str:
    """How a user writes it, by where the decay arguments go (the record's ``role``)."""
    decay = ", ".join(f"{k}={v:g}" for k, v in native.items())
    if conv.role == "layer":
        return (f"{conv.api}({decay}) as each layer's kernel_regularizer (and bias_regularizer to decay biases), "
                f"with {call.call_text(args)} and no weight_decay")
    if conv.role == "param":
        reg = f"paddle.regularizer.{conv.api.rsplit('.', 1)[1]}({decay})"
        return f"paddle.ParamAttr(regularizer={reg}) on each parameter, with {call.call_text(args)}"
    if conv.role == "loss":
        return (f"loss += {conv.formula.split(',')[0].removeprefix('loss += ')} by hand ({decay}), with "
                f"{call.call_text(args)} and no weight_decay")
    if conv.role in ("chain", "flax"):  # optax: the decay is a transform in a chain, or flax wraps the optimizer
        from regcompare.conventions import jax_records

        return jax_records.setting_text(conv, call, native, args)
    if conv.role == "optimizer regularizer":
        return call.call_text(args, extra=f"weight_decay={conv.api}({decay})")
    extra = ", ".join(filter(None, [decay, conv.call_args]))
    return call.call_text(args, extra=extra)


def render(src: Source, found: list[Translation]) -> str:
    lines = [f"{setting_text(src.conv, src.call, src.conv.to_native(src.reg), src.call.native(src.settings))}",
             f"  canonical: l1={src.reg.l1:g}, l2={src.reg.l2:g}, {src.semantics} "
             f"({src.conv.formula}); {src.call.family} with "
             + ", ".join(f"{k}={_text(v)}" for k, v in src.settings.items()
                         if k in {h.key for h in src.call.hypers}), *schedule_lines(src), ""]
    for fw in _update_frameworks():
        mine = [t for t in found if t.framework == fw]
        if fw == src.conv.framework and not mine:
            continue
        lines.append(f"{fw}:")
        if not mine:
            lines.append(f"  no equivalent: no {fw} API implements the {src.call.family} rule")
        elif not any(t.equivalent for t in mine):
            lines.append("  no setting reproduces it")
        for t in mine:
            mark = "  = " if t.equivalent else "  ≈ " if t.nearest else "  ≠ not "
            lines.append(f"{mark}{t.text()}" + (f"  [{t.why}]" if t.why else ""))
            lines += [f"      {line}" for line in target_schedule_lines(t)]
            lines += [f"      {t.nearest}"] if t.nearest else []
            lines += [f"      caveat: {c}" for c in t.caveats]
    return "\n".join(lines)


def _update_frameworks() -> list[str]:
    """The frameworks with at least one optimizer API, in the adapters' order."""
    table = adapters.conventions().values()
    return [fw for fw in adapters.frameworks() if any(c.framework == fw and c.optimizers for c in table)]


def command(api: str, pairs: list[str], family: str | None = None, scheduler: str | None = None) -> str:
    """The text ``regcompare translate`` prints; ``TranslateError`` for an unknown API or argument."""
    src = parsed_source(api, pairs, family, scheduler)
    return render(src, translations(src))


def parsed_source(api: str, pairs: list[str], family: str | None = None, scheduler: str | None = None) -> Source:
    """The command line's source call, checked: real keywords mapped, impossible values refused. ``api`` may be a
    whole call, ``torch.optim.AdamW(lr=1e-3, weight_decay=0.01)``, its arguments before the ``pairs``;
    ``scheduler`` (``--scheduler "StepLR(step_size=10, gamma=0.5)"``) is the source framework's lr scheduler on it."""
    api, inline = split_call(api)
    pairs = inline + list(pairs)
    try:
        src = source(*real_keywords(api, parse_args(pairs)), family)
    except TranslateError:
        raise
    except ValueError as exc:  # includes the registry's own "has no argument" message
        raise TranslateError(str(exc)) from None
    validate(src)
    return with_scheduler(src, scheduler) if scheduler else src


# --- learning-rate schedulers (``--scheduler``): the registry's schedule records (conventions/schedule_records) -------
#
# The source's scheduler class is read back into the canonical schedule (``ScheduleClass.read``); each target gets
# its framework's class for it, with the boundaries that give the same lrs. A target is not equivalent where its
# scheduled update differs: no class for the schedule, SGD momentum that keeps the lr inside (Keras), or decoupled
# decay that does not follow the scheduled lr (``Convention.decay_follows_lr``). How each framework steps its
# schedule (scheduler.step() calls or optimizer iterations) is stated for every target.


def parse_scheduler(text: str) -> tuple[str, dict[str, Any]]:
    """``StepLR(step_size=10, gamma=0.5)`` (a dotted name, keyword arguments of literal values; torch's leading
    ``optimizer`` may be written) → the class's last name and its arguments."""
    expected = f"--scheduler {text!r}: expected a call such as 'StepLR(step_size=10, gamma=0.5)'"
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise TranslateError(expected) from None
    if not isinstance(tree, ast.Call) or any(k.arg is None for k in tree.keywords):
        raise TranslateError(expected)
    if [a for a in tree.args if not (isinstance(a, ast.Name) and a.id == "optimizer")]:
        raise TranslateError(f"--scheduler {text!r}: give the arguments by name (step_size=10)")
    try:
        native = {str(k.arg): ast.literal_eval(k.value) for k in tree.keywords}
    except ValueError:
        raise TranslateError(f"--scheduler {text!r}: arguments must be numbers, lists of numbers or booleans") from None
    return ast.unparse(tree.func).rsplit(".", 1)[-1], native


def with_scheduler(src: Source, text: str) -> Source:
    """The source with the canonical schedule of its framework's scheduler class ``text`` (lr included: Keras and
    paddle classes carry it), checked by the case format's own schedule model."""
    name, native = parse_scheduler(text)
    framework = schedules.classes_framework(src.conv.framework)
    candidates = [c for c in schedule_records.classes(framework) if c.api.rsplit(".", 1)[1] == name]
    if not candidates:
        known = sorted({c.api.rsplit(".", 1)[1] for c in schedule_records.classes(framework)})
        raise TranslateError(f"--scheduler: translate knows the {src.conv.framework} scheduler classes "
                             f"{', '.join(known) or '(none)'}, not {name!r}")
    errors = []
    for found in candidates:  # Keras ExponentialDecay is the step schedule with staircase=True, else exponential
        try:
            spec, lr = found.read(native, float(src.settings["lr"]))
        except schedule_records.ScheduleReadError as exc:
            errors.append(str(exc))
            continue
        try:
            checked = TypeAdapter(ScheduleSpec).validate_python(spec).model_dump(exclude={"weight_decay"})
        except ValidationError as exc:
            raise TranslateError(f"--scheduler {text!r}: {exc.errors()[0]['msg']} (as the schedule {spec})") from None
        return replace(src, settings=src.settings | {"lr": lr, "schedule": checked})
    raise TranslateError(f"--scheduler {text!r}: {'; '.join(errors)}")


def scheduled(src: Source, t: Translation) -> Translation:
    """A translation with the source's schedule in its framework's class, or why its scheduled update differs."""
    spec = src.settings.get("schedule")
    if not isinstance(spec, dict):
        return t
    found = schedules.scheduler(t.framework, spec)
    if found is None:
        return replace(t, equivalent=False, nearest="",
                       why=f"no {t.framework} scheduler class for the {spec['name']} schedule in the registry")
    own = {k: v for k, v in schedules.semantics(t.framework, t.call.family, src.settings)[0].items()
           if k not in dict(found.options)}
    theirs = {k: v for k, v in schedules.semantics(src.conv.framework, src.call.family, src.settings)[0].items()
              if k not in dict(_source_class(src).options)}
    caveats = [stepping_caveat(src.conv.framework, t.framework)] if t.equivalent else []
    why = t.why
    if own != theirs:
        why = "; ".join(filter(None, [why, "under a schedule: " + schedules.KERAS_MOMENTUM_WHY]))
    decay = _decay_follows(src, t.conv)
    if decay.startswith("no equivalent"):
        why = "; ".join(filter(None, [why, decay]))
    elif decay and t.equivalent and t.conv.coupling == "decoupled":
        caveats.append(decay)
    if found.boundary_shift and t.equivalent:
        caveats.append(f"{found.why}: boundaries {found.boundary_shift:+d} give the source's lrs")
    if why != t.why:  # equivalent without the schedule, not with it: the caveats of an equivalent setting go
        return replace(t, schedule=found.translated(spec), equivalent=False, why=why, caveats=(), nearest="")
    return replace(t, schedule=found.translated(spec), caveats=t.caveats + tuple(caveats))


def _source_class(src: Source) -> schedule_records.ScheduleClass:
    found = schedules.scheduler(src.conv.framework, src.settings["schedule"])  # type: ignore[arg-type]
    assert found is not None, "with_scheduler read it from this framework's classes"
    return found


def _decay_follows(src: Source, target: Convention) -> str:
    """Whether decoupled decay follows the scheduled lr in the target as in the source (records:
    ``decay_follows_lr``); '' where neither side decouples it."""
    if "decoupled" not in (src.conv.coupling, target.coupling) or src.reg.l2 == 0:
        return ""
    follows = {c.api: (c.decay_follows_lr if c.coupling == "decoupled" else True) for c in (src.conv, target)}
    if follows[src.conv.api] != follows[target.api]:
        scaled, fixed = "w ← w − lr(k)·λ·w (scaled by the scheduled lr)", "w ← w − lr₀·λ·w (not scaled)"
        mine, other = (scaled, fixed) if follows[target.api] else (fixed, scaled)
        return f"no equivalent: the target's decoupled decay is {mine}, the source's {other}"
    return "weight decay follows the scheduled lr in both: w ← w − lr(k)·λ·w (records: decay_follows_lr)"


def stepping_caveat(source: str, target: str) -> str:
    """How the target steps its schedule against the source (schedule_records.STEPPING)."""
    mine = schedule_records.STEPPING[schedules.classes_framework(target)]
    theirs = schedule_records.STEPPING[schedules.classes_framework(source)]
    if mine.counts == theirs.counts:
        return f"stepped as the source: by {mine.counts} ({mine.source})"
    return (f"stepped by {mine.counts} ({mine.source}), the source by {theirs.counts}: the same lrs when "
            f"scheduler.step() follows every optimizer.step(); if it runs once per epoch, multiply step_size, t_max, "
            f"warmup_steps and boundaries by the iterations per epoch")


def schedule_lines(src: Source) -> list[str]:
    """The source's schedule under its canonical line."""
    spec = src.settings.get("schedule")
    if not isinstance(spec, dict):
        return []
    stepping = schedule_records.STEPPING[schedules.classes_framework(src.conv.framework)]
    canonical = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
    return [f"  schedule: {spec['name']} ({canonical}) on lr={_text(src.settings['lr'])}: "
            f"{schedules.text(src.conv.framework, spec, float(src.settings['lr']), code=True)}, stepped by "
            f"{stepping.counts}"]


def target_schedule_lines(t: Translation) -> list[str]:
    """The target's scheduler class as the optimizer takes it."""
    if t.schedule is None:
        return []
    stepping = schedule_records.STEPPING[schedules.classes_framework(t.framework)]
    lr = float(t.args.get(next(h.name for h in t.call.hypers if h.key == "lr"), 0.0))
    return ["with " + stepping.takes.format(scheduler=schedules.text(t.framework, t.schedule, lr, code=True))]


def source_schedule_lines(src: Source) -> list[str]:
    """The source's own scheduler class as its optimizer takes it (the source line of its framework)."""
    spec = src.settings.get("schedule")
    if not isinstance(spec, dict):
        return []
    stepping = schedule_records.STEPPING[schedules.classes_framework(src.conv.framework)]
    text = schedules.text(src.conv.framework, spec, float(src.settings["lr"]), code=True)
    return ["with " + stepping.takes.format(scheduler=text)]
