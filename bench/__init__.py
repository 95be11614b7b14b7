"""Benchmarks of the backend: `python -m bench` (or `make bench`) prints every figure.

The figures are those of docs/performance.md. Each is measured against a floor taken in the
same run and printed as a ratio with its median and spread. Nothing here is part of
`make test`; tests/unit/test_bench_smoke.py runs the counting parts on tiny inputs.
"""
