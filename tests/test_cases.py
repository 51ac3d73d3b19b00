"""The case loader: valid cases materialize as DESIGN.md §3 says; every bad input names file:line: key."""

from __future__ import annotations

import numpy as np
import pytest

from regcompare.cases import CaseError, load_case, load_cases

GOOD = """\
name: two-tensors
weights:
  w: [[1, -2], [-3, 4]]
  b: {shape: [3], fill: 0.5}
  k: {shape: [4, 2], init: normal, seed: 7, scale: 2.0}
  u: {shape: [5], init: uniform, seed: 1, scale: 0.5}
  e: []
  n: [.nan, .inf, -.inf]
dtypes: [float16, bfloat16]
regularizers:
  - {l1: 0.5}
"""


def problems(path: str, **kwargs) -> list[str]:
    with pytest.raises(CaseError) as info:
        load_case(path, **kwargs)
    return [str(p) for p in info.value.problems]


def test_valid_case_materializes_weights_as_specified(write_case) -> None:
    case = load_case(write_case(GOOD))
    assert case.name == "two-tensors"
    np.testing.assert_array_equal(case.weights["w"], [[1, -2], [-3, 4]])
    np.testing.assert_array_equal(case.weights["b"], [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(case.weights["k"], np.random.default_rng(7).normal(0.0, 2.0, (4, 2)))
    np.testing.assert_array_equal(case.weights["u"], np.random.default_rng(1).uniform(-0.5, 0.5, (5,)))
    assert case.weights["e"].shape == (0,)
    assert np.isnan(case.weights["n"][0]) and case.weights["n"][1] == np.inf and case.weights["n"][2] == -np.inf
    assert case.spec.quantities == ["penalty", "gradient"] and case.spec.frameworks is None


def test_name_defaults_to_the_file_stem(write_case) -> None:
    assert load_case(write_case("weights: {w: [1]}\nregularizers: [{l2: 1}]\n", "my-case.yaml")).name == "my-case"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weights: {w: [1]}\nregularizers:\n  - {l1: 0.5, l3: 1}\n", ":3: regularizers[0].l3: unknown key (did you mean 'l"),
        ("weights: {w: [1]}\nregularizers:\n  - {l1: -0.5}\n", ":3: regularizers[0].l1: input should be greater than or equal to 0"),
        ("weights: {w: [1]}\nregularizers:\n  - {l2: .nan}\n", ":3: regularizers[0].l2: input should be a finite number"),
        ("weights: {w: [1]}\nregularizers:\n  - {l2: .inf}\n", ":3: regularizers[0].l2: input should be a finite number"),
        ("weights: {w: [1]}\nregularizers:\n  - {l2: '0.5'}\n", ":3: regularizers[0].l2: input should be a valid number"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\ndtypes: [float8]\n", ":3: dtypes[0]: input should be"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\nframeworks: [mxnet]\n", ":3: frameworks[0]: unknown framework 'mxnet'"),
        ("weights:\n  w: [[1, 2],\n      [3]]\nregularizers: [{l2: 1}]\n", ":3: weights.w[1]: ragged: shape [1] where item 0 has shape [2]"),
        ("weights:\n  w: [1, two]\nregularizers: [{l2: 1}]\n", ":2: weights.w[1]: expected a number, got str 'two'"),
        ("weights: {}\nregularizers: [{l2: 1}]\n", ":1: weights: needs at least one tensor"),
        ("regularizers: [{l2: 1}]\n", ":1: weights: missing required key"),
        ("weights: {w: [1]}\n", ":1: regularizers: nothing to compare"),
        ("weights: {w: [1]}\nexpect:\n  - {api: keras.regularizers.L3, raw: 1}\n",
         ":3: expect[0].api: unknown API 'keras.regularizers.L3' (did you mean 'keras.regularizers.L"),
        ("weights: {w: [1]}\nexpect:\n  - {api: keras.regularizers.L2, native: {c: 1}, raw: 1}\n",
         ":3: expect[0].native: keras.regularizers.L2 has no argument 'c'"),
        ("weights: {w: [1]}\nexpect:\n  - {api: paddle.fluid.regularizer.L2Decay, raw: 1}\n",
         ":3: expect[0].api: paddle.fluid.regularizer.L2Decay is a documented convention only"),
        ("weights:\n  w: {shape: [2], init: gaussian}\nregularizers: [{l2: 1}]\n", ":2: weights.w.init: input should be 'normal' or 'uniform'"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\nregularizers: [{l1: 1}]\n", ":3: regularizers: duplicate key"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}\n", "(while parsing a flow sequence on line 2)"),
        ("- just\n- a list\n", ":1: a case is a mapping of keys, got list"),
        ("", ":1: empty file"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\nsteps: 0\n", ":3: steps: input should be greater than or equal to 1"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\ntolerance: {float32: {rtol: -1}}\n", ":3: tolerance.float32.rtol"),
    ],
)
def test_bad_input_names_file_line_and_key(write_case, text: str, expected: str) -> None:
    path = write_case(text)
    found = problems(path)
    assert any(p.startswith(path) and expected in p for p in found), found


def test_every_problem_of_a_file_is_reported(write_case) -> None:
    found = problems(write_case("weights: {w: [1]}\nregularizers:\n  - {l1: -1}\n  - {l3: 2}\ndtypes: [f8]\n"))
    assert len(found) == 3


def test_non_utf8_file_is_refused_with_its_line(write_case, tmp_path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"weights: {w: [1]}\ndescription: caf\xe9\n")
    assert problems(str(path)) == [f"{path}:2: not UTF-8 text (byte 0xe9)"]


def test_alias_bomb_is_refused_before_expansion(write_case) -> None:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    found = problems(write_case("\n".join(lines) + "\nweights: {w: *a8}\n"))
    assert len(found) == 1 and "expands to more than" in found[0]


def test_generated_shape_over_the_budget_is_refused_before_allocating(write_case) -> None:
    path = write_case("weights:\n  w: {shape: [100000, 100000], init: normal}\nregularizers: [{l2: 1}]\n")
    assert problems(path) == [f"{path}:2: weights.w.shape: 10,000,000,000 elements exceeds the budget of 50,000,000"]
    assert problems(path, max_elements=10)[0].endswith("exceeds the budget of 10")


def test_duplicate_case_names_across_files(write_case) -> None:
    first = write_case("name: same\nweights: {w: [1]}\nregularizers: [{l2: 1}]\n", "a.yaml")
    second = write_case("name: same\nweights: {w: [1]}\nregularizers: [{l2: 1}]\n", "b.yaml")
    with pytest.raises(CaseError) as info:
        load_cases([first, second])
    assert [str(p) for p in info.value.problems] == [f"{second}:1: name: duplicate case name 'same' (also in {first})"]


def test_folder_without_cases_and_missing_path(tmp_path) -> None:
    with pytest.raises(CaseError, match="no case files"):
        load_cases([str(tmp_path)])
    with pytest.raises(CaseError, match="no such file or folder"):
        load_cases([str(tmp_path / "nope.yaml")])
