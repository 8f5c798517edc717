"""Retentio: Customer Success analytics you can check by hand.

The public Python API is small on purpose::

    from retentio import Workspace
    ws = Workspace("demo-workspace")
    ws.metrics("2024-03", by="industry")
"""

from retentio.errors import ConfigError, DataError, NotFound, RetentioError, UsageError

__version__ = "0.1.0"


def __getattr__(name: str):
    # The facade is imported on first use: ``import retentio`` (and ``retentio --help``) stay fast.
    if name == "Workspace":
        from retentio.service import Workspace

        return Workspace
    raise AttributeError(f"module 'retentio' has no attribute {name!r}")

__all__ = ["ConfigError", "DataError", "NotFound", "RetentioError", "UsageError", "Workspace", "__version__"]
