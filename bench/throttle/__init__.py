"""Forecourt benchmarks (see bench/README.md)."""
