"""Capabilities: how Retentio grows by plugging in, not by if-chains.

A capability (metrics, engagement, satisfaction, health, prediction, playbooks, ...) is one
package that declares, in one :class:`Capability` value, what it adds:

- ``cli``: the module whose import registers its Typer commands or command group on
  ``retentio.cli.main.app``;
- ``service``: the methods it adds to the service facade :class:`retentio.service.Workspace`,
  as ``{"method_name": "module:function"}``; the function is called as
  ``function(workspace, *args, **kwargs)``, so ``ws.health_scores(as_of=...)`` calls
  ``retentio.health.service:health_scores(ws, as_of=...)``;
- ``figures``: the module whose import registers its figures in the metric registry.

Declarations are plain strings so that listing capabilities imports nothing heavy: the
module behind a service method is imported the first time that method is called, which keeps
``retentio --help`` fast.  The built-in capabilities are listed in :data:`BUILTIN`; other
packages add theirs through the ``retentio.capabilities`` entry-point group (each entry
point names a ``Capability`` object).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

__all__ = ["BUILTIN", "Capability", "all_capabilities", "cli_modules", "service_method"]


@dataclass(frozen=True)
class Capability:
    name: str
    description: str
    cli: str | None = None
    service: Mapping[str, str] = field(default_factory=dict)
    figures: str | None = None


# The capabilities shipped with Retentio, in the order their commands appear in --help.
# Each points at "module:ATTRIBUTE" holding its Capability; the core ones are declared here.
BUILTIN: tuple[Capability | str, ...] = (
    Capability("demo", "Demo book generator", cli="retentio.cli.demo_cmd"),
    Capability("import", "Validated import of files", cli="retentio.cli.import_cmd"),
    Capability("workspace", "Workspace lifecycle", cli="retentio.cli.workspace_cmd"),
    Capability("metrics", "Revenue and retention metrics (metrics.md §1-§8)", cli="retentio.cli.metrics_cmd",
               figures="retentio.metrics.registry"),
    Capability("engagement", "Engagement and adoption (metrics.md §9)", cli="retentio.cli.engagement_cmd",
               figures="retentio.engagement.registry"),
    Capability("satisfaction", "NPS, CSAT, tickets, sentiment (metrics.md §10)", cli="retentio.cli.satisfaction_cmd",
               figures="retentio.satisfaction.registry"),
    Capability("analyze", "Analyses across figures", cli="retentio.cli.analyze_cmd"),
    "retentio.health.capability:CAPABILITY",
    "retentio.predict.capability:CAPABILITY",
    "retentio.playbooks.capability:CAPABILITY",
    "retentio.app.capability:CAPABILITY",
)


def _load(ref: Capability | str) -> Capability:
    if isinstance(ref, Capability):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr or "CAPABILITY")


@cache
def all_capabilities() -> tuple[Capability, ...]:
    """Built-in capabilities, then those of installed plugins (entry points)."""
    caps = [_load(ref) for ref in BUILTIN]
    from importlib.metadata import entry_points

    for ep in entry_points(group="retentio.capabilities"):
        caps.append(ep.load())
    names = [c.name for c in caps]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"capabilities declared twice: {', '.join(sorted(dupes))}")
    return tuple(caps)


def cli_modules() -> list[str]:
    return [c.cli for c in all_capabilities() if c.cli]


@cache
def _service_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for cap in all_capabilities():
        for method, target in cap.service.items():
            if method in index:
                raise RuntimeError(f"service method {method!r} declared by two capabilities")
            index[method] = target
    return index


def service_methods() -> list[str]:
    return sorted(_service_index())


def service_method(name: str) -> Callable[..., Any] | None:
    """The function behind facade method ``name`` (imported now), or None."""
    target = _service_index().get(name)
    if target is None:
        return None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
