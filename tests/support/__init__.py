"""Helpers shared by the test suite and the benchmarks (``bench/`` imports them too): process handling and
the manual clock. Nothing here imports Django settings at import time or pytest."""
