"""Fixtures for the loop conformance suite: see ``conformance.py`` beside this file."""

from conformance import _hard_timeout, loop, loop_factory, loop_name  # noqa: F401
