"""Helpers the test suite shares (importable as ``tests.helpers.<module>``); conftest files
hold only fixtures and hooks."""
