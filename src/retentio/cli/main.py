"""Entry point of the ``retentio`` command.

Exit codes: 0 ok, 1 data or workspace error, 2 usage error.  A user error prints one line
and a hint, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from retentio.cli.common import err_console

__all__ = ["app", "run"]

app = typer.Typer(
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
FLAGS = {"by": "--by", "filters": "--filter", "segment": "--segment", "limit": "--limit", "top": "--top",
         "months": "--months", "period": "--period", "as_of": "--as-of", "kind": "--as", "accounts": "--accounts",
         "base_currency": "--base-currency", "engine": "--engine", "metric": "METRIC", "backend": "--backend"}


def _flagged(text: str) -> str:
    """'by 'x': ...' -> '--by 'x': ...' (a message that starts with a parameter's name)."""
    head, sep, rest = text.partition(" ")
    if head in FLAGS and sep:
        return f"{FLAGS[head]} {rest}"
    for param, flag in FLAGS.items():
        text = text.replace(f"{param}=", f"{flag} ").replace(f"pass {param} ", f"pass {flag} ")
    return text


def _load_commands() -> None:
    # Each capability's CLI module registers its commands on ``app`` when imported
    # (retentio.capabilities lists them; add a capability there, not here).
    from retentio.capabilities import cli_modules

    for name in cli_modules():
        importlib.import_module(name)


def run() -> None:
    """Console-script entry: run the app, turning RetentioError into one line + exit code."""
    from retentio.errors import RetentioError

    _load_commands()
    debug = "--debug" in sys.argv
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
    run()
