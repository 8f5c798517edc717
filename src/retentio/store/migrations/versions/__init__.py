"""Alembic revisions, oldest first by ``down_revision``; file names start with the revision number."""
