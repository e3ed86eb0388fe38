"""Fixtures of the browser tests (defined in browserbook.py, which the tests import too)."""
from browserbook import base_url, browser, pytest_sessionstart, visit
