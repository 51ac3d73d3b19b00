"""The framework-vs-framework view: relations between two APIs' results for the same canonical setting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from regcompare import pairwise, report
from tests.conftest import run_cli
from tests.test_report import Page, make_row

SGD = "torch.optim.SGD(lr=0.1, momentum=0.9, dampening=0, nesterov=False)"


def update_row(framework: str, api: str, native: dict[str, float], raw: list[float] | None, status: str = "match",
               coupling: str = "coupled", **extra: Any) -> dict[str, Any]:
    return make_row("c", framework, api, status, quantity="update", tensor="w", native=native, raw=raw,
                    reconciled=raw, reference=[0.9, 1.8], regularizer={"l1": 0.0, "l2": 0.1}, coupling=coupling,
                    optimizer=SGD if framework == "torch" else "", **extra)


def rows() -> list[dict[str, Any]]:
    return [
        update_row("torch", "torch.optim.SGD", {"weight_decay": 0.1}, [0.9, 1.8]),
        # Keras spells canonical l2 = 0.1 as L2(l2=0.05): the same weights, half the number
        update_row("tensorflow", "keras.regularizers.L2", {"l2": 0.05}, [0.9, 1.8], coupling="penalty"),
        update_row("tensorflow", "keras.optimizers.SGD", {"weight_decay": 0.1}, [0.85, 1.7], "divergent",
                   coupling="decoupled"),
        # one float32 ulp away at 0.9 (2**-24 · 0.9 ≈ 5.4e-8 relative): within the float32 tolerance
        update_row("paddle", "paddle.regularizer.L2Decay", {"coeff": 0.1}, [0.90000004, 1.8]),
        update_row("paddle", "paddle.optimizer.SGD", {"weight_decay": 0.1}, None, "error"),
    ]


def test_relations_and_coefficient_factor() -> None:
    (setting,) = pairwise.settings(rows())
    assert setting.frameworks == ["torch", "tensorflow", "paddle"]
    assert setting.dtype == "float32"
    torch_tf = {(p.a.api, p.b.api): p for p in setting.pairs("torch", "tensorflow")}
    same = torch_tf[("torch.optim.SGD", "keras.regularizers.L2")]
    assert same.relation == "same" and same.factor == 0.5  # 0.05 / 0.1
    assert torch_tf[("torch.optim.SGD", "keras.optimizers.SGD")].relation == "coupled vs decoupled"
    torch_paddle = {p.b.api: p for p in setting.pairs("torch", "paddle")}
    assert torch_paddle["paddle.regularizer.L2Decay"].relation == "same up to rounding"
    assert torch_paddle["paddle.regularizer.L2Decay"].factor is None  # coeff=0.1 and weight_decay=0.1
    assert torch_paddle["paddle.optimizer.SGD"].relation == "not comparable"
    cell = setting.cell("torch", "tensorflow")
    assert cell.verdict == "coupled vs decoupled"
    assert cell.text() == "coupled vs decoupled 1/2"
    assert cell.factors() == ["L2(l2=0.05) ≙ SGD(weight_decay=0.1): ×0.5"]
    assert setting.cell("torch", "paddle").text() == "same up to rounding"
    assert not setting.agrees


def test_precedence_pairs() -> None:
    placed = {"scope": ["b"], "param": {"api": "paddle.ParamAttr.L2Decay", "native": {"coeff": 0.5}, "scope": ["w"]}}
    a = update_row("torch", "torch.optim.SGD", {"weight_decay": 0.1}, [0.9, 1.8], **placed)
    b = update_row("paddle", "paddle.optimizer.SGD", {"weight_decay": 0.1}, [0.95, 1.9], "divergent",
                   documented_reference=[0.95, 1.9], **placed)
    (setting,) = pairwise.settings([a, b])
    assert setting.placement == "[b] + param l2=0.5 on [w]"
    assert setting.cell("torch", "paddle").verdict == "precedence"


def test_translate_gives_the_native_settings() -> None:
    """The update's translation comes from `regcompare translate`, the same text the command prints."""
    (setting,) = pairwise.settings(rows())
    by_fw = {}
    for fw, text in setting.translation[1:]:
        by_fw.setdefault(fw, []).append(text)
    assert setting.translation[0] == ("torch", f"torch.optim.SGD(weight_decay=0.1) with {SGD}")
    assert any(t.startswith("= keras.regularizers.L2(l2=0.05) as each layer's kernel_regularizer")
               for t in by_fw["tensorflow"])
    assert any(t.startswith("≠ keras.optimizers.SGD(weight_decay=0.1") for t in by_fw["tensorflow"])
    printed = run_cli("translate", "torch.optim.SGD", "weight_decay=0.1", "lr=0.1", "momentum=0.9").stdout
    assert "keras.regularizers.L2(l2=0.05) as each layer's kernel_regularizer" in printed


