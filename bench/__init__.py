"""Benchmarks: bench/run.py and the scripts it runs beside it."""
