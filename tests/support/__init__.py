"""Helpers shared by the tests and the benchmarks: file factories, real servers, nginx."""
