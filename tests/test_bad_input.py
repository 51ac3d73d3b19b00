"""Bad input (wrong types and names) is refused with file:line: key; edge input that is valid (zero-size
tensors, NaN and inf) runs and propagates. The loader's own error cases are in test_cases.py."""

from __future__ import annotations

import pytest

from regcompare import engine
from regcompare.cases import CaseError, load_case, load_cases
from regcompare.workers import WorkerPool


def assert_refused(path: str, expected: str) -> None:
    """Loading ``path`` fails, and one of its problems says ``expected``."""
    with pytest.raises(CaseError) as info:
        load_case(path)
    assert any(expected in str(p) for p in info.value.problems), info.value.problems


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool()
    yield pool
    pool.close()


def test_zero_size_tensors_are_valid_penalty_zero_gradient_empty(write_case, pool) -> None:
    path = write_case("weights: {e: {shape: [0, 3], fill: 1.0}}\nregularizers: [{l1: 0.5, l2: 1.0}]\n")
    result = engine.run(load_cases([path]), ("numpy", "torch"), pool)
    assert {r["status"] for r in result.rows} == {"match"}
    assert {r["raw"] if r["quantity"] == "penalty" else None for r in result.rows} >= {0.0}
    assert next(r["raw"] for r in result.rows if r["quantity"] == "gradient") == []


def test_nan_and_inf_in_weights_propagate(write_case, pool) -> None:
    path = write_case("weights: {w: [.nan, .inf, 1.0]}\nregularizers: [{l2: 1.0}]\nquantities: [penalty]\n")
    result = engine.run(load_cases([path]), ("numpy", "torch"), pool)
    assert {r["raw"] for r in result.rows} == {"NaN"} and {r["status"] for r in result.rows} == {"match"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weights: 5\nregularizers: [{l2: 1}]\n", ":1: weights: expected a mapping, got int"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\ndtypes: float32\n", ":3: dtypes: input should be a valid list"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\nsteps: 1.5\n", ":3: steps: input should be a valid integer"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\noptimizer: {name: rmsprob}\n", ":3: optimizer: unknown name 'rmsprob'"),
        ("weights: {w: {shape: [2], fill: 1}}\nregularizers: [{l2: 1}]\ngrads: {v: ones}\n", ":3: grads.v: no weight named 'v'"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\nknown: [{status: mismatch}]\n", ":3: known[0].reason: missing required key"),
        ("weights: {w: [1]}\nregularizers: [{l2: true}]\n", ":2: regularizers[0].l2: input should be a valid number"),
    ],
)
def test_wrong_types_and_names(write_case, text: str, expected: str) -> None:
    assert_refused(write_case(text), expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weights: {w: [1, 2]}\nregularizers: [{l2: 1}]\nquantities: [penalty, update]\n",
         ":3: quantities[1]: `update` needs an `optimizer`"),
        ("weights: {w: [1, 2]}\nregularizers: [{l2: 1}]\noptimizer: {name: sgd}\ngrads:\n  w: [1, 2, 3]\n",
         ":5: grads.w: shape [3] where weights.w has shape [2]"),
    ],
)
def test_update_inputs_are_checked_at_load_time(write_case, text: str, expected: str) -> None:
    assert_refused(write_case(text), expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weights: {w: [1, 2]}\noptimizer: {name: sgd}\nquantities: [update]\nregularizers:\n  - {l2: 1, scope: [v]}\n",
         ":5: regularizers[0].scope[0]: no weight named 'v'"),
        ("weights: {w: [1, 2]}\noptimizer: {name: sgd}\nquantities: [update]\nregularizers:\n  - {l2: 1, scope: []}\n",
         ":5: regularizers[0].scope: needs at least one tensor"),
        ("weights: {w: [1, 2]}\nregularizers:\n  - {l2: 1, scope: [w]}\n",
         ":3: regularizers[0].scope: `scope` places a regularizer for `update` only; add `update` to `quantities`"),
        ("weights: {w: [1, 2]}\noptimizer: {name: sgd}\nquantities: [update]\nregularizers:\n  - l2: 1\n    param: {l2: 0.5, scope: [x]}\n",
         ":6: regularizers[0].param.scope[0]: no weight named 'x'"),
    ],
)
def test_placement_names_weights_and_needs_update(write_case, text: str, expected: str) -> None:
    assert_refused(write_case(text), expected)


WN = "weights: {w: [[1, 2], [3, 4]]}\noptimizer: {name: sgd}\ngrads: {w: ones}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (WN + "quantities: [penalty]\nregularizers: [{l2: 1}]\nweight_norm: {dim: 0}\n",
         ":6: weight_norm: `weight_norm` is for `update` only"),
        (WN + "quantities: [update]\nregularizers: [{l2: 1}]\nweight_norm: {dim: 2}\n",
         ":6: weight_norm.dim: dim 2 is not an axis of weights.w (2-d)"),
        (WN + "quantities: [update]\nregularizers: [{l1: 1}]\nweight_norm: {dim: 0}\n",
         ":5: regularizers[0].l1: no weight-normalization API takes it"),
        (WN + "quantities: [update]\nregularizers: [{l2: 1}]\nweight_norm: {dim: 0}\nexpect:\n  - {api: torch.optim.SGD, raw: 1, quantity: update}\n",
         ":8: expect[0].api: torch.optim.SGD is not a weight-normalization API"),
    ],
)
def test_weight_norm_inputs_are_checked_at_load_time(write_case, text: str, expected: str) -> None:
    assert_refused(write_case(text), expected)


