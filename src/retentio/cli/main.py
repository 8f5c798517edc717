"""Entry point of the ``retentio`` command.

Exit codes: 0 ok, 1 data or workspace error, 2 usage error.  A user error prints one line
and a hint, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import importlib
import re
import sys
import types
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from retentio.cli.common import err_console

__all__ = ["app", "run"]


_LOADED: set[str] = set()  # CLI modules imported and built by LazyGroup


class LazyGroup(TyperGroup):
    """The root command group, lazy: the commands' names and one-line helps come from the
    capability declarations (retentio.capabilities), and a capability's CLI module is
    imported, and its commands built, only when one of its commands runs.  ``retentio
    --help`` imports no capability CLI module."""

    _listing = False

    def _load(self, module: str) -> None:
        """Import ``module`` (it registers its commands on ``app``) and build its commands."""
        if module in _LOADED:
            return
        importlib.import_module(module)
        _LOADED.add(module)
        for name, cmd in typer.main.get_group(app).commands.items():
            self.commands.setdefault(name, cmd)

    def _load_undeclared(self) -> None:
        from retentio.capabilities import undeclared_cli_modules

        for module in undeclared_cli_modules():  # a plugin that does not declare its commands
            self._load(module)

    def list_commands(self, ctx: Any) -> list[str]:
        from retentio.capabilities import cli_commands

        self._load_undeclared()
        declared = cli_commands()
        return [*declared, *(name for name in self.commands if name not in declared)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        from retentio.capabilities import cli_commands

        cmd = self.commands.get(cmd_name)
        if cmd is not None:
            return cmd
        declared = cli_commands().get(cmd_name)
        if declared is None:
            self._load_undeclared()
            return self.commands.get(cmd_name)
        module, help = declared
        if self._listing:  # the help lists it: its declared line is enough
            return typer.core.TyperCommand(name=cmd_name, help=help)
        self._load(module)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _import_rich_utils_lightly()
        self._listing = True
        try:
            return super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        # Typer suggests close names from the built commands only; here, from every declared one.
        try:
            return self._click_resolve_command(ctx, args)
        except typer._click.exceptions.UsageError as e:
            if self.suggest_commands and args:
                from difflib import get_close_matches

                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    e.message = e.message.rstrip(".") + ". Did you mean " + ", ".join(f"{m!r}" for m in matches) + "?"
            raise


class _Deferred(type):
    """Metaclass of a stand-in class: attributes and calls go to the real class, imported then."""

    def _real(cls) -> Any:
        return getattr(importlib.import_module(cls._module), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls._real(), name)


def _import_rich_utils_lightly() -> None:
    """Import typer.rich_utils (Typer's help renderer) without rich.markdown and rich.traceback.

    It imports them at its top for Markdown help and pretty tracebacks, which Retentio does
    not use (rich markup, pretty exceptions off), and they cost about 0.1 s — a third of the
    0.3 s that ``retentio --help`` may take.  While it is imported, those two modules are
    stand-ins whose ``Markdown`` / ``Traceback`` import the real class on first use; the
    stand-ins are removed right after, so any later import gets the real modules."""
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {}
    for module, cls_name in (("rich.markdown", "Markdown"), ("rich.traceback", "Traceback")):
        if module not in sys.modules:
            mod = types.ModuleType(module)
            setattr(mod, cls_name, _Deferred(cls_name, (), {"_module": module}))
            stand_ins[module] = mod
    sys.modules.update(stand_ins)
    try:
        import typer.rich_utils  # noqa: F401
    finally:
        for module, mod in stand_ins.items():
            if sys.modules.get(module) is mod:
                del sys.modules[module]


app = typer.Typer(
    cls=LazyGroup,
    name="retentio",
    help=(
        "Customer Success analytics you can check by hand: MRR, churn, NRR, GRR, LTV, cohorts, "
        "engagement and satisfaction, explained down to the account.\n\n"
        "Start with:  retentio demo --workspace demo-workspace  then  retentio metrics --workspace demo-workspace --period last"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("retentio")
        except PackageNotFoundError:  # running from a source tree
            v = "unknown (not installed)"
        typer.echo(f"retentio {v}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors, and the engines' logs.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version,
                                          is_eager=True)] = False,
) -> None:
    import os

    # Spark logs at WARN (set when its session starts) unless --debug.
    os.environ.setdefault("RETENTIO_SPARK_LOG_LEVEL", "INFO" if debug else "WARN")


# Errors speak of parameters (retentio.errors); the command line speaks of flags.
FLAGS = {"by": "--by", "filters": "--filter", "segment": "--segment", "limit": "--limit", "sort": "--sort", "top": "--top",
         "months": "--months", "period": "--period", "as_of": "--as-of", "kind": "--as", "accounts": "--accounts",
         "base_currency": "--base-currency", "engine": "--engine", "metric": "METRIC", "backend": "--backend",
         "force": "--force", "mapping": "--mapping", "action_id": "--action", "all_dead": "--all-dead"}


def _flagged(text: str) -> str:
    """'by 'x': ...' -> '--by 'x': ...' (a message that starts with a parameter's name);
    'force=True' -> '--force', 'kind=csv' -> '--as csv'."""
    head, sep, rest = text.partition(" ")
    if head in FLAGS and sep:
        return f"{FLAGS[head]} {rest}"
    for param, flag in FLAGS.items():
        text = re.sub(rf"\b{param}=True\b", flag, text)
        text = re.sub(rf"\b{param}=(?=[^\s,)])", f"{flag} ", text)
        text = text.replace(f"pass {param} ", f"pass {flag} ")
    return text


def _load_commands() -> None:
    """Import every capability's CLI module (each registers its commands on ``app`` when
    imported; retentio.capabilities lists them): for tests and the CLI reference.  The
    command line itself imports one only when one of its commands runs (LazyGroup)."""
    from retentio.capabilities import cli_modules

    for name in cli_modules():
        importlib.import_module(name)


def run() -> None:
    """Console-script entry: run the app, turning RetentioError into one line + exit code."""
    from retentio.errors import RetentioError

    debug = "--debug" in sys.argv
    if "--help" in sys.argv or len(sys.argv) == 1:
        _import_rich_utils_lightly()
    try:
        app(standalone_mode=False)
    except RetentioError as exc:
        if debug:
            raise
        from rich.markup import escape

        err_console.print(f"[bold red]error:[/] {escape(_flagged(exc.message))}", highlight=False, soft_wrap=True)
        if exc.hint:
            err_console.print(f"[yellow]hint:[/] {escape(_flagged(exc.hint))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except Exception as exc:  # usage errors of the command line, and the unexpected
        # Typer 0.29 bundles its own click; its usage errors are TyperException with show().
        show = getattr(exc, "show", None)
        if isinstance(exc, typer.TyperException) and callable(show):
            show()
            sys.exit(getattr(exc, "exit_code", 2))
        if debug:
            raise
        err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False)
        err_console.print("[yellow]hint:[/] re-run with --debug for the traceback and report it", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    # ``python -m retentio.cli.main``: the commands register on retentio.cli.main.app, not on
    # this __main__ module's copy of it.
    from retentio.cli.main import run as _run

    _run()
