"""The case loader: valid cases materialize as docs/case-format.md says; every bad input names file:line: key."""

from __future__ import annotations

import os

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
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\nframeworks: [jax]\n", ":3: frameworks[0]: unknown framework 'jax'"),
        ("weights:\n  w: [[1, 2],\n      [3]]\nregularizers: [{l2: 1}]\n", ":3: weights.w[1]: ragged: shape [1] where item 0 has shape [2]"),
        ("weights:\n  w: [1, two]\nregularizers: [{l2: 1}]\n", ":2: weights.w[1]: expected a number, got str 'two'"),
        ("weights: {}\nregularizers: [{l2: 1}]\n", ":1: weights: needs at least one tensor"),
        ("regularizers: [{l2: 1}]\n", ":1: weights: missing required key"),
        ("weights: {w: [1]}\n", ":1: regularizers: nothing to compare"),
        ("weights: {w: [1]}\nexpect:\n  - {api: keras.regularizers.L3, raw: 1}\n",
         ":3: expect[0].api: unknown API 'keras.regularizers.L3' (did you mean 'keras.regularizers.L"),
        ("weights: {w: [1]}\nexpect:\n  - {api: keras.regularizers.L2, native: {c: 1}, raw: 1}\n",
         ":3: expect[0].native: keras.regularizers.L2 has no argument 'c'"),
        ("weights: {w: [1]}\nexpect:\n  - {api: tf.contrib.layers.l2_regularizer, raw: 1}\n",
         ":3: expect[0].api: tf.contrib.layers.l2_regularizer is a documented convention only"),
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


# --- issue 14: nothing validate accepts may crash; nothing may shrink the suite silently ----------------------


def test_yaml_1_2_numbers_are_numbers_everywhere(write_case) -> None:
    text = ("weights: {w: [1E-3, .5, -2e+1]}\nregularizers: [{l2: 5e-4}, {l1: 1E-3, l2: .5}]\n"
            "tolerance: {float32: {rtol: 1e-5}}\n")
    case = load_case(write_case(text))
    assert [(r.l1, r.l2) for r in case.spec.regularizers] == [(0.0, 5 / 10**4), (1 / 10**3, 1 / 2)]
    assert case.weights["w"].tolist() == [1 / 10**3, 1 / 2, -20.0]
    assert case.spec.tolerance["float32"].rtol == 1 / 10**5


def test_yaml_1_2_numbers_leave_strings_and_ints_alone(write_case) -> None:
    case = load_case(write_case("name: 1e\ndescription: e3\ntags: [x1e5]\nweights: {w: [3]}\nsteps: 2\n"
                                "regularizers: [{l2: 1}]\n"))
    assert (case.name, case.spec.description, case.spec.tags, case.spec.steps) == ("1e", "e3", ["x1e5"], 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\nquantities: []\n", ":3: quantities: nothing to compare"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\ndtypes: []\n", ":3: dtypes: nothing to compare"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\nframeworks: []\n",
         ":3: frameworks: nothing to compare: omit the key for every framework"),
        ("weights: {w: [1]}\ndtypes: [float32]\nexpect:\n  - {api: keras.regularizers.L2, raw: 1, dtype: float64}\n",
         ":4: expect[0].dtype: float64 is not in the case's `dtypes` (float32)"),
    ],
)
def test_nothing_silently_shrinks_the_suite(write_case, text: str, expected: str) -> None:
    path = write_case(text)
    assert any(p.startswith(path) and expected in p for p in problems(path)), problems(path)


