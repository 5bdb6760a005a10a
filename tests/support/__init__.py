"""Helpers shared by the test suite and the benchmarks (``bench/`` imports them too): process handling,
the manual clock and the Berlin office's business hours. Nothing here imports Django settings at import time
or pytest."""
