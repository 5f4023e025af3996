"""Readable pure-Python twins of the compiled modules in ``embedtornado._speedups``."""