def _deep(opening: str, closing: str, depth: int) -> str:
    return opening * depth + "1" + closing * depth


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weights: {w: " + _deep("[", "]", 10_000) + "}\nregularizers: [{l2: 1}]\n",
         ":1: weights.w[0][0]…: nested deeper than 40 levels"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\ndescription: " + _deep("{a: ", "}", 10_000) + "\n",
         ":3: description.a.a.a…: nested deeper than 40 levels"),
        ("weights: {w: &a [1, *a]}\nregularizers: [{l2: 1}]\n", "nested deeper than 40 levels (a recursive alias?)"),
        ("weights: {w: " + _deep("[", "]", 33) + "}\nregularizers: [{l2: 1}]\n",
         ":1: weights.w: 33 dimensions; a tensor may have at most 32"),
        ("weights:\n  w: {shape: [" + ", ".join(["1"] * 65) + "], fill: 1}\nregularizers: [{l2: 1}]\n",
         ":2: weights.w.shape: 65 dimensions; a tensor may have at most 32"),
        ("weights: {w: [1, " + "9" * 1000 + "]}\nregularizers: [{l2: 1}]\n",
         ":1: weights.w[1]: integer of 1,000 digits is out of float64's range"),
        ("weights:\n  w: {shape: [2], init: normal, seed: -1}\nregularizers: [{l2: 1}]\n",
         ":2: weights.w.seed: input should be greater than or equal to 0"),
        ("weights:\n  w: {shape: [2], init: normal, seed: " + "9" * 30 + "}\nregularizers: [{l2: 1}]\n",
         ":2: weights.w.seed: input should be less than or equal to 18446744073709551615"),
        ("weights:\n  w: {shape: [" + "1" + "0" * 30 + ", 0], fill: 1}\nregularizers: [{l2: 1}]\n",
         ":2: weights.w.shape: an axis of 1,000,000,000,000,000,000,000,000,000,000 exceeds the budget"),
        ("weights: {w: {shape: [2, 1], fill: 0}, b: [0]}\nregularizers: [{l2: 1}]\nquantities: [trajectory]\n"
         "trajectory: {seed: -5}\n", ":4: trajectory.seed: input should be greater than or equal to 0"),
        ("weights: {w: [1]}\nregularizers: [{l2: 1}]\n? [a, b]\n: 1\n", "malformed YAML"),
    ],
)
def test_deep_and_out_of_range_input_is_a_problem_not_a_crash(write_case, text: str, expected: str) -> None:
    path = write_case(text)
    found = problems(path)
    assert any(p.startswith(path) and expected in p for p in found), found


