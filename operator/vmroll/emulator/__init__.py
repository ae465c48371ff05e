"""A local ARM-compatible Azure emulator over HTTPS, for development, demos, tests, benchmarks."""
