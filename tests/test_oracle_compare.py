"""The oracle (exact float64 reference) and the comparison (tolerances, ULP, NaN/inf, overflow)."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from regcompare import oracle
from regcompare.compare import compare
from regcompare.conventions import Regularizer
from regcompare.dtypes import DEFAULT_TOLERANCE, Tolerance, cast, ulp

SEED = {"w": np.array([[1.0, -2.0], [-3.0, 4.0]])}
F32 = DEFAULT_TOLERANCE["float32"]


def test_oracle_on_the_seed_matrix() -> None:
    assert oracle.penalty(SEED, Regularizer(l1=0.5)) == 5.0
    assert oracle.penalty(SEED, Regularizer(l2=1.0)) == 15.0
    assert oracle.penalty({"a": SEED["w"], "b": np.array([2.0])}, Regularizer(l1=1.0, l2=2.0)) == 10 + 2 + 30 + 4
    np.testing.assert_array_equal(oracle.gradient(SEED, Regularizer(l1=0.5, l2=1.0))["w"], [[1.5, -2.5], [-3.5, 4.5]])
    np.testing.assert_array_equal(oracle.gradient({"z": np.zeros(2)}, Regularizer(l1=1.0))["z"], [0.0, 0.0])


def test_oracle_sums_exactly_where_naive_float64_does_not() -> None:
    # 1e16 + 1 + 1 - ...: fsum keeps what a running float64 sum loses.
    w = {"w": np.array([1e8, 1.0, 1.0, 1.0, 1.0])}
    assert oracle.penalty(w, Regularizer(l2=2.0)) == 1e16 + 4
    assert float(np.float64(1e16) + 1.0 + 1.0 + 1.0 + 1.0) != 1e16 + 4


def test_zero_coefficients_drop_their_term_so_inf_stays_inf() -> None:
    w = {"w": np.array([np.inf, 1.0])}
    assert oracle.penalty(w, Regularizer(l2=1.0)) == math.inf
    np.testing.assert_array_equal(oracle.gradient(w, Regularizer(l1=0.5))["w"], [0.5, 0.5])
    assert math.isnan(oracle.penalty({"w": np.array([np.nan])}, Regularizer(l1=1.0)))
    assert oracle.penalty({"w": np.zeros((0, 3))}, Regularizer(l1=1.0, l2=1.0)) == 0.0


def test_oracle_exact_sum_overflowing_float64_is_inf() -> None:
    assert oracle.penalty({"w": np.array([1e200, 1e200])}, Regularizer(l2=2.0)) == math.inf


@pytest.mark.parametrize(
    ("dtype", "value", "spacing"),
    [
        ("float32", 1.0, 2.0**-23), ("float32", 4.0, 2.0**-21), ("float16", 1.0, 2.0**-10),
        ("bfloat16", 1.0, 2.0**-7), ("float64", 1.0, 2.0**-52), ("float16", 0.0, 2.0**-24),
        ("bfloat16", 3.0, 2.0**-6),
    ],
)
def test_ulp(dtype: str, value: float, spacing: float) -> None:
    assert ulp(np.array(value), dtype) == spacing


def test_ulp_agrees_with_numpy_spacing_including_subnormals() -> None:
    values = np.array([1e-42, 1e-30, 0.1, 3.0, 1e30], np.float32)
    np.testing.assert_array_equal(ulp(values.astype(np.float64), "float32"), np.spacing(values).astype(np.float64))
    bf = np.array([0.3, 100.0], ml_dtypes.bfloat16)
    assert (ulp(bf.astype(np.float64), "bfloat16") == [2.0**-9, 0.5]).all()


def test_within_tolerance_reports_the_tolerance_used() -> None:
    v = compare(np.array(30.000001), np.array(30.0), "float32", F32, "float32 default")
    assert v.ok and v.detail.startswith("within rtol=1.3e-06, atol=1e-05 (float32 default)")
    assert v.ulp == pytest.approx(1e-6 / 2.0**-19)


def test_outside_tolerance_says_by_how_much_and_where() -> None:
    v = compare(np.array([[1.0, 2.0], [3.0, 4.5]]), np.array([[1.0, 2.0], [3.0, 4.0]]), "float32", F32, "x")
    assert not v.ok and v.worst == (1, 1)
    assert v.abs_err == 0.5 and v.rel_err == 0.125 and v.ulp == 0.5 / 2.0**-21
    assert "abs err 0.5" in v.detail and "at index (1, 1)" in v.detail


def test_nan_equals_nan_and_inf_equals_inf_of_the_same_sign() -> None:
    assert compare(np.array([np.nan, np.inf, -np.inf]), np.array([np.nan, np.inf, -np.inf]), "float32", F32, "x").ok
    assert not compare(np.array([np.inf]), np.array([-np.inf]), "float32", F32, "x").ok
    assert not compare(np.array([np.nan]), np.array([1.0]), "float32", F32, "x").ok
    assert not compare(np.array([1.0]), np.array([np.nan]), "float32", F32, "x").ok


def test_float16_overflow_of_a_finite_exact_value_is_a_mismatch_that_says_overflow() -> None:
    v = compare(np.array(np.inf), np.array(15000.0), "float16", DEFAULT_TOLERANCE["float16"], "float16 default")
    assert not v.ok and v.detail.startswith("overflow: float16 result is inf where the exact value 15000 fits float16")


def test_inf_is_right_when_the_exact_value_overflows_the_dtype() -> None:
    v = compare(np.array(np.inf), np.array(150000.0), "float16", DEFAULT_TOLERANCE["float16"], "float16 default")
    assert v.ok and "the exact value overflows float16, so inf is right" in v.detail


def test_symmetric_where_it_should_be_and_empty_tensors() -> None:
    a, b = np.array([1.0, 2.0]), np.array([1.0, 2.5])
    assert compare(a, b, "float32", Tolerance(0, 0.1), "x").abs_err == compare(b, a, "float32", Tolerance(0, 0.1), "x").abs_err
    assert compare(np.zeros((0, 2)), np.zeros((0, 2)), "float32", F32, "x").ok
    assert not compare(np.zeros(2), np.zeros(3), "float32", F32, "x").ok


def test_cast_rounds_to_nearest_and_overflows_to_inf() -> None:
    assert cast(np.array(70000.0), "float16") == np.inf
    assert float(cast(np.array(0.1), "bfloat16")) == 0.10009765625


def test_chunked_comparison_and_sums_agree_with_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    import regcompare.compare as compare_module

    rng = np.random.default_rng(3)
    reference = rng.normal(size=(7, 5))
    actual = reference.astype(np.float32).astype(np.float64)
    actual[4, 2] += 0.5
    actual[1, 1] = np.nan
    whole = compare(actual, reference, "float32", F32, "x")
    monkeypatch.setattr(compare_module, "_CHUNK", 4)
    assert compare(actual, reference, "float32", F32, "x") == whole
    assert whole.worst == (1, 1) and not whole.ok
    exact = oracle.penalty({"w": reference}, Regularizer(l1=0.5, l2=2.0))
    monkeypatch.setattr(oracle, "_CHUNK", 3)
    assert oracle.penalty({"w": reference}, Regularizer(l1=0.5, l2=2.0)) == exact


def _fsum_per_element(arrays: list[np.ndarray], term) -> float:
    """The exact sum the plain way: fsum over every element's term (what oracle._fsum did element by element)."""
    try:
        return math.fsum(v for a in arrays for v in term(a.reshape(-1).astype(np.float64)).tolist())
    except OverflowError:
        return math.inf


