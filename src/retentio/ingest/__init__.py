"""Import one file into one canonical entity, atomically, losing and inventing nothing.

The pipeline lives in :mod:`retentio.ingest.pipeline`; this package's face exposes what the
service uses (``import_file``, ``ImportReport``) and the constants the docs and tests read.
"""

from retentio.ingest.pipeline import BATCH_ROWS, KINDS, REASONS, ImportReport, import_file

__all__ = ["BATCH_ROWS", "KINDS", "REASONS", "ImportReport", "import_file"]
