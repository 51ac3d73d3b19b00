"""``make trust``: how far regcompare's verdicts can be trusted, measured on the real frameworks.

1. **False alarms.** Generated cases over every update rule of ``regcompare.rules.NAMES``, every dtype, odd sizes up
   to 10⁴ elements and 1–100 steps, plus penalty/gradient cases, run through ``regcompare.engine`` on every
   installed framework. A false alarm is a ``mismatch`` or ``error`` row that no built-in finding explains: each
   one is printed, to be inspected and then fixed in the error model or registered as a finding with its reason.
2. **Detection.** The same kind of cases through a test adapter with injected faults (``bench/faults``: ×2 decay,
   decay after the momentum, a skipped block of 16 elements, +1 ULP per step over 100 steps, ε in the wrong
   place), every dtype: a fault is caught when its row is a ``mismatch``.

Prints both tables, writes ``reports/trust.json``, and exits 1 if any false alarm is unexplained or any fault is
missed. ``--quick`` runs a quarter of the cases; ``--seed`` picks another draw.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
FAULTS_DIR = Path(__file__).resolve().parent / "faults"
sys.path.insert(0, str(ROOT))

from regcompare import adapters, engine, rules  # noqa: E402
from regcompare.cases import load_cases  # noqa: E402
from regcompare.conventions.findings import Finding  # noqa: E402
from regcompare.dtypes import DTYPES  # noqa: E402
from regcompare.workers import WorkerPool  # noqa: E402

FRAMEWORKS = tuple(fw for fw in ("numpy", "torch", "tensorflow", "paddle") if importlib.util.find_spec(fw))
FAULTS = ("scale2", "decay_after", "skip16", "ulp_drift", "eps_placement")


def _size(rng: np.random.Generator, matrix: bool = False) -> list[int]:
    """An odd shape of up to 10⁴ elements: a vector or a matrix with an odd number of columns (``matrix``: always a
    matrix, for Muon, which updates 2-D weights only)."""
    n = int(rng.integers(1, 10_001))
    if not matrix and (rng.random() < 0.5 or n < 9):
        return [n]
    n = max(n, 9)
    cols = int(rng.choice([3, 7, 33, 67]))
    return [max(1, n // cols), cols]


def _optimizer(rule: str, rng: np.random.Generator) -> dict[str, Any]:
    if rule == "sgd":
        momentum = float(rng.choice([0.0, 0.9]))
        return {"name": "sgd", "lr": float(rng.choice([0.01, 0.05, 0.1])), "momentum": momentum,
                "nesterov": bool(momentum and rng.random() < 0.3)}
    if rule in ("adam", "adamw"):
        return {"name": rule, "lr": float(rng.choice([1e-3, 1e-2])), "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    # A rule that lands later: its defaults, with a moderate learning rate where it has one.
    keys = {s.key for s in rules.settings_of(rule)}
    return {"name": rule, **({"lr": 0.01} if "lr" in keys else {})}


def _case(name: str, body: dict[str, Any]) -> str:
    return yaml.safe_dump({"name": name, **body}, sort_keys=False)


def update_cases(rng: np.random.Generator, per_rule: int) -> list[tuple[str, str]]:
    out = []
    for rule in rules.NAMES:
        for i in range(per_rule):
            shape = _size(rng, matrix=rule == "muon")
            l2 = float(rng.choice([5e-4, 1e-2, 0.1]))
            body = {
                "weights": {"w": {"shape": shape, "init": "normal", "seed": int(rng.integers(1 << 30)), "scale": 1.0}},
                "grads": {"w": {"shape": shape, "init": "normal", "seed": int(rng.integers(1 << 30)), "scale": 1.0}},
                "dtypes": list(DTYPES), "regularizers": [{"l2": l2}], "quantities": ["update"],
                "optimizer": _optimizer(rule, rng), "steps": int(rng.integers(1, 101)),
            }
            out.append((f"trust-{rule}-{i}", _case(f"trust-{rule}-{i}", body)))
    return out


def penalty_cases(rng: np.random.Generator, count: int) -> list[tuple[str, str]]:
    out = []
    for i in range(count):
        shape = _size(rng)
        reg = [{"l2": float(rng.choice([5e-4, 1e-2, 3.0]))}, {"l1": 0.01, "l2": 0.01}]
        body = {"weights": {"w": {"shape": shape, "init": "normal", "seed": int(rng.integers(1 << 30)), "scale": 1.0}},
                "dtypes": list(DTYPES), "regularizers": reg, "quantities": ["penalty", "gradient"]}
        out.append((f"trust-penalty-{i}", _case(f"trust-penalty-{i}", body)))
    return out


#: Which faults each kind of detection case is for: each fault is injected where it is material. ``none``, the
#: same implementation with no fault, runs on every kind of case: it must match, or a "caught" fault proves
#: nothing.
CONTROL = "none"
FAULT_CASES = {
    "decay": ("scale2", "decay_after", "skip16", CONTROL),
    "drift": ("ulp_drift", CONTROL),
    "eps": ("eps_placement", CONTROL),
}


def _fault_steps(kind: str, rng: np.random.Generator) -> int:
    """100 for the drift (it compounds), 1–20 for ε (its place shows early: ``fault_cases``), else 1–100."""
    if kind == "drift":
        return 100
    return int(rng.integers(1, 21 if kind == "eps" else 101))


def fault_cases(rng: np.random.Generator, per_rule: int) -> list[tuple[str, str]]:
    """Cases where each fault is material (``FAULT_CASES``): ``decay`` has a decay of 0.5 (a doubled 5e-4 is
    below bfloat16's resolution) and SGD with momentum (decay after plain SGD is the same update); ``drift`` runs
    100 steps with a decay of 5e-4 (a strong decay pulls a drift back instead of letting it compound); ``eps``
    has gradients of 1e-8 and a decay of 1e-9 (below the gradient: with 1e-7 the decay term ~1e-7·w sets √v̂,
    ten times ε), so √v̂ is near ε = 1e-8, and 1–20 steps: ε on √v is ε/√(1 − β₂ᵗ) on √v̂ — 31.6ε at step 1,
    10ε at step 10, 3.2ε at step 100 — so its place shows in the first steps, while after ~10 steps of lr 0.1
    the weights have crossed zero and oscillate, where a bfloat16 band of 2 eps of the starting value (1.6%)
    covers what is left (the two misses of 95-step bfloat16 runs). float16 has gradients of 0.1 and ε = 0.1: its
    v = (1 − β₂)·g² must stay above float16's subnormals (a gradient of 1e-8 or 1e-6 underflows v to 0, and every
    implementation divides by ε alone). Adam runs with lr 0.1: at 0.01 a bfloat16 weight near 1 (ULP 0.0078)
    cannot resolve Adam's steps of ~lr, and a correct implementation's rounding is then as large as any fault."""
    out = []
    # kind, decay, gradient scale, momentum, dtypes, name suffix, Adam's ε
    kinds = (("decay", 0.5, 1.0, 0.9, list(DTYPES), "", 1e-8), ("drift", 5e-4, 1.0, 0.0, list(DTYPES), "", 1e-8),
             ("eps", 1e-9, 1e-8, 0.0, [d for d in DTYPES if d != "float16"], "", 1e-8),
             ("eps", 1e-9, 0.1, 0.0, ["float16"], "-16", 0.1))
    for rule in ("sgd", "adam"):
        for i in range(per_rule):
            for kind, l2, grad_scale, momentum, dtypes, suffix, eps in kinds:
                if rule == "sgd" and kind == "eps":
                    continue
                shape = _size(rng)
                opt = ({"name": "sgd", "lr": 0.05, "momentum": momentum} if rule == "sgd"
                       else {"name": "adam", "lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": eps})
                seeds = rng.integers(1 << 30, size=2)
                body = {
                    "weights": {"w": {"shape": shape, "init": "normal", "seed": int(seeds[0]), "scale": 1.0}},
                    "grads": {"w": {"shape": shape, "init": "normal", "seed": int(seeds[1]), "scale": grad_scale}},
                    "dtypes": dtypes, "regularizers": [{"l2": l2}], "quantities": ["update"],
                    "optimizer": opt, "steps": _fault_steps(kind, rng),
                }
                name = f"fault-{kind}-{rule}-{i}{suffix}"
                out.append((name, _case(name, body)))
    return out


def _write(folder: Path, cases: list[tuple[str, str]]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in cases:
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    return paths


def _progress(framework: str, done: int, total: int) -> None:
    if done == total or done % max(1, total // 5) == 0:
        print(f"  {framework}: {done}/{total}", file=sys.stderr, flush=True)


def _run(paths: list[str], frameworks: tuple[str, ...]) -> engine.Run:
    pool = WorkerPool(task_timeout=600)
    try:
        return engine.run(load_cases(paths), frameworks, pool, _progress)
    finally:
        pool.close()


#: Generated update cases per rule: 2 × 17 rules (and 14 penalty/gradient cases) are a few thousand rows on four
#: frameworks (docs/error-model.md has the figures and the time); ``--per-rule`` sets another count.
PER_RULE = 2


#: Real defects the generated cases find, which a user's run must keep failing on (so not built-in findings): counted
#: apart from false alarms. Each is shown by a shipped case with its ``known`` entry.
REAL_DEFECTS = (
    Finding(
        "torch-fused-sgd-skips-blocks", "defect",
        "torch 2.13's fused CPU SGD in float16/bfloat16 leaves whole vector blocks un-updated",
        "cases/optimizers/sgd_fused_blocks.yaml; aten/src/ATen/native/cpu/FusedSGDKernel.cpp",
        status="mismatch", framework="torch", optimizer="torch.optim.SGD(*fused=True*", quantities=("update",),
        dtypes=("float16", "bfloat16"),
    ),
    Finding(
        "paddle-lbfgs-ignores-weight-decay", "defect",
        "paddle.optimizer.LBFGS accepts weight_decay (documented as L2 regularization) and ignores it: its weights "
        "are those of no decay at all",
        "cases/optimizers/lbfgs.yaml; paddle/optimizer/lbfgs.py (LBFGS.step reads p.grad through "
        "_gather_flat_grad and never calls Optimizer._create_regularization_of_grad)",
        status="mismatch", framework="paddle", api="paddle.optimizer.LBFGS", quantities=("update",),
    ),
    Finding(
        "torch-lbfgs-bfloat16-unstable", "defect",
        "torch's LBFGS runs off in bfloat16: its scalars (y·s, ρ, H_diag, α, β) are bfloat16 0-dim tensors and a "
        "curvature pair is kept when y·s > 1e-10, so pairs whose y is the gradient's rounding steer the direction "
        "(a numpy emulation of the same bfloat16 arithmetic runs off too)",
        "cases/optimizers/lbfgs_bfloat16.yaml; torch/optim/lbfgs.py (LBFGS.step)",
        status="mismatch", framework="torch", api="torch.optim.LBFGS*", quantities=("update",),
        dtypes=("bfloat16",),
    ),
)


def false_alarms(tmp: Path, rng: np.random.Generator, scale: float, per_rule: int = PER_RULE,
                 only_rules: tuple[str, ...] = ()) -> dict[str, Any]:
    cases = update_cases(rng, max(1, round(per_rule * scale))) + penalty_cases(rng, max(1, round(14 * scale)))
    if only_rules:  # filtered after the draw, so each kept case is the one the whole run generates
        cases = [c for c in cases if c[0].split("-")[1] in only_rules]
    started = time.monotonic()
    result = _run(_write(tmp / "alarms", cases), FRAMEWORKS)
    failing = [r for r in result.rows if r["status"] in ("mismatch", "error") and not r["known"]]
    real = Counter(d.id for r in failing for d in REAL_DEFECTS if d.explains(r))
    alarms = [r for r in failing if not any(d.explains(r) for d in REAL_DEFECTS)]
    explained = Counter(r["finding"] for r in result.rows if r.get("finding") and r["known"])
    # Precision findings explain nothing away: they widen a band, and the row is judged as usual. Counted apart:
    # the rows they select, and those their widening took from mismatch to the row's own verdict.
    # By the band's own record: a defect finding may have put its id on a row a precision finding widened.
    widened = Counter(r["tolerance"]["finding"] for r in result.rows if (r.get("tolerance") or {}).get("finding"))
    needed = Counter(r["tolerance"]["finding"] for r in result.rows
                     if (r.get("tolerance") or {}).get("without") == "mismatch" and r["status"] != "mismatch")
    print(f"\n## False alarms: {len(alarms)} unexplained, of {len(result.rows):,} rows "
          f"({len(cases)} cases, {time.monotonic() - started:.0f} s)\n")
    print("| status | rows |\n|---|---|")
    for status, n in result.summary.items():
        print(f"| {status} | {n:,} |")
    print("\n| real defect (fails a user's run, as it must) | rows |\n|---|---|")
    for fid, n in real.most_common():
        print(f"| {fid} | {n} |")
    print("\n| defect finding | rows it explains |\n|---|---|")
    for fid, n in explained.most_common():
        print(f"| {fid} | {n} |")
    print("\n| precision finding | rows it widens | of which a mismatch in the row's own band |\n|---|---|---|")
    for fid, n in widened.most_common():
        print(f"| {fid} | {n} | {needed[fid]} |")
    for r in alarms:
        print(f"FALSE ALARM {r['case']} {r['framework']} {r['api']} {r['quantity']} {r['dtype']} "
              f"{r.get('optimizer') or ''}: {r['detail']}")
    return {"rows": len(result.rows), "cases": len(cases), "summary": result.summary,
            "unexplained": len(alarms), "real_defects": dict(real), "explained_by": dict(explained),
            "widened_by": dict(widened),
            "widening_needed": dict(needed),
            "alarms": [{k: r.get(k) for k in ("case", "framework", "api", "quantity", "dtype", "detail")}
                       for r in alarms]}


def _use_fault_adapter() -> None:
    """bench/faults on the path of this process and of the workers: the entry point registers ``faults``."""
    sys.path.insert(0, str(FAULTS_DIR))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(FAULTS_DIR), str(ROOT), os.environ.get("PYTHONPATH", "")])
    adapters.specs.cache_clear()
    adapters.conventions.cache_clear()


def detection(tmp: Path, rng: np.random.Generator, scale: float) -> dict[str, Any]:
    _use_fault_adapter()
    cases = fault_cases(rng, max(1, round(4 * scale)))
    result = _run(_write(tmp / "faults", cases), ("faults",))
    table: dict[str, dict[str, list[int]]] = {f: {d: [0, 0] for d in DTYPES} for f in (*FAULTS, CONTROL)}
    missed, control_alarms = [], []
    for r in result.rows:
        fault = r["api"].split(".", 1)[1]
        if fault not in FAULT_CASES[r["case"].split("-")[1]]:
            continue  # this case is not made for this fault
        cell = table[fault][r["dtype"]]
        cell[1] += 1
        if fault == CONTROL:  # a correct implementation: counted when it matches
            cell[0] += r["status"] == "match"
            if r["status"] != "match":
                control_alarms.append(r)
        elif r["status"] == "mismatch":
            cell[0] += 1
        else:
            missed.append(r)
    print("\n## Detection: injected faults caught (mismatch) / rows; the control without a fault: match / rows\n")
    print("| fault | " + " | ".join(DTYPES) + " |\n|---|" + "---|" * len(DTYPES))
    for fault, cells in table.items():
        print(f"| {fault} | " + " | ".join(f"{c}/{n}" for c, n in cells.values()) + " |")
    for r in missed:
        print(f"MISSED {r['case']} {r['api']} {r['dtype']} steps {r['steps']}: {r['status']}: {r['detail']}")
    for r in control_alarms:
        print(f"CONTROL NOT A MATCH {r['case']} {r['api']} {r['dtype']} steps {r['steps']}: {r['status']}: "
              f"{r['detail']}")
    faults = [f for f in table if f != CONTROL]
    return {"table": table, "missed": len(missed), "control_alarms": len(control_alarms),
            "rows": sum(n for f in faults for _, n in table[f].values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the cases")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", default=str(ROOT / "reports" / "trust.json"))
    parser.add_argument("--only", choices=["alarms", "faults"], help="run one half only")
    parser.add_argument("--per-rule", type=int, default=PER_RULE, help="generated update cases per rule")
    parser.add_argument("--rules", default="", help="comma-separated rules (or 'penalty') whose generated cases run, "
                        "the same cases as in the whole run (to inspect a subset of false alarms)")
    args = parser.parse_args(argv)
    scale = 0.25 if args.quick else 1.0
    print(f"rules: {', '.join(rules.NAMES)}; dtypes: {', '.join(DTYPES)}; frameworks: {', '.join(FRAMEWORKS)}")
    report: dict[str, Any] = {"rules": list(rules.NAMES), "frameworks": list(FRAMEWORKS), "seed": args.seed}
    with tempfile.TemporaryDirectory(prefix="regcompare-trust-") as tmp:
        if args.only != "faults":
            report["false_alarms"] = false_alarms(Path(tmp), np.random.default_rng(args.seed), scale, args.per_rule,
                                                  tuple(r for r in args.rules.split(",") if r))
        if args.only != "alarms":
            report["detection"] = detection(Path(tmp), np.random.default_rng(args.seed + 1), scale)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    found = report.get("detection", {})
    bad = report.get("false_alarms", {}).get("unexplained", 0) + found.get("missed", 0) + found.get("control_alarms", 0)
    print(f"\nwritten {args.out}; {'FAILED' if bad else 'PASSED'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
