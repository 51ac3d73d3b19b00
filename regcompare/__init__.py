"""regcompare: does every framework regularize the way you think it does?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("regcompare")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
