"""Benchmarks: python -m app.bench.<name>. Each prints our method side by side with its baseline in one run."""
