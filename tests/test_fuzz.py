"""Property tests: arbitrary input never gets past the loader as anything but CaseError, and the
comparison never crashes and is reflexive and (with rtol = 0) symmetric."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from regcompare.cases import Case, CaseError, load_case
from regcompare.compare import compare
from regcompare.dtypes import DEFAULT_TOLERANCE, DTYPES, Tolerance, cast
from regcompare.schema import keys_allowed_at

KEYS = sorted(keys_allowed_at(()) | keys_allowed_at(("regularizers",)) | keys_allowed_at(("weights",)) | {"w", "b"})
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.sampled_from(["float16", "bfloat16", "numpy", "torch", "normal", "ones", "sgd"]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=5),
    max_leaves=25,
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_text(data: bytes) -> Case | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_bytes(data)
        try:
            return load_case(str(path), max_elements=10_000)
        except CaseError as exc:
            assert exc.problems and all(str(p).startswith(str(path)) for p in exc.problems)
            return None


@FUZZ
@given(documents)
def test_yaml_documents_give_a_case_or_a_case_error(doc) -> None:
    load_text(yaml.safe_dump(doc).encode())


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_give_a_case_or_a_case_error(data: bytes) -> None:
    load_text(data)


@FUZZ
@given(st.dictionaries(st.sampled_from(["l1", "l2", "l3"]), scalars, max_size=3))
def test_regularizer_entries(reg) -> None:
    load_text(yaml.safe_dump({"weights": {"w": [1.0, -2.0]}, "regularizers": [reg]}).encode())


special_floats = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=64)
arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4), elements=special_floats)


@FUZZ
@given(arrays, st.sampled_from(DTYPES))
def test_compare_is_reflexive_and_never_crashes(a, dtype) -> None:
    v = compare(a, a, dtype, DEFAULT_TOLERANCE[dtype], "fuzz")
    assert v.ok, v.detail


@FUZZ
@given(st.data(), st.sampled_from(DTYPES))
def test_compare_is_symmetric_without_relative_tolerance(data, dtype) -> None:
    a = data.draw(arrays)
    b = data.draw(hnp.arrays(np.float64, a.shape, elements=special_floats))
    # Symmetric only where the dtype holds both values: an exact value that overflows the dtype
    # makes inf the right answer on one side only, by design.
    assume(np.isfinite(cast(a, dtype)).all() and np.isfinite(cast(b, dtype)).all())
    tol = Tolerance(0.0, 1e-3)
    ab, ba = compare(a, b, dtype, tol, "fuzz"), compare(b, a, dtype, tol, "fuzz")
    assert ab.abs_err == ba.abs_err and ab.ok == ba.ok


# --- issue 14: hostile shapes and numbers never get past the loader as anything but CaseError ---------------

numbers = st.one_of(
    st.integers(-(10**400), 10**400), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["5e-4", "1E-3", ".5", "-.5e3", "1e400", "0x1f", "1_000", ".inf", "-.nan"]),
)


def nested(depth: int) -> st.SearchStrategy[str]:
    """A tensor as YAML text nested ``depth`` deep (a dimension too many, an alias into itself, ...)."""
    return st.lists(numbers.map(str), min_size=1, max_size=3).map(
        lambda xs: "[" * depth + ", ".join(xs) + "]" * depth)


@FUZZ
@given(st.integers(0, 120).flatmap(nested), st.sampled_from(["", "[", "{a: ", "&x [*x, "]))
def test_deep_and_huge_tensors_give_a_case_or_a_case_error(tensor: str, prefix: str) -> None:
    closing = {"": "", "[": "]", "{a: ": "}", "&x [*x, ": "]"}[prefix]
    load_text(f"weights: {{w: {prefix}{tensor}{closing}}}\nregularizers: [{{l2: 1}}]\n".encode())


@FUZZ
@given(st.lists(st.integers(-(10**40), 10**40), max_size=70), st.integers(-(10**30), 10**30),
       st.sampled_from(["normal", "uniform"]))
def test_any_generated_shape_and_seed_give_a_case_or_a_case_error(shape, seed, init) -> None:
    load_text(yaml.safe_dump({"weights": {"w": {"shape": shape, "init": init, "seed": seed}},
                              "regularizers": [{"l2": 1.0}]}).encode())
