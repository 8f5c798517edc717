"""Alembic environment and revisions of the application-state database (see retentio.store)."""