def test_an_oversized_file_is_refused_by_its_size_before_it_is_read(tmp_path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:
        f.write(b"weights: {w: [")
        f.truncate(17 * 2**20)  # sparse: 17 MiB on paper, nothing to parse
    assert problems(str(path)) == [f"{path}:0: file is 17.0 MiB; a case file may have at most 16 MiB "
                                   "(write large tensors as generated ones)"]


def test_many_small_numbers_are_refused_by_count_with_the_true_reason(write_case) -> None:
    path = write_case("weights: {w: [" + "1," * 1_000_001 + "1]}\nregularizers: [{l2: 1}]\n")
    found = problems(path)
    assert len(found) == 1 and "expands to more than 1,000,000 YAML nodes" in found[0], found


def test_the_budget_is_per_case_including_gradients_and_training_data(write_case) -> None:
    tensors = "\n".join(f"  w{i}: {{shape: [100], init: normal, seed: {i}}}" for i in range(40))
    path = write_case(f"weights:\n{tensors}\nregularizers: [{{l2: 1}}]\n")
    assert problems(path, max_elements=3_999) == [
        f"{path}:1: weights: the case holds 4,000 elements (weights 4,000), over the budget of 3,999 (--max-elements)"]
    assert load_case(path, max_elements=4_000).elements == 4_000

    update = write_case("weights: {w: {shape: [60], fill: 1}}\nregularizers: [{l2: 1}]\nquantities: [update]\n"
                        "optimizer: {name: sgd}\ngrads: {w: {shape: [60], fill: 2}}\n", "update.yaml")
    # weights 60; gradients: one per weight (60) plus the generated spec's own 60
    assert problems(update, max_elements=179)[0].endswith(
        "weights: the case holds 180 elements (weights 60, gradients 120), over the budget of 179 (--max-elements)")

    wide = write_case("weights: {w: {shape: [1000, 1], fill: 0}, b: [0]}\nregularizers: [{l2: 1}]\n"
                      "quantities: [trajectory]\ntrajectory: {train: 100000, test: 100000, epochs: 1}\n", "wide.yaml")
    # (100,000 + 100,000) examples × (1,000 features + 1 label) + 1 epoch × 100,000 indices
    held = 1001 + 200_000 * 1001 + 100_000
    assert problems(wide)[0].endswith(f"the case holds {held:,} elements (weights 1,001, training data "
                                      f"{held - 1001:,}), over the budget of 50,000,000 (--max-elements)")


def test_the_oracle_work_is_budgeted(write_case) -> None:
    path = write_case("weights: {w: {shape: [1000], fill: 1}}\nregularizers: [{l2: 1}]\nquantities: [update]\n"
                      "optimizer: {name: sgd}\nsteps: 10000\ndtypes: [float32, float64]\n")
    # 1,000 elements × 10,000 steps × 2 dtypes
    assert problems(path, max_elements=100_000) == [
        f"{path}:5: steps: the reference needs 20,000,000 element operations (elements × steps or epochs, per dtype),"
        " over the budget of 2,000,000 (20 × --max-elements)"]


def test_the_run_budget_covers_all_cases_together(write_case) -> None:
    files = [write_case("weights: {w: {shape: [100], fill: 1}}\nregularizers: [{l2: 1}]\n", f"c{i}.yaml")
             for i in range(5)]
    assert len(load_cases(files[:4], max_elements=100)) == 4
    with pytest.raises(CaseError) as info:
        load_cases(files, max_elements=100)
    assert [str(p) for p in info.value.problems] == [
        f"{files[4]}:1: weights: the case holds 100 elements (weights 100); the run's cases together may hold 400 "
        "(4 × --max-elements), and 0 are left"]


def test_unreadable_entries_are_named_not_dropped(tmp_path) -> None:
    folder = tmp_path / "cases"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.yaml").write_text("weights: {w: [1]}\nregularizers: [{l2: 1}]\n")
    (folder / "sub" / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    os.mkfifo(folder / "fifo.yaml")
    with pytest.raises(CaseError) as info:
        load_cases([str(folder)])
    assert sorted(str(p) for p in info.value.problems) == [
        f"{folder}/fifo.yaml:0: cannot read: not a regular file",
        f"{folder}/sub/dangling.yaml:0: cannot read: not a regular file",
    ]
    with pytest.raises(CaseError, match="not a regular file"):
        load_case(str(folder / "fifo.yaml"))  # named explicitly: refused, not read (a FIFO would block)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file and folder")
def test_unreadable_file_and_folder_are_problems(tmp_path) -> None:
    folder = tmp_path / "cases"
    (folder / "locked").mkdir(parents=True)
    (folder / "secret.yaml").write_text("weights: {w: [1]}\nregularizers: [{l2: 1}]\n")
    os.chmod(folder / "secret.yaml", 0)
    os.chmod(folder / "locked", 0)
    try:
        with pytest.raises(CaseError) as info:
            load_cases([str(folder)])
    finally:
        os.chmod(folder / "locked", 0o755)
    assert sorted(str(p) for p in info.value.problems) == [
        f"{folder}/locked:0: cannot read: Permission denied", f"{folder}/secret.yaml:0: cannot read: Permission denied"]


def test_an_unreadable_folder_is_a_problem_even_as_root(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "cases"
    (folder / "locked").mkdir(parents=True)
    (folder / "a.yaml").write_text("weights: {w: [1]}\nregularizers: [{l2: 1}]\n")
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(CaseError) as info:
        load_cases([str(folder)])
    assert [str(p) for p in info.value.problems] == [f"{folder}/locked:0: cannot read: Permission denied"]


def test_a_file_name_that_is_not_utf8_is_refused(tmp_path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / os.fsdecode(b"caf\xe9.yaml")).write_text("weights: {w: [1]}\nregularizers: [{l2: 1}]\n")
    with pytest.raises(CaseError) as info:
        load_cases([str(folder)])
    assert [str(p) for p in info.value.problems] == [
        f"{folder}/caf\\xe9.yaml:0: the file name is not UTF-8 text; rename the file"]