def test_page_has_the_view_and_stays_bounded() -> None:
    html = report.to_html({"schema": 1, "environment": _env(), "summary": {}, "known": {}, "rows": rows()}, {})
    page = Page(html)
    assert 'id="pairwise"' in html and "coupled vs decoupled 1/2" in html
    assert any(t for t in page.ids if t.startswith("pw-c-update-l2-0.1"))
    many = [dict(r, case=f"c{i}") for i in range(report.PAIRWISE_CAP + 30) for r in rows()]
    html = report.to_html({"schema": 1, "environment": _env(), "summary": {}, "known": {}, "rows": many}, {})
    assert html.count('class="pw-setting"') == report.PAIRWISE_CAP
    assert f"Where frameworks differ ({report.PAIRWISE_CAP + 30}, the first {report.PAIRWISE_CAP} shown)" in html


def _env() -> dict[str, Any]:
    return {"python": "3.11", "platform": "x", "regcompare": "0", "frameworks": {}}


def test_real_frameworks_momentum(tmp_path: Path) -> None:
    """torch and Keras, SGD with momentum: Keras' weight_decay is decoupled, its L2(l2/2) regularizer equal."""
    case = tmp_path / "momentum.yaml"
    case.write_text("name: momentum\nweights: {w: [[1, -2], [-3, 4]]}\ndtypes: [float32]\n"
                    "regularizers: [{l2: 0.5}]\nquantities: [update]\noptimizer: {name: sgd, lr: 0.1, momentum: 0.9}\n"
                    "grads: {w: ones}\nsteps: 3\nframeworks: [torch, tensorflow]\n", encoding="utf-8")
    done = run_cli("run", str(case), "--frameworks", "torch,tensorflow", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    (setting,) = pairwise.settings(doc["rows"])
    pairs = {(p.a.api, p.b.api): p for p in setting.pairs("torch", "tensorflow")}
    kernel = pairs[("torch.optim.SGD", "keras.regularizers.L2")]
    assert kernel.relation in ("same", "same up to rounding") and kernel.factor == 0.5
    assert pairs[("torch.optim.SGD", "keras.optimizers.SGD")].relation == "coupled vs decoupled"


def _entry(framework: str, api: str, values: dict[str | None, Any], tolerance: dict[str, float] | None) -> Any:
    return pairwise.Entry(framework, api, {}, "match", "coupled", values=values, tolerance=tolerance)


def test_agrees_at_once_is_agrees_pair_by_pair() -> None:
    """``agrees`` compares a setting's pairs in one numpy pass; every pair's ``relate`` must give the same answer,
    for values one band apart on either side (isclose's band scales with the second value: the orientation
    matters), NaN, ±inf, overflow, a missing value, other tensors, another shape and tolerances that differ."""
    import numpy as np

    rng = np.random.default_rng(19)
    specials = [np.nan, np.inf, -np.inf, 0.0, 1e308, -1e308]
    bands = [None, {"rtol": 1e-6, "atol": 1e-6}, {"rtol": 1e-3, "atol": 0.0}, {"rtol": 0.0, "atol": 0.5},
             {"rtol": 1e-5, "atol": 1e-300}]
    decided_at_once, agreeing = 0, 0
    for trial in range(3000):
        base = rng.normal(size=3)
        entries = []
        for i in range(int(rng.integers(2, 6))):
            framework = ["numpy", "torch", "tensorflow", "paddle"][int(rng.integers(0, 4))]
            tolerance = bands[int(rng.integers(0, len(bands)))]
            scale = float(rng.choice([0.0, 1e-7, 1e-6, 1e-4, 1e-3, 0.1, 1.0]))
            value = base * (1 + scale * rng.choice([-1.0, 1.0], size=3)) + scale * rng.normal(size=3) * (trial % 2)
            if rng.random() < 0.15:
                value[int(rng.integers(0, 3))] = specials[int(rng.integers(0, len(specials)))]
            values: dict[str | None, Any] = {"w": value.copy(), None: np.float64(value.sum())}
            shape = rng.random()
            if shape < 0.05:
                values = {"w": None}
            elif shape < 0.08:
                values = {"w": value[:2].copy()}
            elif shape < 0.1:
                values = {"b": value.copy()}
            entries.append(_entry(framework, f"api{i}", values, tolerance))
        setting = pairwise.Setting("c", "update", {"l2": 0.1}, "", "float64", entries)
        at_once = pairwise._all_close(entries)
        decided_at_once += at_once is not None
        agreeing += setting.agrees
        assert setting.agrees == setting.agrees_pair_by_pair(), [(e.framework, e.values, e.tolerance) for e in entries]
    assert decided_at_once > 2000 and 300 < agreeing < 2700  # both ways taken, both answers common
