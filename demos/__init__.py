"""Runnable walk-throughs: ``python -m demos.NAME --help``."""
