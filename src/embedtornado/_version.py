"""The package version (read by setup.py without importing the package)."""

__version__ = "0.1.0"
#: The Tornado release whose API and behaviour this release follows.
TORNADO_API_VERSION = "6.6.1"
