"""Fixtures for the CLI tests (defined in helpers.py, shared with the test modules)."""

from tests.cli.helpers import bracket  # noqa: F401 - pytest fixture
