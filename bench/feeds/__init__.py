"""Benchmarks of feed destinations (Carslink): batching per window, and whole-stock feeds."""
