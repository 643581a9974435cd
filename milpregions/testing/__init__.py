"""Networks with known region counts, for tests and benchmarks."""
