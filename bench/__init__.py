"""Benchmarks of the backend (issue 7): `python -m bench` (or `make bench`) prints every figure.

Each figure is measured against a floor taken in the same run and printed as a ratio with its
median and spread. Nothing here is part of `make test`; tests/unit/test_bench_smoke.py runs the
counting parts on tiny inputs.
"""
