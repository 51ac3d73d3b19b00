"""A framework whose import fails (as a framework with a missing shared library would)."""

raise ImportError("libfakeframework.so: cannot open shared object file")
