"""Benchmarks that print figures (never timed asserts). Run them with ``make bench``."""
