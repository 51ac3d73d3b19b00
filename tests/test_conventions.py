"""The registry: mappings native ↔ canonical, and the documented legacy conventions' seed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from regcompare import oracle
from regcompare.adapters import conventions as registry
from regcompare.conventions import CONVENTIONS, Regularizer
from regcompare.conventions import registry as build_registry

SEED = {"w": np.array([[1.0, -2.0], [-3.0, 4.0]])}


def seed_penalty(api: str, **native: float) -> float:
    """What an API gives on the seed matrix, according to its registry record and the oracle."""
    return oracle.penalty(SEED, registry()[api].to_canonical(native))


@pytest.mark.parametrize(
    ("api", "native", "value"),
    [
        # The seed documents' numbers (docs/convention.md).
        ("keras.regularizers.L1", {"l1": 0.5}, 5.0),
        ("keras.regularizers.L1", {}, 0.1),  # default 0.01
        ("keras.regularizers.L2", {"l2": 1.0}, 30.0),
        ("keras.regularizers.L2", {"l2": 0.5}, 15.0),
        ("tf.nn.l2_loss", {}, 15.0),
        ("tf.contrib.layers.l2_regularizer", {"scale": 0.5}, 7.5),
        ("tf.contrib.layers.l1_regularizer", {"scale": 0.5}, 5.0),
        ("keras.regularizers.L1L2", {"l1": 0.5, "l2": 0.5}, 20.0),
        ("torch.handwritten", {"lambd": 1.0}, 15.0),
    ],
)
def test_seed_numbers_follow_from_the_registry(api: str, native: dict[str, float], value: float) -> None:
    assert seed_penalty(api, **native) == pytest.approx(value, rel=1e-12)


def test_legacy_conventions_are_documented_but_not_executed() -> None:
    legacy = [c for c in CONVENTIONS if not c.executed]
    assert {c.api for c in legacy} == {
        "tf.contrib.layers.l1_regularizer", "tf.contrib.layers.l2_regularizer",
        "paddle.fluid.regularizer.L1Decay", "paddle.fluid.regularizer.L2Decay",
        "tfa.optimizers.AdamW",
    }
    assert registry()["paddle.fluid.regularizer.L2Decay"].to_canonical({"regularization_coeff": 0.1}) == Regularizer(l2=0.1)


@pytest.mark.parametrize("conv", [c for c in CONVENTIONS], ids=lambda c: c.api)
def test_native_and_canonical_round_trip(conv) -> None:
    reg = Regularizer(l1=0.3 if "l1" in conv.terms else 0.0, l2=0.7 if "l2" in conv.terms else 0.0)
    assert conv.applies_to(reg)
    back = conv.to_canonical(conv.to_native(reg))
    assert back.l1 == pytest.approx(reg.l1) and back.l2 == pytest.approx(reg.l2)


def test_factor_of_two_between_keras_and_the_canonical_l2() -> None:
    assert registry()["keras.regularizers.L2"].to_native(Regularizer(l2=1.0)) == {"l2": 0.5}
    assert registry()["torch.optim.SGD"].to_native(Regularizer(l2=1.0)) == {"weight_decay": 1.0}
    assert registry()["tf.nn.l2_loss"].to_native(Regularizer(l2=1.0)) == {"scale": 1.0}


def test_an_api_applies_only_to_regularizers_it_can_express() -> None:
    table = registry()
    assert not table["torch.optim.SGD"].applies_to(Regularizer(l1=0.1))
    assert not table["keras.regularizers.L2"].applies_to(Regularizer(l1=0.1, l2=0.1))
    assert table["keras.regularizers.L1L2"].applies_to(Regularizer(l1=0.1, l2=0.1))


def test_unknown_native_argument_is_refused_with_the_signature() -> None:
    with pytest.raises(ValueError, match=r"keras.regularizers.L2 has no argument 'l3'.*\(l2=0.01\)"):
        registry()["keras.regularizers.L2"].to_canonical({"l3": 1.0})


def test_duplicate_api_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="two conventions"):
        build_registry((CONVENTIONS[0],))
