"""The library suite's fixtures and service markers (tests/conftest.py), for the demo's tests."""

from tests.conftest import *  # noqa: F403
