"""An installed framework whose compiled core is missing: the package is there, its import fails inside it."""

import fake_corepkg._core  # noqa: F401 — there is no _core: ModuleNotFoundError for 'fake_corepkg._core'
