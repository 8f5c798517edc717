"""Capabilities: how Retentio grows by plugging in, not by if-chains.

A capability (metrics, engagement, satisfaction, health, prediction, playbooks, ...) is one
package that declares, in one :class:`Capability` value, what it adds:

- ``cli``: the module whose import registers its Typer commands or command group on
  ``retentio.cli.main.app``;
- ``commands``: the top-level commands that module registers, each with its one-line help
  (the first paragraph of the command's help), in the order ``retentio --help`` lists them:
  the help is rendered from these and the module is imported only when one of its commands
  runs (a test checks they match the module's commands; a capability that leaves them out
  has its module imported for every command line);
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

__all__ = ["BUILTIN", "Capability", "all_capabilities", "cli_commands", "cli_modules", "service_method",
           "undeclared_cli_modules"]


@dataclass(frozen=True)
class Capability:
    name: str
    description: str
    cli: str | None = None
    commands: Mapping[str, str] = field(default_factory=dict)
    service: Mapping[str, str] = field(default_factory=dict)
    figures: str | None = None


# The capabilities shipped with Retentio, in the order their commands appear in --help.
# Each points at "module:ATTRIBUTE" holding its Capability; the core ones are declared here.
BUILTIN: tuple[Capability | str, ...] = (
    Capability("demo", "Demo book generator", cli="retentio.cli.demo_cmd", commands={
        "demo": "Generate a realistic, deterministic B2B SaaS customer book into a workspace."}),
    Capability("import", "Validated import of files", cli="retentio.cli.import_cmd", commands={
        "import": "Import one file into one entity: bad rows go to quarantine, nothing is lost.",
        "quarantine": "List quarantined rows: file, row number, column, value, reason and what to do."}),
    Capability("workspace", "Workspace lifecycle", cli="retentio.cli.workspace_cmd", commands={
        "init": "Create a workspace: settings (retentio.toml), analytics DuckDB file, app-state SQLite file.",
        "upgrade": "Bring a workspace made by an older Retentio to the current format, keeping its data.",
        "status": "Show what a workspace holds: rows per entity and quarantined rows.",
        "export": "Write every canonical table as Parquet, e.g. for a Spark cluster (workspace.spark_data_uri)."}),
    Capability("metrics", "Revenue and retention metrics (metrics.md §1-§8)", cli="retentio.cli.metrics_cmd",
               figures="retentio.metrics.registry", commands={
        "metrics": "Revenue and retention figures of a period: MRR, churn, NRR, GRR, LTV, CAC, CS metrics...",
        "movements": "Every account's MRR movement in the period, with the subscription lines behind it.",
        "explain": "How a figure was computed: formula, inputs, the value recomputed from them, top accounts.",
        "cohorts": "The cohort triangle: accounts by month (or quarter) of first payment, followed by age."}),
    Capability("engagement", "Engagement and adoption (metrics.md §9)", cli="retentio.cli.engagement_cmd",
               figures="retentio.engagement.registry", commands={
        "engagement": "Engagement and adoption: DAU/WAU/MAU, stickiness, adoption, lifecycle, CES, TTFV, "
                      "onboarding, trials."}),
    Capability("satisfaction", "NPS, CSAT, tickets, sentiment (metrics.md §10)", cli="retentio.cli.satisfaction_cmd",
               figures="retentio.satisfaction.registry", commands={
        "satisfaction": "Satisfaction: NPS, CSAT, support tickets, FR/EN text sentiment."}),
    Capability("analyze", "Analyses across figures", cli="retentio.cli.analyze_cmd", commands={
        "analyze": "Questions answered on your own data."}),
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
    if _plugins_may_exist():
        from importlib.metadata import entry_points

        for ep in entry_points(group="retentio.capabilities"):
            caps.append(ep.load())
    names = [c.name for c in caps]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"capabilities declared twice: {', '.join(sorted(dupes))}")
    return tuple(caps)


def _plugins_may_exist() -> bool:
    """Whether an installed distribution may declare a ``retentio.capabilities`` entry point:
    its entry_points.txt names the group.  A look at those small files on sys.path, so that
    the usual case (no plugin) does not pay for importing importlib.metadata (a third of
    the start-up budget of ``retentio --help``); when one does, importlib.metadata decides."""
    import os
    import sys

    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue  # a zip file, a missing folder: let importlib.metadata look
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(entry or ".", name, "entry_points.txt"), encoding="utf-8") as f:
                        if "retentio.capabilities" in f.read():
                            return True
                except OSError:
                    continue
        if entry and os.path.isfile(entry):
            return True  # a zip or egg on the path: not looked into here
    return False


def cli_modules() -> list[str]:
    return [c.cli for c in all_capabilities() if c.cli]


def cli_commands() -> dict[str, tuple[str, str]]:
    """{top-level command: (its CLI module, its one-line help)} as the capabilities declare
    them, in their order (nothing is imported but the capability declarations)."""
    out: dict[str, tuple[str, str]] = {}
    for cap in all_capabilities():
        for name, help in (cap.commands.items() if cap.cli else ()):
            if name in out:
                raise RuntimeError(f"command {name!r} declared by two capabilities")
            out[name] = (cap.cli, help)
    return out


def undeclared_cli_modules() -> list[str]:
    """CLI modules of capabilities that do not declare their commands (imported to list them)."""
    return [c.cli for c in all_capabilities() if c.cli and not c.commands]


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
