"""Fixtures of the playbook tests (the book and the workspace stand-in are in pb_book.py)."""

from pb_book import make_ws, pg_url, ws  # noqa: F401
