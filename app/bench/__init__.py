"""Benchmarks: documented commands that print numbers and ratios (`advisor bench ...`)."""
