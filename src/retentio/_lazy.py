"""Packages whose public names are imported on first use.

A capability package (``retentio.metrics``, ``retentio.engagement``, ``retentio.satisfaction``)
holds both its light figure registry (``<package>.registry``, read to format a table) and its
computations (narwhals, engines).  Importing the registry runs the package's ``__init__``, so
the ``__init__`` must not import the computations: :func:`lazy_exports` turns its public
names into properties of the module that import their target when first read.

Properties rather than a module ``__getattr__``: several public names are also the names of
submodules (``retentio.metrics.cohorts`` the function and the module); importing the submodule
later must not replace the function on the package, and a property's (ignoring) setter keeps it.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str]) -> None:
    """Make each ``exports[name] = "module:attribute"`` a lazily imported attribute of ``package``."""
    module = sys.modules[package]
    resolved: dict[str, Any] = {}

    def make(name: str, target: str) -> property:
        mod_name, _, attr = target.partition(":")

        def get(self: types.ModuleType) -> Any:
            if name not in resolved:
                resolved[name] = getattr(importlib.import_module(mod_name), attr or name)
            return resolved[name]

        def set_(self: types.ModuleType, value: Any) -> None:
            # The import system sets a submodule of the same name here: the export wins (as
            # when the package imported everything eagerly); anything else replaces it.
            if not (isinstance(value, types.ModuleType) and value.__name__ == f"{package}.{name}"):
                resolved[name] = value

        return property(get, set_)

    cls = type(f"LazyPackage[{package}]", (types.ModuleType,),
               {name: make(name, target) for name, target in exports.items()})
    module.__class__ = cls
    module.__dir__ = lambda: sorted(set(vars(module)) | set(exports))  # type: ignore[method-assign]
