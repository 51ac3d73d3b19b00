"""An adapter module whose framework needs a dependency that is not installed (see fake_adapters.NEEDS_DEP)."""

import no_such_dependency_of_the_framework  # noqa: F401
