"""An adapter module whose framework is installed but broken inside (see fake_adapters.CORRUPT)."""

import fake_corepkg  # noqa: F401
