"""Benchmarks kept with the project (run by hand, never as timed tests; results in docs/benchmarks.md)."""
