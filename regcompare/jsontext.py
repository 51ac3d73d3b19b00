"""``json.dumps`` for the hot paths of the outputs, without building an encoder on every call.

``json.dumps`` makes a new C encoder per call, which costs about as much as encoding a small mapping; the
outputs encode several values per row (results.json a row, results.csv its nested values, the pairwise view a
grouping key). ``dumps_function`` builds the same C encoder once, as ``json.JSONEncoder.iterencode`` builds it,
and checks on a probe that it writes ``json.dumps``'s very text; where this Python has no C encoder, or it
differs, it returns ``json.dumps`` itself.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

#: Values on which the reused encoder must give json.dumps's text: floats at the edges, escapes, nesting, key order.
PROBE: dict[Any, Any] = {
    "b": [1.5, -0.0, 1e-300, 5e-324, 2.0**70, 0.1, "é×\n\"\\\x07", None, True, False, 3],
    "a": {"d": [], "c": {}, "e": [[1, 2.5], {"z": 1, "y": 2}]},
    "1": -7,
}


def dumps_function(allow_nan: bool = True, sort_keys: bool = False) -> Callable[[Any], str]:
    """A function equal to ``json.dumps(value, allow_nan=allow_nan, sort_keys=sort_keys)`` for acyclic values."""
    plain: Callable[[Any], str] = functools.partial(json.dumps, allow_nan=allow_nan, sort_keys=sort_keys)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return plain
    try:
        # markers None: no check for circular values (rows and their parts are trees); the text is the same
        encoder = make(None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ": ", ", ",
                       sort_keys, False, allow_nan)
        if "".join(encoder(PROBE, 0)) != plain(PROBE):
            return plain
    except Exception:  # noqa: BLE001 - another C signature in another Python: the plain way
        return plain

    def dumps(value: Any) -> str:
        return "".join(encoder(value, 0))

    return dumps


#: ``json.dumps`` with its defaults; strict (no NaN or ±inf: a ValueError); with sorted keys.
dumps = dumps_function()
dumps_strict = dumps_function(allow_nan=False)
dumps_sorted = dumps_function(sort_keys=True)
