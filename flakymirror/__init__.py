"""flakymirror: a test harness that simulates flaky OCI/Docker registry mirrors."""

__version__ = "0.1.0"
