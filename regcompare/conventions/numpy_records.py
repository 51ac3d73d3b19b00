"""numpy: the hand-written idiom, in the case's own dtype."""

from __future__ import annotations

from regcompare.conventions.model import Convention, arg
from regcompare.conventions.texts import PENALTY_GRAD_TRAJECTORY

RECORDS: tuple[Convention, ...] = (
    Convention(
        "numpy.handwritten", "numpy", "penalty", PENALTY_GRAD_TRAJECTORY,
        (arg("l1", "l1"), arg("l2", "l2")),
        "l1·Σ|w| + l2/2·Σw²; gradient l1·sign(w) + l2·w",
        "penalty", "numpy in the case's dtype: l1*np.sum(np.abs(w)) + l2/2*np.sum(w*w), written by hand",
    ),
)
