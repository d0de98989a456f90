"""Micro-benchmarks (pytest-benchmark): opt-in, see conftest.py."""
