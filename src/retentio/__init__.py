"""Retentio: Customer Success analytics you can check by hand.

The public Python API is small on purpose::

    from retentio import Workspace
    ws = Workspace("demo-workspace")
    ws.metrics("2024-03", by="industry")
"""

from retentio.errors import ConfigError, DataError, NotFound, RetentioError, UsageError
from retentio.service import Workspace

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "NotFound", "RetentioError", "UsageError", "Workspace", "__version__"]
