"""Support shared by the tests and the benchmarks: isolated homes, sample data, independent yardsticks."""
