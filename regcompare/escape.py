"""Text that XML 1.0 can hold, for junit.xml and the pytest plugin's ``--junitxml`` properties.

XML 1.0 forbids most C0 control characters outright (escaping as ``&#7;`` is not allowed either), and a lone
surrogate cannot be encoded at all; such characters in a case, file or tensor name are shown as ``#xNN``,
as pytest's own ``bin_xml_escape`` does for the values it writes.
"""

from __future__ import annotations

import re
from typing import Any

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any) -> str:
    """``str(value)`` with every character XML 1.0 forbids replaced by a visible ``#xNN``."""
    return _NOT_XML.sub(lambda m: f"#x{ord(m[0]):02X}", str(value))