def test_known_may_name_weight_norm_parameters(write_case) -> None:
    text = WN + "quantities: [update]\nregularizers: [{l2: 1}]\nweight_norm: {dim: 0}\nknown:\n  - {status: error, tensor: w.g, reason: r}\n"
    assert load_case(write_case(text)).spec.known[0].tensor == "w.g"


def test_trajectory_inputs_are_checked_at_load_time(write_case) -> None:
    text = "weights: {w: {shape: [3, 2], fill: 0.1}, b: [0.0]}\nregularizers: [{l2: 3}]\nquantities: [trajectory]\n"
    with pytest.raises(CaseError) as info:
        load_case(write_case(text))
    assert any(":1: weights.w:" in str(p) and "[features, 1]" in str(p) for p in info.value.problems), info.value.problems


# --- outputs stay well-formed whatever the names -----------------------------------------------------------

HOSTILE = ('name: "bad\\x07case|<b>x</b>\\n# head"\n'
           'weights: {"a/b:0": [[1, -2], [-3, 4]], "=cmd|\' /C calc\'!A0": [1.5], "t\\x01\\x1b": [2.0]}\n'
           "regularizers: [{l2: 1.0}]\nquantities: [penalty, gradient]\n")


def test_every_output_is_well_formed_whatever_the_names(write_case, tmp_path, pool) -> None:
    import csv
    import json
    import xml.etree.ElementTree as ET

    from regcompare.report import to_html, to_markdown
    from regcompare.results import environment, results_document, write_atomically, write_csv, write_json, write_junit

    cases = load_cases([write_case(HOSTILE, "hostile\x02.yaml")])
    result = engine.run(cases, ("numpy",), pool)
    assert {r["status"] for r in result.rows} == {"match"}
    doc = results_document(result, environment(result, 1.0))
    out = tmp_path / "out"
    write_atomically(out, {"results.json": lambda f: write_json(doc, f), "results.csv": lambda f: write_csv(result.rows, f),
                           "junit.xml": lambda f: write_junit(result, f), "report.md": to_markdown(doc),
                           "report.html": to_html(doc, {c.name: c.source for c in cases})})
    suites = ET.parse(out / "junit.xml").getroot()  # parses: no character XML 1.0 forbids
    assert suites[0].get("name") == "bad#x07case|<b>x</b>\n# head"
    assert {c.get("name").rsplit("-", 1)[-1] for c in suites.iter("testcase")} >= {"t#x01#x1B"}
    with open(out / "results.csv", newline="") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "@")) or (c.startswith("-") and not _number(c))]
    assert "'=cmd|' /C calc'!A0" in cells
    assert json.loads((out / "results.json").read_text())["rows"][0]["case"] == "bad\x07case|<b>x</b>\n# head"
    md = (out / "report.md").read_text()
    assert "<b>" not in md and "\n# head" not in md and "\x07" not in md


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=1+2", "'=1+2"), ("+1+2", "'+1+2"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=x", "'\t=x"),
     ("-0.5", "-0.5"), ("-Infinity", "-Infinity"), ("match", "match"), (-0.5, -0.5), ({"l1": -1}, '{"l1": -1}')],
)
def test_csv_cells_never_start_a_formula(value, cell) -> None:
    from regcompare.results import csv_cell

    assert csv_cell(value) == cell


@pytest.mark.parametrize(
    ("text", "cell"),
    [("a|b\nc", "a\\|b c"), ("# head", "\\# head"), ("<script>x</script>", "\\<script\\>x\\</script\\>"),
     ("- item", "\\- item"), ("1. item", "1\\. item"), ("-0.5", "-0.5"), ("a `b` *c*", "a \\`b\\` \\*c\\*")],
)
def test_report_md_shows_names_and_reasons_as_text(text, cell) -> None:
    from regcompare.report import _md_cell, _md_code

    assert _md_cell(text) == cell
    assert _md_code("a`b|c") == "``a`b\\|c``" and _md_code("`x") == "`` `x ``"


def test_report_html_caps_an_embedded_case_file() -> None:
    from regcompare.report import SOURCE_CAP, capped_source

    text = "description: " + "x" * (3 * SOURCE_CAP)
    shown = capped_source(text)
    assert shown.startswith(text[:SOURCE_CAP]) and len(shown) < SOURCE_CAP + 200
    assert f"{len(text) - SOURCE_CAP:,} more characters not shown" in shown
    assert capped_source("short") == "short"


def test_xml_text_marks_what_xml_forbids() -> None:
    from regcompare.escape import xml_text

    assert xml_text("t\x01\x1b\ud800ok\t\n") == "t#x01#x1B#xD800ok\t\n"


@pytest.mark.parametrize(
    "text",
    ['"weights": {w: [1]}\n"regularizers": [{l2: 1}]\n',
     "'weights': {w: [1]}\n'regularizers': [{l2: 1}]\n",
     "? weights\n: {w: [1]}\n? regularizers\n: [{l2: 1}]\n",
     "%YAML 1.1\n---\n\"weights\": {w: [1]}\nregularizers: [{l2: 1}]\n"],
)
def test_pytest_collects_the_files_validate_accepts(write_case, text: str) -> None:
    from pathlib import Path

    from regcompare.pytest_plugin import looks_like_case

    path = write_case(text)
    assert load_case(path).weights["w"].tolist() == [1.0]
    assert looks_like_case(Path(path))


def test_pytest_collects_files_validate_refuses_so_they_fail_loudly(write_case, tmp_path) -> None:
    from pathlib import Path

    from regcompare.pytest_plugin import looks_like_case

    assert looks_like_case(Path(write_case('"weights": [1, 2\n', "broken.yaml")))
    assert not looks_like_case(Path(write_case('"name": ci\n"on": push\n', "workflow.yaml")))