def _sums() -> list[list[np.ndarray]]:
    rng = np.random.default_rng(5)
    out = [[(rng.standard_normal(n) * scale).astype(dt)]
           for dt in (np.float16, np.float32, np.float64) for scale in (1e-30, 1e-3, 1.0, 1e30)
           for n in (1, 3, 1000, 70_001)]
    spread = rng.standard_normal(20_000) * 10.0 ** rng.integers(-300, 300, 20_000)  # more bits than the passes take
    out += [[np.array([1e154, 1e154, 3.0])],  # squares whose sum overflows: inf
            [np.array([1.3e154] * 3 + [1e-300])],  # near the float64 limit, too large for an extraction
            [np.array([5e-324, 1e-310, 2.5e-308, 0.0])],  # subnormals
            [spread], [np.array([np.inf, 1.0])], [np.array([np.nan, 1.0])], [np.array([1.7e308, 1.7e308])],
            [rng.standard_normal((300, 300)).astype(np.float32), rng.standard_normal(300_001)], [np.zeros(5)]]
    return out


@pytest.mark.parametrize("term", [np.abs, np.square], ids=["abs", "square"])
def test_the_exact_sum_split_into_parts_is_fsum_over_every_element(term, monkeypatch) -> None:
    # oracle._fsum splits each chunk into a few floats of the same exact sum (an error-free extraction): the same
    # correctly rounded result as fsum of every element, for every magnitude, dtype and size, subnormals, values
    # too large to extract, a sum that overflows, inf and NaN, and with chunks of 1,000 (a tensor of many).
    with np.errstate(over="ignore", invalid="ignore"):
        sums = _sums()
        want = [_fsum_per_element(arrays, term) for arrays in sums]
        got = [oracle._fsum(arrays, term) for arrays in sums]
        monkeypatch.setattr(oracle, "_CHUNK", 1000)
        chunked = [oracle._fsum(arrays, term) for arrays in sums]
    for g, c, w in zip(got, chunked, want, strict=True):
        assert (math.isnan(w) and math.isnan(g) and math.isnan(c)) or (g == w == c), (g, c, w)
    assert math.inf in want and any(math.isnan(w) for w in want)
    parts = oracle._exact_parts(np.square(np.random.default_rng(6).standard_normal(100_000)))
    assert len(parts) < 10  # a few floats, not one per element
